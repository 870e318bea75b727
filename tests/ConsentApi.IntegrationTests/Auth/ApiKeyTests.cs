using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Auth;

public sealed class ApiKeyTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const string ReceiptPath = "/api/v1/customers/c-1/receipts/0195f1a2-0000-7000-8000-000000000001";
    private const string ApiKeyPath = "/api/v1/api-keys/0195f1a2-0000-7000-8000-000000000002";

    [Fact]
    public async Task Create_Returns201_WithIdNameRoleKeyAndCreatedAt()
    {
        var response = await Admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "checkout", role = "service" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.True(Guid.TryParse(body["id"]!.GetValue<string>(), out _));
        Assert.Equal("checkout", body["name"]!.GetValue<string>());
        Assert.Equal("service", body["role"]!.GetValue<string>());
        Assert.StartsWith("cak_", body["key"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(body["key"]!.GetValue<string>().Length >= 40, "A key must carry enough randomness.");
        Assert.True(DateTimeOffset.TryParse(body["createdAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture, out _));
    }

    [Fact]
    public async Task Create_IssuesADifferentKeyEachTime()
    {
        var first = await IssueKeyAsync("service");
        var second = await IssueKeyAsync("service");

        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task IssuedKey_AuthenticatesInXApiKeyHeader()
    {
        using var service = Fixture.CreateClient(await IssueKeyAsync("service"));

        var response = await service.GetAsync("/api/v1/customers/c-1/consents");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task IssuedAdminKey_MayIssueKeys()
    {
        using var admin = Fixture.CreateClient(await IssueKeyAsync("admin"));

        var response = await admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "second admin", role = "admin" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task List_ShowsIssuedKeys_WithoutTheKeyItself()
    {
        var created = await ReadJsonAsync(await Admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "checkout", role = "service" }));
        var secret = created["key"]!.GetValue<string>();

        var response = await Admin.GetAsync("/api/v1/api-keys");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var raw = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
        var listed = Assert.Single(JsonNode.Parse(raw)!["items"]!.AsArray(), k => k!["id"]!.GetValue<string>() == created["id"]!.GetValue<string>())!.AsObject();
        Assert.False(listed.ContainsKey("key"), $"The list must not show the key: {listed.ToJsonString()}");
        Assert.Equal("checkout", listed["name"]!.GetValue<string>());
        Assert.Equal("service", listed["role"]!.GetValue<string>());
        Assert.Equal(secret[..8], listed["prefix"]!.GetValue<string>());
    }

    [Fact]
    public async Task Database_HoldsOnlyTheSha256OfTheKey()
    {
        var created = await ReadJsonAsync(await Admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "checkout", role = "service" }));
        var secret = created["key"]!.GetValue<string>();
        var id = Guid.Parse(created["id"]!.GetValue<string>());

        // Every column of the row, as text: neither the key nor its random part appears in any of them.
        var holdingSecret = await Fixture.ScalarAsync<long>(
            "SELECT count(*) FROM api_keys k WHERE strpos(row_to_json(k)::text, $1) > 0 OR strpos(row_to_json(k)::text, $2) > 0",
            secret, secret["cak_".Length..]);
        var storedHash = await Fixture.ScalarAsync<string>("SELECT key_hash FROM api_keys WHERE id = $1", id);

        Assert.Equal(0L, holdingSecret);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret))), storedHash);
    }

    [Fact]
    public async Task Revoke_Returns204_AndTheKeyIsRefusedAtOnce()
    {
        var created = await ReadJsonAsync(await Admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "checkout", role = "service" }));
        using var service = Fixture.CreateClient(created["key"]!.GetValue<string>());
        // Used once first, so that the node has the key in its cache when it is revoked.
        Assert.Equal(HttpStatusCode.OK, (await service.GetAsync("/api/v1/customers/c-1/consents")).StatusCode);

        var revoke = await Admin.DeleteAsync($"/api/v1/api-keys/{created["id"]!.GetValue<string>()}");
        var after = await service.GetAsync("/api/v1/customers/c-1/consents");

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        await AssertProblemAsync(after, HttpStatusCode.Unauthorized, "unauthorized");
        var listed = (await Admin.GetFromJsonAsync<JsonObject>("/api/v1/api-keys"))!["items"]!.AsArray()
            .Single(k => k!["id"]!.GetValue<string>() == created["id"]!.GetValue<string>())!;
        Assert.NotNull(listed["revokedAt"]);
    }

    [Fact]
    public async Task Revoke_Twice_IsNotAnError()
    {
        var created = await ReadJsonAsync(await Admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "checkout", role = "service" }));
        var path = $"/api/v1/api-keys/{created["id"]!.GetValue<string>()}";

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync(path)).StatusCode);
    }

    [Fact]
    public async Task Revoke_UnknownId_Returns404()
    {
        var response = await Admin.DeleteAsync($"/api/v1/api-keys/{Guid.NewGuid()}");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task ServiceKey_CannotIssueKeys()
    {
        var service = await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await service.PostAsJsonAsync("/api/v1/api-keys", new { name = "escalate", role = "admin" });

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task NoKey_Returns401_WithWwwAuthenticateNamingTheHeader()
    {
        var response = await Anonymous.PostAsJsonAsync("/api/v1/api-keys", new { name = "x", role = "admin" });

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("ApiKey", challenge.Scheme);
        Assert.Contains("X-Api-Key", challenge.Parameter, StringComparison.Ordinal);
    }

    public static TheoryData<string> WrongKeys => new(
        "cak_thisKeyWasNeverIssuedByTheApi0123456789abcdefgh",
        ApiFixture.AdminKey + "x",
        ApiFixture.AdminKey.ToUpperInvariant(),
        ApiFixture.AdminKey[..^1],
        "cak_" + new string('k', 300));

    [Theory]
    [MemberData(nameof(WrongKeys))]
    public async Task WrongKey_Returns401_WithWwwAuthenticate(string key)
    {
        using var client = Fixture.CreateClient(key);

        var response = await client.GetAsync("/api/v1/api-keys");

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("ApiKey", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
    }

    [Theory]
    [InlineData("""{ "name": "checkout", "role": "root" }""", "role")]
    [InlineData("""{ "name": "checkout", "role": 0 }""", "role")]
    [InlineData("""{ "name": "checkout" }""", "role")]
    [InlineData("""{ "role": "service" }""", "name")]
    [InlineData("""{ "name": "", "role": "service" }""", "name")]
    public async Task Create_WithBadBody_Returns400NamingTheField(string body, string field)
    {
        var before = await Fixture.RowCountsAsync();

        var response = await Admin.PostAsync("/api/v1/api-keys", Json(body));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    // Routes a service key may not use, with a body that would otherwise be accepted.
    public static TheoryData<string, string> AdminOnlyRoutes => new()
    {
        { "GET", "/api/v1/customers/c-1/consent-events" },
        { "GET", ReceiptPath },
        { "GET", "/api/v1/customers/c-1/ledger/verify" },
        { "POST", "/api/v1/purposes" },
        { "PUT", "/api/v1/purposes/newsletter" },
        { "DELETE", "/api/v1/purposes/newsletter" },
        { "POST", "/api/v1/api-keys" },
        { "GET", "/api/v1/api-keys" },
        { "DELETE", ApiKeyPath },
    };

    public static TheoryData<string, string> ServiceRoutes => new()
    {
        { "POST", "/api/v1/customers/c-1/consents" },
        { "GET", "/api/v1/customers/c-1/consents" },
        { "GET", "/api/v1/customers/c-1/consents/newsletter" },
    };

    public static TheoryData<string, string> ProtectedRoutes
    {
        get
        {
            var all = new TheoryData<string, string>();
            foreach (var row in ServiceRoutes.Concat(AdminOnlyRoutes))
            {
                all.Add((string)row[0], (string)row[1]);
            }

            return all;
        }
    }

    [Theory]
    [MemberData(nameof(AdminOnlyRoutes))]
    public async Task ServiceKey_OnAdminRoute_Returns403_AndChangesNothing(string method, string path)
    {
        await CreatePurposeAsync("newsletter");
        var service = await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await SendAsync(service, method, path);

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Theory]
    [MemberData(nameof(ServiceRoutes))]
    public async Task ServiceKey_OnServiceRoute_IsServed(string method, string path)
    {
        await CreatePurposeAsync("newsletter");

        var response = await SendAsync(await ServiceAsync(), method, path);

        Assert.True(response.IsSuccessStatusCode, $"Expected 2xx, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [MemberData(nameof(ProtectedRoutes))]
    public async Task AdminKey_OnAnyRoute_IsNeither401Nor403(string method, string path)
    {
        await CreatePurposeAsync("newsletter");

        var response = await SendAsync(Admin, method, path);

        Assert.True(response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) && (int)response.StatusCode < 500,
            $"Expected the admin to be let through, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [MemberData(nameof(ProtectedRoutes))]
    public async Task Anonymous_OnProtectedRoute_Returns401_AndChangesNothing(string method, string path)
    {
        await CreatePurposeAsync("newsletter");
        var before = await Fixture.RowCountsAsync();

        var response = await SendAsync(Anonymous, method, path);

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.NotEmpty(response.Headers.WwwAuthenticate);
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Theory]
    [InlineData("/api/v1/purposes")]
    [InlineData("/api/v1/purposes/newsletter")]
    [InlineData("/api/v1/purposes/newsletter/versions")]
    public async Task Anonymous_OnPublicNotice_Returns200(string path)
    {
        await CreatePurposeAsync("newsletter");

        var response = await Anonymous.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Sends <paramref name="method"/> to <paramref name="path"/> with a body the route would accept.</summary>
    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Content = (method, path) switch
        {
            ("POST", "/api/v1/purposes") => JsonContent.Create(PurposeBody("analytics")),
            ("PUT", _) => JsonContent.Create(PurposeBody(change: p => p.Remove("key"))),
            ("POST", "/api/v1/api-keys") => JsonContent.Create(new { name = "another", role = "service" }),
            ("POST", _) => JsonContent.Create(new
            {
                decisions = new[] { new { purpose = "newsletter", granted = true, purposeVersion = 1 } },
                source = "web",
            }),
            _ => null,
        };
        if (method == "PUT")
        {
            request.Headers.IfMatch.ParseAdd("\"1\"");
        }

        return await client.SendAsync(request);
    }
}
