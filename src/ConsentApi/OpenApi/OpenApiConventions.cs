using ConsentApi.Auth;
using ConsentApi.Http;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace ConsentApi.OpenApi;

/// <summary>
/// What every operation shares: who may call it (security and 401/403), the rate limit (429 and
/// the RateLimit headers), CORS, and that all errors are RFC 9457 problems.
/// </summary>
public sealed class OpenApiConventions : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
        var anonymous = metadata.OfType<IAllowAnonymous>().Any();
        operation.Responses ??= new OpenApiResponses();

        if (!anonymous)
        {
            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SwaggerSetup.ApiKeyScheme, context.Document)] = [] },
            ];
            AddProblem(operation, context, "401", "No credential, or one that is unknown or revoked.");
            if (metadata.OfType<IAuthorizeData>().Any(a => a.Policy == Roles.AdminPolicy) || !metadata.OfType<IAuthorizeData>().Any())
            {
                AddProblem(operation, context, "403", "The credential's role may not use this operation (admin only).");
            }
            else
            {
                AddProblem(operation, context, "403", "The credential's role may not use this operation.");
            }
        }

        if (context.ApiDescription.ParameterDescriptions.Any(p => p.Source.Id is "Body"))
        {
            AddProblem(operation, context, "400", "The body is malformed, has a wrong type, an unknown field, or breaks a rule; `errors` names each field.");
            AddProblem(operation, context, "413", "The body is larger than the server accepts.");
            AddProblem(operation, context, "415", "The body is not application/json.");
        }
        else if (context.ApiDescription.ParameterDescriptions.Any(p => p.Source.Id is "Query" or "Path"))
        {
            AddProblem(operation, context, "400", "A parameter is not valid; `errors` names it.");
        }

        AddProblem(operation, context, "429", "Too many requests for this credential; retry after `Retry-After` seconds.");
        AddProblem(operation, context, "500", "An unexpected error; nothing of the request was stored.");

        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse r)
            {
                continue;
            }

            r.Headers ??= new Dictionary<string, IOpenApiHeader>();
            if (status.StartsWith('2') || status.StartsWith('4'))
            {
                r.Headers[RateLimiting.LimitHeader] = IntegerHeader("Requests allowed per window for this credential.");
                r.Headers[RateLimiting.RemainingHeader] = IntegerHeader("Requests left in the current window.");
                r.Headers[RateLimiting.ResetHeader] = IntegerHeader("Seconds until the current window ends.");
            }

            if (status == "429")
            {
                r.Headers["Retry-After"] = IntegerHeader("Seconds to wait before retrying.");
            }

            r.Headers["Access-Control-Allow-Origin"] = new OpenApiHeader
            {
                Description = "Sent to browsers whose Origin is listed in Cors:AllowedOrigins.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 2048, Format = "uri" },
            };
        }
    }

    private static void AddProblem(OpenApiOperation operation, OperationFilterContext context, string status, string description)
    {
        if (operation.Responses!.ContainsKey(status))
        {
            return;
        }

        var schema = context.SchemaGenerator.GenerateSchema(typeof(HttpValidationProblemDetails), context.SchemaRepository);
        operation.Responses[status] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = schema } },
        };
    }

    private static OpenApiHeader IntegerHeader(string description) => new()
    {
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "0", Maximum = int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture) },
    };
}
