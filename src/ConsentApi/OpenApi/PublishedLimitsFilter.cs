using System.Globalization;
using ConsentApi.Collection;
using ConsentApi.Consents;
using ConsentApi.Http;
using ConsentApi.Purposes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace ConsentApi.OpenApi;

/// <summary>
/// States a limit on every string, integer and list of the document, so that clients can size
/// buffers and linters can check them. Request bodies already carry the limits their validators
/// enforce (<see cref="FluentValidationSchemaFilter"/>); this fills in the rest from one table,
/// because in this API a field name means the same thing wherever it appears. Formats bring
/// their own limits (a UUID is 36 characters, a timestamp at most 35).
/// </summary>
public sealed class PublishedLimitsFilter : IDocumentFilter
{
    private static readonly Dictionary<string, int> StringLimits = new()
    {
        ["customerId"] = ValidationRules.CustomerIdMaxLength,
        ["key"] = 64, ["purpose"] = 64, ["purposeKey"] = 64,
        ["hash"] = 64, ["previousHash"] = 64,
        ["name"] = PurposeLimits.NameMaxLength,
        ["description"] = PurposeLimits.DescriptionMaxLength,
        ["collectionPoint"] = SaveConsentsValidator.CollectionPointMaxLength,
        ["reason"] = 500, ["prefix"] = 16, ["status"] = 16,
        ["nextCursor"] = 512, ["cursor"] = 512,
        ["Idempotency-Key"] = ConsentLedger.IdempotencyKeyMaxLength,
        ["If-Match"] = 200,
        ["format"] = 32, ["dpvNamespace"] = 64,
        // Kantara Consent Receipt v1.1
        ["version"] = 32, ["jurisdiction"] = 100, ["language"] = 16, ["collectionMethod"] = 128,
        ["consentReceiptID"] = 36, ["piiPrincipalId"] = ValidationRules.CustomerIdMaxLength, ["policyUrl"] = 2048,
        ["publicKey"] = 4096, ["service"] = 200, ["piiController"] = 200, ["contact"] = 200, ["address"] = 500,
        ["email"] = 254, ["phone"] = 50, ["piiControllerUrl"] = 2048, ["consentType"] = 16,
        ["purposeTermination"] = 1000, ["thirdPartyName"] = 10_000,
        ["piiCategory[]"] = PurposeLimits.CategoryDescriptionMaxLength, ["purposeCategory[]"] = 64,
        ["spiCat[]"] = PurposeLimits.CategoryDescriptionMaxLength,
        // problem details (RFC 9457)
        ["type"] = 2048, ["title"] = 200, ["detail"] = 2000, ["instance"] = 2048, ["traceId"] = 64,
    };

    private static readonly Dictionary<string, (long Min, long Max)> IntegerLimits = new()
    {
        ["version"] = (1, int.MaxValue), ["purposeVersion"] = (1, int.MaxValue), ["currentVersion"] = (1, int.MaxValue),
        ["retentionDays"] = (1, PurposeLimits.MaxRetentionDays),
        ["consentLifetimeDays"] = (1, PurposeLimits.MaxConsentLifetimeDays),
        ["sequence"] = (1, long.MaxValue), ["events"] = (0, long.MaxValue),
        ["limit"] = (1, Paging.MaxLimit),
        ["status"] = (400, 599),
        ["recordCount"] = (0, int.MaxValue),
        ["consentTimestamp"] = (0, long.MaxValue),
    };

    private static readonly Dictionary<string, int> ListLimits = new()
    {
        ["dataCategories"] = PurposeLimits.MaxDataCategories,
        ["recipients"] = PurposeLimits.MaxRecipients,
        ["decisions"] = SaveConsentsValidator.MaxDecisions,
        ["items"] = Paging.MaxLimit,
        ["results"] = ConsentChecksValidator.MaxChecks,
        ["fields"] = CollectDataValidator.MaxFields,
        // Customer 360 and export (bounded by the queries that fill them)
        ["purposes"] = Customers.CustomerEndpoints.MaxItems, ["history"] = Customers.CustomerEndpoints.MaxItems,
        ["deletions"] = Customers.CustomerEndpoints.MaxItems, ["records"] = Customers.CustomerEndpoints.MaxItems,
        ["data"] = Customers.CustomerEndpoints.MaxItems, ["receipts"] = Customers.CustomerEndpoints.MaxItems,
        ["dpvStatuses"] = Customers.CustomerEndpoints.MaxItems, ["breaches"] = Customers.CustomerEndpoints.MaxItems,
        // Kantara Consent Receipt v1.1: one controller and service; a purpose per decision
        ["piiControllers"] = 1, ["services"] = 1, ["purposeCategory"] = 1,
        ["piiCategory"] = PurposeLimits.MaxDataCategories,
        ["spiCat"] = SaveConsentsValidator.MaxDecisions * PurposeLimits.MaxDataCategories,
    };

    public void Apply(OpenApiDocument swaggerDoc, DocumentFilterContext context)
    {
        foreach (var schema in (swaggerDoc.Components?.Schemas ?? new Dictionary<string, IOpenApiSchema>()).Values)
        {
            if (schema is OpenApiSchema s)
            {
                Walk(null, s);
            }
        }

        foreach (var operation in (swaggerDoc.Paths ?? []).Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []))
        {
            foreach (var parameter in operation.Parameters ?? [])
            {
                if (parameter is OpenApiParameter { Schema: OpenApiSchema schema } p)
                {
                    Walk(p.Name, schema);
                }
            }
        }
    }

    private static void Walk(string? name, OpenApiSchema schema)
    {
        var type = schema.Type ?? 0;
        if (type.HasFlag(JsonSchemaType.String) && schema.MaxLength is null && schema.Enum is not { Count: > 0 })
        {
            schema.MaxLength = schema.Format switch
            {
                "uuid" => 36,
                "date-time" => 35,
                _ when name is not null && StringLimits.TryGetValue(name, out var max) => max,
                _ => null,
            };
        }

        if (type.HasFlag(JsonSchemaType.Integer) && name is not null && IntegerLimits.TryGetValue(name, out var range))
        {
            schema.Minimum ??= range.Min.ToString(CultureInfo.InvariantCulture);
            schema.Maximum ??= range.Max.ToString(CultureInfo.InvariantCulture);
        }

        if (type.HasFlag(JsonSchemaType.Array) && schema.MaxItems is null && name is not null && ListLimits.TryGetValue(name, out var items))
        {
            schema.MaxItems = items;
        }

        if (name == "fields")
        {
            // Collected data: field names are data category keys, values are bounded text.
            if (schema.Items is OpenApiSchema fieldName)
            {
                fieldName.MaxLength ??= 64;
            }

            if (schema.AdditionalProperties is OpenApiSchema value)
            {
                schema.MaxProperties = CollectDataValidator.MaxFields;
                value.MaxLength ??= CollectDataValidator.MaxValueLength;
            }
        }

        if (name == "errors" && type.HasFlag(JsonSchemaType.Object))
        {
            schema.MaxProperties = 200; // one entry per field at fault
            if (schema.AdditionalProperties is OpenApiSchema messages)
            {
                messages.MaxItems = 20;
                if (messages.Items is OpenApiSchema message)
                {
                    message.MaxLength = 1000;
                }
            }
        }

        foreach (var (propertyName, property) in schema.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            if (property is OpenApiSchema p)
            {
                Walk(propertyName, p);
            }
        }

        if (schema.Items is OpenApiSchema itemSchema)
        {
            Walk(name is null ? null : name + "[]", itemSchema);
        }
    }
}
