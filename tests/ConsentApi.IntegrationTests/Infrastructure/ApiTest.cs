using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

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

    /// <summary>A PUT body: the notice fields of <see cref="PurposeBody"/> without the key.</summary>
    protected static JsonObject UpdateBody(Action<JsonObject>? change = null)
    {
        var body = PurposeBody();
        body.Remove("key");
        change?.Invoke(body);
        return body;
    }

    /// <summary>PUT /purposes/{key} (a new version) as the admin, with <paramref name="ifMatch"/> sent as given.</summary>
    protected async Task<HttpResponseMessage> PutPurposeAsync(string key, string? ifMatch, JsonObject body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/purposes/{key}") { Content = JsonContent.Create(body) };
        if (ifMatch is not null)
        {
            // Without validation: the tests send malformed tags (W/, unquoted) on purpose.
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return await Admin.SendAsync(request);
    }

    /// <summary>
    /// Waits until <paramref name="atLeast"/> statements like <paramref name="queryLike"/> wait on a lock in
    /// this database (of the <paramref name="waitEvent"/> kind, e.g. <c>advisory</c>, when given): how a race
    /// test knows the API's side is blocked on the change it holds open.
    /// </summary>
    protected async Task AssertBlockedAsync(string queryLike, string? waitEvent = null, int atLeast = 1)
    {
        for (var attempt = 0; attempt < 600; attempt++)
        {
            var waiting = await Fixture.ScalarAsync<long>("""
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1 AND ($2 = '' OR wait_event = $2)
                """, queryLike, waitEvent ?? "");
            if (waiting >= atLeast)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"Fewer than {atLeast} statements like '{queryLike}' ever waited on a {waitEvent ?? ""} lock.");
    }

    /// <summary>
    /// Runs <paramref name="statements"/> in a transaction of the test's own and holds it open, with every
    /// lock they took, until the test commits it (or disposes it: a rollback). How a race test holds one side.
    /// </summary>
    protected async Task<HeldTransaction> HoldAsync(params string[] statements)
    {
        var connection = await Fixture.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            await command.ExecuteNonQueryAsync();
        }

        return new HeldTransaction(connection, transaction);
    }

    /// <summary>The exclusive lock a new version or a retirement of purpose <paramref name="key"/> takes (PurposeLocks).</summary>
    protected static string PurposeChangeLock(string key) =>
        $"SELECT pg_advisory_xact_lock({ConsentApi.Purposes.PurposeLocks.LockSpace}, hashtext('{key}'))";

    /// <summary>The shared lock a save in flight holds on purpose <paramref name="key"/> (PurposeLocks).</summary>
    protected static string SaveInFlightLock(string key) =>
        $"SELECT pg_advisory_xact_lock_shared({ConsentApi.Purposes.PurposeLocks.LockSpace}, hashtext('{key}'))";

    /// <summary>POSTs <paramref name="body"/> as a save, with an <c>Idempotency-Key</c> when one is given (unvalidated: tests send bad ones).</summary>
    protected async Task<HttpResponseMessage> PostConsentsAsync(string customerId, object body, string? idempotencyKey = null,
        HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/customers/{Uri.EscapeDataString(customerId)}/consents")
        {
            Content = body as HttpContent ?? JsonContent.Create(body),
        };
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }

        return await (client ?? await ServiceAsync()).SendAsync(request);
    }

    protected static readonly JsonSerializerOptions Web = JsonSerializerOptions.Web;
}

/// <summary>A transaction a test holds open (<see cref="ApiTest.HoldAsync"/>); disposing it rolls back.</summary>
public sealed class HeldTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
{
    public Task CommitAsync() => transaction.CommitAsync();

    public async ValueTask DisposeAsync()
    {
        await transaction.DisposeAsync();
        await connection.DisposeAsync();
    }
}
