using System.Globalization;
using System.Threading.RateLimiting;
using ConsentApi.Auth;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Caching.Memory;

namespace ConsentApi.Http;

/// <summary><c>RateLimiting:PermitLimit</c> requests per <c>RateLimiting:WindowSeconds</c>, per credential (per address when anonymous).</summary>
public sealed class RateLimitSettings
{
    public int PermitLimit { get; set; } = 1200;
    public int WindowSeconds { get; set; } = 60;
}

/// <summary>
/// Per-credential rate limiting with the ASP.NET Core rate limiter (a fixed window per partition),
/// and the <c>RateLimit-Limit</c> / <c>RateLimit-Remaining</c> / <c>RateLimit-Reset</c> headers on
/// every limited answer, read from the very limiter that decides.
/// </summary>
public static class RateLimiting
{
    public const string LimitHeader = "RateLimit-Limit";
    public const string RemainingHeader = "RateLimit-Remaining";
    public const string ResetHeader = "RateLimit-Reset";

    public static WebApplicationBuilder AddConsentRateLimiting(this WebApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection("RateLimiting").Get<RateLimitSettings>() ?? new RateLimitSettings();
        if (settings.PermitLimit < 1 || settings.WindowSeconds < 1)
        {
            throw new InvalidOperationException("RateLimiting:PermitLimit and RateLimiting:WindowSeconds must be at least 1.");
        }

        var windows = new RateLimitWindows(settings);
        builder.Services.AddSingleton(windows);
        builder.Services.AddRateLimiter(options =>
        {
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                RateLimitPartition.Get(PartitionKey(context), windows.Create));
            options.OnRejected = async (rejected, cancellationToken) =>
            {
                var http = rejected.HttpContext;
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
                    ? (int)Math.Ceiling(wait.TotalSeconds)
                    : settings.WindowSeconds;
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                windows.WriteHeaders(http, PartitionKey(http));
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Type = ProblemTypes.RateLimited,
                        Title = "Too many requests",
                        Detail = $"This credential may make {settings.PermitLimit} requests per {settings.WindowSeconds} s; retry after {retryAfter} s.",
                    },
                });
            };
        });
        return builder;
    }

    /// <summary>Rate limiting, then the headers that tell the client where it stands.</summary>
    public static IApplicationBuilder UseConsentRateLimiting(this IApplicationBuilder app)
    {
        app.UseRateLimiter();
        return app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<DisableRateLimitingAttribute>() is null)
            {
                context.RequestServices.GetRequiredService<RateLimitWindows>().WriteHeaders(context, PartitionKey(context));
            }

            await next(context);
        });
    }

    /// <summary>A credential is one partition; anonymous callers are partitioned by address.</summary>
    private static string PartitionKey(HttpContext context) =>
        context.User.FindFirst(Roles.KeyIdClaim)?.Value is { } keyId
            ? "key:" + keyId
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
}

/// <summary>
/// The limiter of each partition, kept where the header middleware can read its statistics. The
/// rate limiter owns and disposes the limiters; this only remembers them while they are in use.
/// </summary>
public sealed class RateLimitWindows(RateLimitSettings settings) : IDisposable
{
    private readonly MemoryCache _windows = new(new MemoryCacheOptions());
    private readonly TimeSpan _window = TimeSpan.FromSeconds(settings.WindowSeconds);

    private sealed record Window(FixedWindowRateLimiter Limiter, long StartedAt);

    public RateLimiter Create(string partitionKey)
    {
        // AutoReplenishment gives each limiter its own timer, so windows start at StartedAt + k·Window exactly.
        var limiter = new FixedWindowRateLimiter(new FixedWindowRateLimiterOptions
        {
            PermitLimit = settings.PermitLimit,
            Window = _window,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
        _windows.Set(partitionKey, new Window(limiter, Environment.TickCount64),
            new MemoryCacheEntryOptions { SlidingExpiration = _window + TimeSpan.FromMinutes(1) });
        return limiter;
    }

    public void WriteHeaders(HttpContext context, string partitionKey)
    {
        if (!_windows.TryGetValue(partitionKey, out Window? window) || window is null)
        {
            return;
        }

        long remaining;
        try
        {
            remaining = window.Limiter.GetStatistics()?.CurrentAvailablePermits ?? 0;
        }
        catch (ObjectDisposedException)
        {
            return; // idle limiter already dropped by the rate limiter; a new one is made on the next request
        }

        var windowMs = (long)_window.TotalMilliseconds;
        var elapsed = (Environment.TickCount64 - window.StartedAt) % windowMs;
        var resetSeconds = (long)Math.Ceiling((windowMs - elapsed) / 1000.0);
        var headers = context.Response.Headers;
        headers[RateLimiting.LimitHeader] = settings.PermitLimit.ToString(CultureInfo.InvariantCulture);
        headers[RateLimiting.RemainingHeader] = remaining.ToString(CultureInfo.InvariantCulture);
        headers[RateLimiting.ResetHeader] = resetSeconds.ToString(CultureInfo.InvariantCulture);
    }

    public void Dispose() => _windows.Dispose();
}
