using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Http;

public sealed class HealthAndDocsTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const string Document = "/swagger/v1/swagger.json";

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_IsPublic_AndHealthy(string path)
    {
        var response = await Anonymous.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("healthy", (await ReadJsonAsync(response))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Ready_ChecksTheDatabase()
    {
        var body = await Anonymous.GetFromJsonAsync<JsonObject>("/health/ready");

        Assert.Equal("healthy", body!["checks"]!["database"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenApiDocument_IsPublic_AndOpenApi3()
    {
        var response = await Anonymous.GetAsync(Document);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await ReadJsonAsync(response);
        Assert.StartsWith("3.", doc["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("ConsentApi", doc["info"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenApiDocument_DeclaresTheApiKeyHeaderScheme()
    {
        var scheme = (await DocumentAsync())["components"]!["securitySchemes"]!["ApiKey"]!;

        Assert.Equal("apiKey", scheme["type"]!.GetValue<string>());
        Assert.Equal("header", scheme["in"]!.GetValue<string>());
        Assert.Equal("X-Api-Key", scheme["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/api/v1/purposes", "post")]
    [InlineData("/api/v1/purposes/{key}", "put")]
    [InlineData("/api/v1/purposes/{key}", "delete")]
    [InlineData("/api/v1/customers/{customerId}/consents", "post")]
    [InlineData("/api/v1/customers/{customerId}/consents", "get")]
    [InlineData("/api/v1/customers/{customerId}/consent-events", "get")]
    [InlineData("/api/v1/customers/{customerId}/ledger/verify", "get")]
    [InlineData("/api/v1/api-keys", "post")]
    [InlineData("/api/v1/api-keys/{id}", "delete")]
    public async Task ProtectedOperation_ListsTheApiKeyRequirement_And401(string path, string method)
    {
        var operation = (await DocumentAsync())["paths"]![path]![method]!;

        var security = operation["security"]?.AsArray();
        Assert.True(security is not null && security.Any(r => r!.AsObject().ContainsKey("ApiKey")),
            $"{method} {path} must list the ApiKey requirement: {operation["security"]?.ToJsonString()}");
        Assert.NotNull(operation["responses"]!["401"]);
    }

    [Theory]
    [InlineData("/api/v1/purposes")]
    [InlineData("/api/v1/purposes/{key}")]
    [InlineData("/api/v1/purposes/{key}/versions")]
    public async Task PublicOperation_ListsNoSecurityRequirement(string path)
    {
        var doc = await DocumentAsync();
        var operation = doc["paths"]![path]!["get"]!;

        Assert.True(operation["security"] is null or JsonArray { Count: 0 }, $"GET {path} is public: {operation["security"]?.ToJsonString()}");
        Assert.True(doc["security"] is null or JsonArray { Count: 0 }, "A document-wide requirement would make the public notice look protected.");
    }

    [Fact]
    public async Task CreatePurposeSchema_PublishesTheValidatorsLimits()
    {
        var schema = Schema(await DocumentAsync(), "CreatePurposeRequest");
        var properties = schema["properties"]!;

        Assert.Equal(200, properties["name"]!["maxLength"]!.GetValue<int>());
        Assert.Equal("^[a-z0-9][a-z0-9-]{1,63}$", properties["key"]!["pattern"]!.GetValue<string>());
        Assert.Equal(64, properties["key"]!["maxLength"]!.GetValue<int>());
        Assert.Equal(100, properties["dataCategories"]!["maxItems"]!.GetValue<int>());
        Assert.Equal(1, properties["dataCategories"]!["minItems"]!.GetValue<int>());
        Assert.Equal(36500, int.Parse(properties["retentionDays"]!["maximum"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Subset(new HashSet<string> { "key", "name", "description", "dataCategories", "retentionDays", "legalBasis", "consentModel" },
            Required(schema));
    }

    [Fact]
    public async Task SaveConsentsSchema_PublishesTheValidatorsLimits()
    {
        var doc = await DocumentAsync();
        var save = Schema(doc, "SaveConsentsRequest");
        var decision = Schema(doc, "DecisionRequest");

        Assert.Equal(100, save["properties"]!["decisions"]!["maxItems"]!.GetValue<int>());
        Assert.Equal(1, save["properties"]!["decisions"]!["minItems"]!.GetValue<int>());
        Assert.Equal(128, save["properties"]!["collectionPoint"]!["maxLength"]!.GetValue<int>());
        Assert.Subset(new HashSet<string> { "decisions", "source" }, Required(save));
        Assert.Subset(new HashSet<string> { "purpose", "granted" }, Required(decision));
        // purposeVersion is required only to grant, so it must not be published as always required.
        Assert.DoesNotContain("purposeVersion", Required(decision));
    }

    [Theory]
    [InlineData("CreatePurposeRequest")]
    [InlineData("UpdatePurposeRequest")]
    [InlineData("DataCategoryRequest")]
    [InlineData("RecipientRequest")]
    [InlineData("SaveConsentsRequest")]
    [InlineData("DecisionRequest")]
    [InlineData("CreateApiKeyRequest")]
    public async Task RequestSchema_RefusesAdditionalProperties(string name)
    {
        var schema = Schema(await DocumentAsync(), name);

        Assert.Equal(JsonValueKind.False, schema["additionalProperties"]?.GetValueKind());
    }

    [Fact]
    public async Task PublishedNameLimit_IsTheLimitTheServerEnforces()
    {
        var maxLength = Schema(await DocumentAsync(), "CreatePurposeRequest")["properties"]!["name"]!["maxLength"]!.GetValue<int>();

        var atLimit = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody("at-limit", p => p["name"] = new string('n', maxLength)));
        var overLimit = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody("over-limit", p => p["name"] = new string('n', maxLength + 1)));

        Assert.Equal(HttpStatusCode.Created, atLimit.StatusCode);
        await AssertFieldProblemAsync(overLimit, HttpStatusCode.BadRequest, "name");
    }

    [Fact]
    public async Task SwaggerUi_IsServedAsHtml()
    {
        var response = await Anonymous.GetAsync("/swagger");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("swagger-ui", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    private async Task<JsonObject> DocumentAsync() => (await Anonymous.GetFromJsonAsync<JsonObject>(Document))!;

    private static JsonObject Schema(JsonObject doc, string name) =>
        doc["components"]!["schemas"]![name]?.AsObject() ?? throw new Xunit.Sdk.XunitException($"The document has no schema {name}.");

    private static HashSet<string> Required(JsonObject schema) =>
        schema["required"]?.AsArray().Select(r => r!.GetValue<string>()).ToHashSet() ?? [];
}
