using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConsentApi.IntegrationTests.Infrastructure;

/// <summary>
/// Base of every integration test: a clean database before each test, clients for each kind of
/// caller, and small helpers that speak the public HTTP API (never the internals).
/// </summary>
public abstract class ApiTest(ApiFixture fixture) : IAsyncLifetime
{
    protected ApiFixture Fixture { get; } = fixture;

    protected HttpClient Admin { get; private set; } = null!;
    protected HttpClient Anonymous { get; private set; } = null!;

    private HttpClient? _service;

    /// <summary>A client with a freshly issued service key (created on first use in each test).</summary>
    protected async Task<HttpClient> ServiceAsync()
    {
        if (_service is null)
        {
            var key = await IssueKeyAsync("service");
            _service = Fixture.CreateClient(key);
        }

        return _service;
    }

    public virtual async Task InitializeAsync()
    {
        await Fixture.ResetAsync();
        Admin = Fixture.CreateClient(ApiFixture.AdminKey);
        Anonymous = Fixture.CreateClient();
    }

    public virtual Task DisposeAsync()
    {
        Admin.Dispose();
        Anonymous.Dispose();
        _service?.Dispose();
        return Task.CompletedTask;
    }

    protected async Task<string> IssueKeyAsync(string role, string name = "test")
    {
        var response = await Admin.PostAsJsonAsync("/api/v1/api-keys", new { name, role });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
    }

    /// <summary>A valid purpose body; <paramref name="change"/> edits it before sending.</summary>
    public static JsonObject PurposeBody(string key = "newsletter", Action<JsonObject>? change = null)
    {
        var body = JsonNode.Parse($$"""
            { "key": "{{key}}", "name": "Newsletter", "description": "We email you our news weekly.",
              "dataCategories": [ { "key": "email", "description": "Your email address", "sensitive": false } ],
              "recipients": [ { "name": "Mailer Ltd", "thirdParty": true } ],
              "retentionDays": 365, "legalBasis": "consent", "consentModel": "opt-in",
              "consentLifetimeDays": 395, "honorsGpc": false, "automatedDecisions": false, "onRevoke": "delete" }
            """)!.AsObject();
        change?.Invoke(body);
        return body;
    }

    protected async Task<JsonObject> CreatePurposeAsync(string key = "newsletter", Action<JsonObject>? change = null)
    {
        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody(key, change));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    protected static object Decision(string purpose, bool granted, int? version = 1) =>
        new { purpose, granted, purposeVersion = version };

    protected async Task<HttpResponseMessage> SaveAsync(string customerId, params object[] decisions) =>
        await (await ServiceAsync()).PostAsJsonAsync($"/api/v1/customers/{Uri.EscapeDataString(customerId)}/consents",
            new { decisions, source = "web", collectionPoint = "signup-form" });

    protected async Task<JsonObject> SaveOkAsync(string customerId, params object[] decisions)
    {
        var response = await SaveAsync(customerId, decisions);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    /// <summary>The customer's ledger, newest first (admin).</summary>
    protected async Task<JsonArray> EventsAsync(string customerId)
    {
        var page = await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{Uri.EscapeDataString(customerId)}/consent-events?limit=500");
        return page!["items"]!.AsArray();
    }

    /// <summary>The hash-chain verification (admin), asserted to answer 200.</summary>
    protected async Task<JsonObject> VerifyAsync(string customerId)
    {
        var response = await Admin.GetAsync($"/api/v1/customers/{Uri.EscapeDataString(customerId)}/ledger/verify");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ReadJsonAsync(response);
    }

    protected async Task<JsonObject> Customer360Async(string customerId) =>
        (await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{Uri.EscapeDataString(customerId)}/360"))!;

    protected static async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonObject>())!;

    /// <summary>Asserts an RFC 9457 problem of the given status and type, and returns it.</summary>
    protected static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.EndsWith("/" + type, problem["type"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        return problem;
    }

    /// <summary>Asserts the problem names <paramref name="field"/> among its errors.</summary>
    protected static async Task<JsonObject> AssertFieldProblemAsync(HttpResponseMessage response, HttpStatusCode status, string field,
        string type = "validation-failed")
    {
        var problem = await AssertProblemAsync(response, status, type);
        var errors = problem["errors"]?.AsObject();
        Assert.True(errors is not null && errors.ContainsKey(field),
            $"Expected an error for '{field}', got: {problem.ToJsonString()}");
        return problem;
    }

    protected static StringContent Json(string raw) => new(raw, System.Text.Encoding.UTF8, "application/json");

    protected static readonly JsonSerializerOptions Web = JsonSerializerOptions.Web;
}
