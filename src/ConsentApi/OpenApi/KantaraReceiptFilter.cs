using ConsentApi.Consents;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace ConsentApi.OpenApi;

/// <summary>
/// The receipt answers two bodies with 200, and ApiExplorer keeps one type per status; this adds
/// the Kantara one under its media type, beside this API's receipt under application/json.
/// </summary>
public sealed class KantaraReceiptFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId != "GetReceipt" || operation.Responses?.TryGetValue("200", out var ok) != true || ok is not OpenApiResponse response)
        {
            return;
        }

        response.Content ??= new Dictionary<string, OpenApiMediaType>();
        response.Content[KantaraReceipt.MediaType] = new OpenApiMediaType
        {
            Schema = context.SchemaGenerator.GenerateSchema(typeof(KantaraReceipt), context.SchemaRepository),
        };
    }
}
