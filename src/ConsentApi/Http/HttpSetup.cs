using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Serilog;
using Serilog.Events;

namespace ConsentApi.Http;

/// <summary>Cross-cutting HTTP: problems for every error, strict JSON, body limits, CORS, request logging.</summary>
public static class HttpSetup
{
    /// <summary>The largest request body accepted; larger ones are refused with 413.</summary>
    public const long MaxRequestBodyBytes = 256 * 1024;

    public const string CorsPolicy = "front-ends";

    public static WebApplicationBuilder AddConsentHttp(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });

        builder.Services.AddStrictJson();
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            var status = problem.Status ?? context.HttpContext.Response.StatusCode;
            if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org", StringComparison.Ordinal)
                                     || problem.Type.StartsWith("https://datatracker.ietf.org", StringComparison.Ordinal))
            {
                problem.Type = ProblemTypes.ForStatus(status);
            }

            // Body-level refusals name the part of the request at fault, like every other 4xx.
            if (status is StatusCodes.Status413PayloadTooLarge or StatusCodes.Status415UnsupportedMediaType
                && problem is not HttpValidationProblemDetails && !problem.Extensions.ContainsKey("errors"))
            {
                problem.Extensions["errors"] = status == StatusCodes.Status413PayloadTooLarge
                    ? new Dictionary<string, string[]> { ["body"] = [$"The body must be at most {MaxRequestBodyBytes} bytes."] }
                    : new Dictionary<string, string[]> { ["Content-Type"] = ["Send the body as application/json."] };
            }

            problem.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
        });

        var origins = builder.Configuration.GetSection("Cors:AllowedOrigins").Get<string[]>() ?? [];
        builder.Services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy => policy
            .WithOrigins(origins)
            .WithHeaders("Content-Type", "Authorization", "X-Api-Key", "Idempotency-Key", "If-Match", "Sec-GPC")
            .WithMethods("GET", "POST", "PUT", "DELETE")
            .WithExposedHeaders("ETag", "Location", "Retry-After", RateLimiting.LimitHeader, RateLimiting.RemainingHeader,
                RateLimiting.ResetHeader, "Idempotent-Replayed")));

        // Sinks come from configuration (Serilog:WriteTo), from the container (any registered ILogEventSink), and the console.
        builder.Services.AddSerilog((services, logger) => logger
            .ReadFrom.Configuration(builder.Configuration)
            .ReadFrom.Services(services)
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.EntityFrameworkCore", LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .Enrich.With<WithoutRequestPath>()
            .WriteTo.Console(new Serilog.Formatting.Compact.RenderedCompactJsonFormatter()));
        CachingLoggerFactory.Register(builder.Services);
        return builder;
    }

    public static WebApplication UseConsentHttp(this WebApplication app)
    {
        // Outermost, so that the line reports the status the client was sent: the exception handler
        // below turns bad bodies into 400s and a vanished client into 499, and neither is a 500.
        app.UseSerilogRequestLogging(options =>
        {
            // This app's own logger, not Serilog's static one (the last app started in a process owns that).
            options.Logger = app.Services.GetRequiredService<Serilog.ILogger>();
            // One line per request with the route template, never the path: paths hold customer ids.
            options.MessageTemplate = "HTTP {RequestMethod} {RouteTemplate} responded {StatusCode} in {Elapsed:0.0} ms";
            options.GetMessageTemplateProperties = (context, _, elapsed, status) =>
            [
                new LogEventProperty("RequestMethod", new ScalarValue(context.Request.Method)),
                new LogEventProperty("RouteTemplate", new ScalarValue(RouteTemplate(context))),
                new LogEventProperty("StatusCode", new ScalarValue(status)),
                new LogEventProperty("Elapsed", new ScalarValue(elapsed)),
            ];
        });
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Without allowed origins there is nothing to allow: browsers refuse cross-origin calls anyway,
        // and no request pays for the middleware.
        if (app.Configuration.GetSection("Cors:AllowedOrigins").Get<string[]>() is { Length: > 0 })
        {
            app.UseCors(CorsPolicy);
        }

        return app;
    }

    // The exception handler clears the endpoint before it answers; it keeps the original one in its feature.
    private static string RouteTemplate(HttpContext context) =>
        ((context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint) as RouteEndpoint)?.RoutePattern.RawText
        ?? "(no route)";
}

/// <summary>
/// ASP.NET Core puts the request path into every log event's scope; paths hold customer ids, so the
/// property is dropped (the request log line carries the route template instead).
/// </summary>
internal sealed class WithoutRequestPath : Serilog.Core.ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, Serilog.Core.ILogEventPropertyFactory propertyFactory) =>
        logEvent.RemovePropertyIfPresent("RequestPath");
}
