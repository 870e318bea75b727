using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Purposes;

public sealed class PurposeTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Create_ReturnsVersionOneWithLocationAndETag()
    {
        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody());

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/api/v1/purposes/newsletter", response.Headers.Location?.OriginalString);
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
        var body = await ReadJsonAsync(response);
        Assert.Equal(1, body["version"]!.GetValue<int>());
        Assert.Equal("active", body["status"]!.GetValue<string>());
        Assert.Equal("Mailer Ltd", body["recipients"]![0]!["name"]!.GetValue<string>());
        Assert.NotNull(body["createdAt"]);
        Assert.NotNull(body["updatedAt"]);
    }

    [Fact]
    public async Task Notice_IsPublic_AndListsOnlyActivePurposesUnlessAskedForAll()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/analytics")).StatusCode);

        var active = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes");
        var all = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes?status=all");
        var retired = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/analytics");

        Assert.Equal(["newsletter"], active!["items"]!.AsArray().Select(p => p!["key"]!.GetValue<string>()));
        Assert.Equal(["analytics", "newsletter"], all!["items"]!.AsArray().Select(p => p!["key"]!.GetValue<string>()));
        Assert.Equal("retired", retired!["status"]!.GetValue<string>());
    }

    // ---- POST /purposes ----

    [Fact]
    public async Task Create_EchoesEveryNoticeField()
    {
        var sent = PurposeBody("risk-scoring", b =>
        {
            b["name"] = "Risk scoring";
            b["description"] = "We score orders for fraud.\nLine two of the notice.";
            b["dataCategories"] = JsonNode.Parse("""
                [ { "key": "orderHistory", "description": "Your past orders", "sensitive": false },
                  { "key": "device.id", "description": "Your device", "sensitive": false } ]
                """);
            b["recipients"] = JsonNode.Parse("""
                [ { "name": "Fraud team", "thirdParty": false }, { "name": "ScoreCo GmbH", "thirdParty": true } ]
                """);
            b["retentionDays"] = 730;
            b["legalBasis"] = "legitimate-interests";
            b["consentModel"] = "opt-out";
            b["consentLifetimeDays"] = 30;
            b["honorsGpc"] = true;
            b["automatedDecisions"] = true;
            b["onRevoke"] = "retain";
        });

        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", sent);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await ReadJsonAsync(response);
        foreach (var field in new[] { "key", "name", "description", "dataCategories", "recipients", "retentionDays", "legalBasis",
                     "consentModel", "consentLifetimeDays", "honorsGpc", "automatedDecisions", "onRevoke" })
        {
            Assert.True(JsonNode.DeepEquals(sent[field], body[field]),
                $"'{field}' sent {sent[field]?.ToJsonString()} but answered {body[field]?.ToJsonString()}");
        }

        // What was stored is what GET answers.
        var stored = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/risk-scoring");
        foreach (var field in new[] { "dataCategories", "recipients", "legalBasis", "consentModel", "onRevoke", "automatedDecisions" })
        {
            Assert.True(JsonNode.DeepEquals(sent[field], stored![field]), $"'{field}' stored as {stored[field]?.ToJsonString()}");
        }
    }

    [Fact]
    public async Task Create_SetsCreatedAtAndUpdatedAtFromTheServerClock()
    {
        var before = Fixture.Clock.GetUtcNow();

        var body = await CreatePurposeAsync();

        var createdAt = Time(body["createdAt"]);
        Assert.Equal(createdAt, Time(body["updatedAt"]));
        Assert.InRange(createdAt, before, Fixture.Clock.GetUtcNow());
        Assert.False(body["requiresReconsent"]!.GetValue<bool>());
    }

    private static readonly string[] OptionalNoticeFields = ["recipients", "consentLifetimeDays", "honorsGpc", "automatedDecisions", "onRevoke"];

    [Fact]
    public async Task Create_WithOptionalFieldsOmitted_AppliesDefaults()
    {
        var sent = PurposeBody(change: b =>
        {
            foreach (var optional in OptionalNoticeFields)
            {
                b.Remove(optional);
            }
        });

        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", sent);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        foreach (var body in new[] { await ReadJsonAsync(response), (await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter"))! })
        {
            Assert.Empty(body["recipients"]!.AsArray());
            Assert.True(body.ContainsKey("consentLifetimeDays"), "consentLifetimeDays should be present as null");
            Assert.Null(body["consentLifetimeDays"]);
            Assert.False(body["honorsGpc"]!.GetValue<bool>());
            Assert.False(body["automatedDecisions"]!.GetValue<bool>());
            Assert.Equal("delete", body["onRevoke"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Create_WithExistingKey_Returns409Conflict_AndKeepsTheOriginal()
    {
        await CreatePurposeAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody(change: b => b["name"] = "Impostor"));

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(before, await Fixture.RowCountsAsync());
        var stored = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter");
        Assert.Equal("Newsletter", stored!["name"]!.GetValue<string>());
        Assert.Equal(1, stored["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task Create_WithKeyOfRetiredPurpose_Returns409Conflict()
    {
        await CreatePurposeAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/newsletter")).StatusCode);

        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody());

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "conflict");
        var stored = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter");
        Assert.Equal("retired", stored!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_WithServiceKey_Returns403Forbidden_AndStoresNothing()
    {
        var service = await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await service.PostAsJsonAsync("/api/v1/purposes", PurposeBody());

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Create_WithoutApiKey_Returns401Unauthorized_AndStoresNothing()
    {
        var response = await Anonymous.PostAsJsonAsync("/api/v1/purposes", PurposeBody());

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.All(await Fixture.RowCountsAsync(), table => Assert.Equal(0, table.Value));
    }

    [Fact]
    public async Task Create_WithUnknownApiKey_Returns401Unauthorized()
    {
        using var stranger = Fixture.CreateClient("not-a-key-this-api-ever-issued-0123456789");

        var response = await stranger.PostAsJsonAsync("/api/v1/purposes", PurposeBody());

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal(HttpStatusCode.NotFound, (await Anonymous.GetAsync("/api/v1/purposes/newsletter")).StatusCode);
    }

    // ---- GET /purposes/{key} and /versions ----

    [Fact]
    public async Task Get_ReturnsCurrentNoticeWithETag_WithoutCredentials()
    {
        var created = await CreatePurposeAsync();

        var response = await Anonymous.GetAsync("/api/v1/purposes/newsletter");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
        var body = await ReadJsonAsync(response);
        Assert.Equal("newsletter", body["key"]!.GetValue<string>());
        Assert.Equal(1, body["version"]!.GetValue<int>());
        Assert.Equal("active", body["status"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(created["dataCategories"], body["dataCategories"]));
    }

    [Theory]
    [InlineData("unknown")]
    [InlineData("Newsletter")]
    public async Task Get_UnknownPurpose_Returns404NotFound(string key)
    {
        await CreatePurposeAsync();

        var response = await Anonymous.GetAsync($"/api/v1/purposes/{key}");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Versions_ListsEveryVersionNewestFirst()
    {
        await CreatePurposeAsync();
        await UpdateOkAsync("newsletter", "\"1\"", b => b["name"] = "Newsletter v2");
        await UpdateOkAsync("newsletter", "\"2\"", b => b["name"] = "Newsletter v3");

        var versions = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter/versions");

        var items = versions!["items"]!.AsArray();
        Assert.Equal([3, 2, 1], items.Select(v => v!["version"]!.GetValue<int>()));
        Assert.Equal(["Newsletter v3", "Newsletter v2", "Newsletter"], items.Select(v => v!["name"]!.GetValue<string>()));
        Assert.All(items, v => Assert.Equal("newsletter", v!["key"]!.GetValue<string>()));
        Assert.Null(versions["nextCursor"]);
    }

    [Fact]
    public async Task Versions_UnknownPurpose_Returns404NotFound()
    {
        await CreatePurposeAsync();

        var response = await Anonymous.GetAsync("/api/v1/purposes/unknown/versions");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    // ---- GET /purposes: paging and filters ----

    [Fact]
    public async Task List_WithLimitOne_GivesCursor_ThatLeadsToTheRest()
    {
        foreach (var key in new[] { "charlie", "alpha", "bravo" })
        {
            await CreatePurposeAsync(key);
        }

        var first = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes?limit=1");
        var cursor = first!["nextCursor"]?.GetValue<string>();
        Assert.Equal(["alpha"], Keys(first));
        Assert.False(string.IsNullOrEmpty(cursor));

        var rest = await Anonymous.GetFromJsonAsync<JsonObject>($"/api/v1/purposes?cursor={Uri.EscapeDataString(cursor!)}");

        Assert.Equal(["bravo", "charlie"], Keys(rest!));
        Assert.Null(rest!["nextCursor"]);
    }

    [Fact]
    public async Task List_PagedOneByOne_VisitsEachPurposeOnce_AndLastPageHasNoCursor()
    {
        foreach (var key in new[] { "charlie", "alpha", "bravo" })
        {
            await CreatePurposeAsync(key);
        }

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var url = cursor is null ? "/api/v1/purposes?limit=1" : $"/api/v1/purposes?limit=1&cursor={Uri.EscapeDataString(cursor)}";
            var page = await Anonymous.GetFromJsonAsync<JsonObject>(url);
            seen.AddRange(Keys(page!));
            cursor = page!["nextCursor"]?.GetValue<string>();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(["alpha", "bravo", "charlie"], seen);
        Assert.Equal(3, pages);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("501")]
    [InlineData("-1")]
    public async Task List_WithLimitOutOfRange_Returns400NamingLimit(string limit)
    {
        var response = await Anonymous.GetAsync($"/api/v1/purposes?limit={limit}");

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "limit");
    }

    [Theory]
    [InlineData("1")]
    [InlineData("500")]
    public async Task List_WithLimitAtTheBounds_IsAccepted(string limit)
    {
        await CreatePurposeAsync();

        var response = await Anonymous.GetAsync($"/api/v1/purposes?limit={limit}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["newsletter"], Keys(await ReadJsonAsync(response)));
    }

    [Theory]
    [InlineData("!!!!")]
    [InlineData("a")]
    [InlineData("AA")] // decodes to a NUL character, which PostgreSQL text cannot hold
    public async Task List_WithGarbageCursor_Returns400NamingCursor(string cursor)
    {
        await CreatePurposeAsync();

        var response = await Anonymous.GetAsync($"/api/v1/purposes?cursor={Uri.EscapeDataString(cursor)}");

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "cursor");
    }

    [Fact]
    public async Task List_WithOversizedCursor_Returns400NamingCursor()
    {
        var response = await Anonymous.GetAsync($"/api/v1/purposes?cursor={new string('a', 600)}");

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "cursor");
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("retired")]
    [InlineData("ALL")]
    public async Task List_WithUnknownStatus_Returns400NamingStatus(string status)
    {
        var response = await Anonymous.GetAsync($"/api/v1/purposes?status={status}");

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "status");
    }

    // ---- PUT /purposes/{key} ----

    [Fact]
    public async Task Update_WithoutIfMatch_Returns428NamingIfMatch_AndKeepsTheVersion()
    {
        await CreatePurposeAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await Admin.PutAsJsonAsync("/api/v1/purposes/newsletter", UpdateBody(b => b["name"] = "Changed"));

        await AssertFieldProblemAsync(response, (HttpStatusCode)428, "If-Match");
        Assert.Equal(before, await Fixture.RowCountsAsync());
        Assert.Equal("Newsletter", (await GetAsync("newsletter"))["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("\"0\"")]
    [InlineData("\"2\"")]
    [InlineData("W/\"1\"")] // a weak tag never matches under strong comparison
    [InlineData("1")]
    public async Task Update_WithNonMatchingIfMatch_Returns412Conflict_AndKeepsTheVersion(string ifMatch)
    {
        await CreatePurposeAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await PutPurposeAsync("newsletter", ifMatch, UpdateBody(b => b["name"] = "Changed"));

        await AssertProblemAsync(response, HttpStatusCode.PreconditionFailed, "conflict");
        Assert.Equal(before, await Fixture.RowCountsAsync());
        Assert.Equal(1, (await GetAsync("newsletter"))["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task Update_WithETagOfAnOlderVersion_Returns412Conflict()
    {
        await CreatePurposeAsync();
        await UpdateOkAsync("newsletter", "\"1\"", b => b["name"] = "Second");

        var response = await PutPurposeAsync("newsletter", "\"1\"", UpdateBody(b => b["name"] = "Third"));

        await AssertProblemAsync(response, HttpStatusCode.PreconditionFailed, "conflict");
        var current = await GetAsync("newsletter");
        Assert.Equal(2, current["version"]!.GetValue<int>());
        Assert.Equal("Second", current["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Update_WithChangedNotice_CreatesVersionTwo_AndLeavesVersionOneUntouched()
    {
        var created = await CreatePurposeAsync();
        var versionOne = (await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter/versions"))!["items"]![0]!;
        Fixture.Clock.Advance(TimeSpan.FromHours(1));

        var response = await PutPurposeAsync("newsletter", "\"1\"", UpdateBody(b =>
        {
            b["description"] = "We email you our news monthly.";
            b["retentionDays"] = 30;
        }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"2\"", response.Headers.ETag?.Tag);
        var body = await ReadJsonAsync(response);
        Assert.Equal(2, body["version"]!.GetValue<int>());
        Assert.Equal("We email you our news monthly.", body["description"]!.GetValue<string>());
        Assert.Equal(30, body["retentionDays"]!.GetValue<int>());
        Assert.Equal("active", body["status"]!.GetValue<string>());
        AssertSameInstant(Time(created["createdAt"]), Time(body["createdAt"]));
        Assert.True(Time(body["updatedAt"]) >= Time(created["createdAt"]) + TimeSpan.FromHours(1));

        var get = await Anonymous.GetAsync("/api/v1/purposes/newsletter");
        Assert.Equal("\"2\"", get.Headers.ETag?.Tag);
        Assert.Equal(2, (await ReadJsonAsync(get))["version"]!.GetValue<int>());

        var items = (await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter/versions"))!["items"]!.AsArray();
        Assert.Equal([2, 1], items.Select(v => v!["version"]!.GetValue<int>()));
        Assert.True(JsonNode.DeepEquals(versionOne, items[1]), $"Version 1 changed: {versionOne.ToJsonString()} -> {items[1]!.ToJsonString()}");
        Assert.Equal("We email you our news weekly.", items[1]!["description"]!.GetValue<string>());
    }

    [Fact]
    public async Task Update_WithUnchangedNotice_KeepsVersionOne_AndWritesNoVersion()
    {
        await CreatePurposeAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await PutPurposeAsync("newsletter", "\"1\"", UpdateBody());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
        Assert.Equal(1, (await ReadJsonAsync(response))["version"]!.GetValue<int>());
        Assert.Equal(before, await Fixture.RowCountsAsync());
        Assert.Single((await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter/versions"))!["items"]!.AsArray());
    }

    [Fact]
    public async Task Update_WithRequiresReconsent_MakesANewVersionEvenForTheSameNotice()
    {
        await CreatePurposeAsync();

        var body = await UpdateOkAsync("newsletter", "\"1\"", b => b["requiresReconsent"] = true);

        Assert.Equal(2, body["version"]!.GetValue<int>());
        Assert.True(body["requiresReconsent"]!.GetValue<bool>());
        var items = (await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter/versions"))!["items"]!.AsArray();
        Assert.Equal([true, false], items.Select(v => v!["requiresReconsent"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task Update_WithIfMatchStar_IsAccepted()
    {
        await CreatePurposeAsync();
        await UpdateOkAsync("newsletter", "\"1\"", b => b["name"] = "Second");

        var response = await PutPurposeAsync("newsletter", "*", UpdateBody(b => b["name"] = "Third"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"3\"", response.Headers.ETag?.Tag);
        Assert.Equal("Third", (await GetAsync("newsletter"))["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Update_WithKeyInBody_Returns400UnknownField_AndKeepsTheVersion()
    {
        await CreatePurposeAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await PutPurposeAsync("newsletter", "\"1\"", PurposeBody("renamed", b => b["name"] = "Changed"));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "key");
        Assert.Equal(before, await Fixture.RowCountsAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await Anonymous.GetAsync("/api/v1/purposes/renamed")).StatusCode);
    }

    [Fact]
    public async Task Update_UnknownPurpose_Returns404NotFound_AndCreatesNothing()
    {
        var response = await PutPurposeAsync("unknown", "*", UpdateBody());

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.All(await Fixture.RowCountsAsync(), table => Assert.Equal(0, table.Value));
    }

    [Fact]
    public async Task Update_RetiredPurpose_Returns409Conflict()
    {
        await CreatePurposeAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/newsletter")).StatusCode);
        var before = await Fixture.RowCountsAsync();

        var response = await PutPurposeAsync("newsletter", "\"1\"", UpdateBody(b => b["name"] = "Changed"));

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(before, await Fixture.RowCountsAsync());
        var stored = await GetAsync("newsletter");
        Assert.Equal("retired", stored["status"]!.GetValue<string>());
        Assert.Equal("Newsletter", stored["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Update_WithServiceKey_Returns403Forbidden()
    {
        await CreatePurposeAsync();
        var service = await ServiceAsync();

        using var request = new HttpRequestMessage(HttpMethod.Put, "/api/v1/purposes/newsletter")
        {
            Content = JsonContent.Create(UpdateBody(b => b["name"] = "Changed")),
        };
        request.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        var response = await service.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(1, (await GetAsync("newsletter"))["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task Update_ConcurrentWithSameIfMatch_ExactlyOneWins_OthersGet412()
    {
        await CreatePurposeAsync();
        const int writers = 10;

        var responses = await Task.WhenAll(Enumerable.Range(0, writers).Select(i =>
            PutPurposeAsync("newsletter", "\"1\"", UpdateBody(b => b["name"] = $"Writer {i}"))));

        var statuses = responses.Select(r => r.StatusCode).ToList();
        Assert.Single(statuses, s => s == HttpStatusCode.OK);
        Assert.Equal(writers - 1, statuses.Count(s => s == HttpStatusCode.PreconditionFailed));
        var winner = await ReadJsonAsync(responses.Single(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(2, winner["version"]!.GetValue<int>());

        var current = await GetAsync("newsletter");
        Assert.Equal(2, current["version"]!.GetValue<int>());
        Assert.Equal(winner["name"]!.GetValue<string>(), current["name"]!.GetValue<string>());
        var items = (await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/newsletter/versions"))!["items"]!.AsArray();
        Assert.Equal([2, 1], items.Select(v => v!["version"]!.GetValue<int>()));
    }

    // ---- DELETE /purposes/{key} ----

    [Fact]
    public async Task Retire_Returns204_AndPurposeStaysReadableAsRetired()
    {
        var created = await CreatePurposeAsync();
        await CreatePurposeAsync("analytics");
        Fixture.Clock.Advance(TimeSpan.FromMinutes(5));

        var response = await Admin.DeleteAsync("/api/v1/purposes/newsletter");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var get = await Anonymous.GetAsync("/api/v1/purposes/newsletter");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var retired = await ReadJsonAsync(get);
        Assert.Equal("retired", retired["status"]!.GetValue<string>());
        Assert.Equal(1, retired["version"]!.GetValue<int>());
        Assert.True(Time(retired["updatedAt"]) >= Time(created["createdAt"]) + TimeSpan.FromMinutes(5));
        Assert.Equal(HttpStatusCode.OK, (await Anonymous.GetAsync("/api/v1/purposes/newsletter/versions")).StatusCode);

        var active = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes");
        var all = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes?status=all");
        Assert.Equal(["analytics"], Keys(active!));
        Assert.Equal(["analytics", "newsletter"], Keys(all!));
        Assert.Equal("retired", all!["items"]![1]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Retire_Twice_Returns204BothTimes()
    {
        await CreatePurposeAsync();

        var first = await Admin.DeleteAsync("/api/v1/purposes/newsletter");
        var second = await Admin.DeleteAsync("/api/v1/purposes/newsletter");

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, second.StatusCode);
        Assert.Equal("retired", (await GetAsync("newsletter"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Retire_UnknownPurpose_Returns404NotFound()
    {
        await CreatePurposeAsync();

        var response = await Admin.DeleteAsync("/api/v1/purposes/unknown");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Retire_WithServiceKey_Returns403Forbidden_AndPurposeStaysActive()
    {
        await CreatePurposeAsync();
        var service = await ServiceAsync();

        var response = await service.DeleteAsync("/api/v1/purposes/newsletter");

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal("active", (await GetAsync("newsletter"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Retire_WithoutApiKey_Returns401Unauthorized_AndPurposeStaysActive()
    {
        await CreatePurposeAsync();

        var response = await Anonymous.DeleteAsync("/api/v1/purposes/newsletter");

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("active", (await GetAsync("newsletter"))["status"]!.GetValue<string>());
    }

    // ---- helpers ----

    private async Task<JsonObject> UpdateOkAsync(string key, string ifMatch, Action<JsonObject>? change = null)
    {
        var response = await PutPurposeAsync(key, ifMatch, UpdateBody(change));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ReadJsonAsync(response);
    }

    private async Task<JsonObject> GetAsync(string key) =>
        (await Anonymous.GetFromJsonAsync<JsonObject>($"/api/v1/purposes/{key}"))!;

    private static List<string> Keys(JsonObject page) =>
        page["items"]!.AsArray().Select(p => p!["key"]!.GetValue<string>()).ToList();

    private static DateTimeOffset Time(JsonNode? node) =>
        DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture);

    // PostgreSQL keeps microseconds; an answer built before the round trip may carry 100 ns ticks.
    private static void AssertSameInstant(DateTimeOffset expected, DateTimeOffset actual) =>
        Assert.True((expected - actual).Duration() < TimeSpan.FromMilliseconds(1), $"Expected {expected:O}, got {actual:O}");
}
