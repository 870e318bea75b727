using System.Reflection;
using ConsentApi.Auth;
using Microsoft.OpenApi;

namespace ConsentApi.OpenApi;

public static class SwaggerSetup
{
    public const string ApiKeyScheme = "ApiKey";

    public static IServiceCollection AddConsentSwagger(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "ConsentApi",
                Version = "v1",
                Description = """
                    The system of record for customer consent: a transparency notice of purposes, an append-only,
                    hash-chained consent ledger per customer, and receipts. Authorize with an `X-Api-Key`
                    (admin or service). Errors are RFC 9457 problems; bodies are strict JSON.
                    """,
                License = new OpenApiLicense { Name = "Proprietary" },
            });
            options.IncludeXmlComments(Path.Combine(AppContext.BaseDirectory, $"{Assembly.GetExecutingAssembly().GetName().Name}.xml"), includeControllerXmlComments: true);
            options.SupportNonNullableReferenceTypes();
            options.NonNullableReferenceTypesAsRequired();
            options.AddSecurityDefinition(ApiKeyScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyAuthenticationHandler.HeaderName,
                Description = "An admin or service API key. The bootstrap admin key comes from Auth:BootstrapAdminKey; POST /api/v1/api-keys issues more.",
            });
            options.SchemaFilter<FluentValidationSchemaFilter>();
            options.OperationFilter<OpenApiConventions>();
            options.OperationFilter<KantaraReceiptFilter>();
            options.DocumentFilter<PublishedLimitsFilter>();
            options.CustomSchemaIds(type => type.IsGenericType
                ? type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)] + "Of" + string.Concat(type.GetGenericArguments().Select(t => t.Name))
                : type.Name);
        });
        return services;
    }

    /// <summary>The document and the UI under <c>/swagger</c>, open to anyone (they describe, they hold no data).</summary>
    /// <remarks>A branch taken only for <c>/swagger</c> paths, so the API's own requests skip both middlewares.</remarks>
    public static WebApplication UseConsentSwagger(this WebApplication app)
    {
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/swagger", StringComparison.OrdinalIgnoreCase), swagger =>
        {
            swagger.UseSwagger();
            swagger.UseSwaggerUI(options =>
            {
                options.SwaggerEndpoint("/swagger/v1/swagger.json", "ConsentApi v1");
                options.RoutePrefix = "swagger";
                options.DocumentTitle = "ConsentApi";
                options.EnablePersistAuthorization();
            });
        });
        return app;
    }
}
