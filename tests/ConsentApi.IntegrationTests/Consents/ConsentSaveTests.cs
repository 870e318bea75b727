using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Consents;

/// <summary>POST /customers/{id}/consents: the receipt, validation, all-or-nothing, evidence and Idempotency-Key.</summary>
public sealed class ConsentSaveTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const string Customer = "c-42";

    [Fact]
    public async Task Save_AnswersCreatedWithTheReceiptAndItsLocation()
    {
        await CreatePurposeAsync("newsletter");

        var response = await SaveAsync(Customer, Decision("newsletter", true));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var receipt = await ReadJsonAsync(response);
        var receiptId = Guid.Parse(receipt["receiptId"]!.GetValue<string>());
        Assert.Equal($"/api/v1/customers/{Customer}/receipts/{receiptId}", response.Headers.Location?.OriginalString);
        Assert.Equal(Customer, receipt["customerId"]!.GetValue<string>());
        Assert.True(DateTimeOffset.Parse(receipt["issuedAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
            > DateTimeOffset.UnixEpoch);
        Assert.Equal("web", receipt["source"]!.GetValue<string>());
        Assert.Equal("signup-form", receipt["collectionPoint"]!.GetValue<string>());
        var decision = Assert.Single(receipt["decisions"]!.AsArray())!;
        Assert.Equal("newsletter", decision["purpose"]!.GetValue<string>());
        Assert.Equal(1, decision["purposeVersion"]!.GetValue<int>());
        Assert.True(decision["granted"]!.GetValue<bool>());
        Assert.NotEqual(Guid.Empty, Guid.Parse(decision["eventId"]!.GetValue<string>()));
        Assert.Matches("^[0-9a-f]{64}$", decision["hash"]!.GetValue<string>());
    }

    [Fact]
    public async Task Receipt_ReadByAdmin_IsTheReceiptTheSaveAnswered()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        var saved = await SaveAsync(Customer, Decision("newsletter", true), Decision("analytics", false));
        Assert.Equal(HttpStatusCode.Created, saved.StatusCode);
        var receipt = await ReadJsonAsync(saved);

        var read = await Admin.GetAsync(saved.Headers.Location);

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        var body = await ReadJsonAsync(read);
        Assert.True(JsonNode.DeepEquals(receipt, body), $"Saved {receipt.ToJsonString()} but read {body.ToJsonString()}");
    }

    [Fact]
    public async Task Save_ForACustomerIdThatNeedsEscaping_AnswersALocationThatLeadsToTheReceipt()
    {
        const string customerId = "shop:c 42-ü";
        await CreatePurposeAsync("newsletter");

        var saved = await SaveAsync(customerId, Decision("newsletter", true));

        Assert.Equal(HttpStatusCode.Created, saved.StatusCode);
        var read = await Admin.GetAsync(saved.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(customerId, (await ReadJsonAsync(read))["customerId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Receipt_Unknown_Returns404()
    {
        var response = await Admin.GetAsync($"/api/v1/customers/{Customer}/receipts/{Guid.NewGuid()}");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Receipt_OfAnotherCustomer_Returns404()
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var response = await Admin.GetAsync($"/api/v1/customers/c-other/receipts/{receipt["receiptId"]!.GetValue<string>()}");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Save_SeveralDecisions_IssuesOneReceiptWithOneEventEach()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        await CreatePurposeAsync("ads");

        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true), Decision("analytics", false), Decision("ads", true));

        var decisions = receipt["decisions"]!.AsArray();
        Assert.Equal(["newsletter", "analytics", "ads"], decisions.Select(d => d!["purpose"]!.GetValue<string>()));
        Assert.Equal([true, false, true], decisions.Select(d => d!["granted"]!.GetValue<bool>()));
        var events = await EventsAsync(Customer);
        Assert.Equal(3, events.Count);
        Assert.All(events, e => Assert.Equal(receipt["receiptId"]!.GetValue<string>(), e!["receiptId"]!.GetValue<string>()));
        Assert.Equal(
            decisions.Select(d => d!["eventId"]!.GetValue<string>()).Order(StringComparer.Ordinal),
            events.Select(e => e!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Equal(1L, await Fixture.ScalarAsync<long>("SELECT count(*) FROM receipts WHERE customer_id = $1", Customer));
    }

    [Fact]
    public async Task Save_RevocationWithoutVersion_RecordsTheCurrentVersion()
    {
        await CreatePurposeAsync("newsletter");
        await NewVersionAsync("newsletter", 1);

        var receipt = await SaveOkAsync(Customer, Decision("newsletter", false, version: null));

        Assert.Equal(2, receipt["decisions"]![0]!["purposeVersion"]!.GetValue<int>());
        var e = Assert.Single(await EventsAsync(Customer))!;
        Assert.Equal(2, e["purposeVersion"]!.GetValue<int>());
        Assert.Equal("revoked", e["decision"]!.GetValue<string>());
    }

    [Fact]
    public async Task Save_GrantWithoutVersion_Returns400NamingThePurposeVersion()
    {
        await CreatePurposeAsync("newsletter");
        await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await SaveAsync(Customer, Decision("newsletter", true, version: null));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "decisions[0].purposeVersion");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Save_SamePurposeTwice_Returns400()
    {
        await CreatePurposeAsync("newsletter");
        await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await SaveAsync(Customer, Decision("newsletter", true), Decision("newsletter", false));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "decisions");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Theory]
    [InlineData("gpc")]
    [InlineData("system")]
    public async Task Save_WithASourceOnlyTheApiWrites_Returns400NamingSource(string source)
    {
        await CreatePurposeAsync("newsletter");

        var response = await PostConsentsAsync(Customer, new { decisions = new[] { Decision("newsletter", true) }, source, collectionPoint = "x" });

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "source");
        Assert.Empty(await EventsAsync(Customer));
    }

    [Fact]
    public async Task Save_WithAnUnknownPurpose_Returns422NamingTheDecision_AndStoresNothing()
    {
        await CreatePurposeAsync("newsletter");
        await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await SaveAsync(Customer, Decision("newsletter", true), Decision("no-such-purpose", true));

        var problem = await AssertFieldProblemAsync(response, HttpStatusCode.UnprocessableEntity, "decisions[1].purpose");
        Assert.False(problem["errors"]!.AsObject().ContainsKey("decisions[0].purpose"));
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Save_WithARetiredPurpose_Returns422NamingTheDecision_AndStoresNothing()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/analytics")).StatusCode);
        await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await SaveAsync(Customer, Decision("newsletter", true), Decision("analytics", true));

        await AssertFieldProblemAsync(response, HttpStatusCode.UnprocessableEntity, "decisions[1].purpose");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Save_WithAnUnknownVersion_Returns422NamingTheDecision_AndStoresNothing()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await SaveAsync(Customer, Decision("newsletter", true), Decision("analytics", true, version: 2));

        await AssertFieldProblemAsync(response, HttpStatusCode.UnprocessableEntity, "decisions[1].purposeVersion");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Save_KeepsTheCallersEvidenceApartFromTheEvents()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        const string userAgent = "ConsentApiTests/1.0 (evidence)";
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/customers/{Customer}/consents")
        {
            Content = JsonContent.Create(SaveBody(Decision("newsletter", true), Decision("analytics", false))),
        };
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);

        var response = await (await ServiceAsync()).SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var receipt = await ReadJsonAsync(response);
        foreach (var decision in receipt["decisions"]!.AsArray())
        {
            var eventId = Guid.Parse(decision!["eventId"]!.GetValue<string>());
            Assert.Equal(userAgent, await Fixture.ScalarAsync<string>(
                "SELECT user_agent FROM consent_evidence WHERE customer_id = $1 AND event_id = $2", Customer, eventId));
            var ip = await Fixture.ScalarAsync<string>(
                "SELECT ip_address FROM consent_evidence WHERE customer_id = $1 AND event_id = $2", Customer, eventId);
            Assert.True(IPAddress.TryParse(ip, out var address) && IPAddress.IsLoopback(address), $"Expected the caller's address, got '{ip}'");
        }

        Assert.Equal(2L, await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_evidence WHERE customer_id = $1", Customer));
        Assert.Equal(0L, await Fixture.ScalarAsync<long>("""
            SELECT count(*) FROM information_schema.columns
            WHERE table_name = 'consent_events' AND column_name IN ('ip_address', 'user_agent')
            """));
    }

    [Fact]
    public async Task Idempotency_SameKeyAndBodyTwice_ReplaysTheFirstReceiptAndAppendsOnce()
    {
        await CreatePurposeAsync("newsletter");
        var body = SaveBody(Decision("newsletter", true));

        var first = await PostConsentsAsync(Customer, body, "key-1");
        var second = await PostConsentsAsync(Customer, body, "key-1");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("true", Assert.Single(second.Headers.GetValues("Idempotent-Replayed")));
        var firstReceipt = await ReadJsonAsync(first);
        var secondReceipt = await ReadJsonAsync(second);
        Assert.Equal(firstReceipt["receiptId"]!.GetValue<string>(), secondReceipt["receiptId"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(firstReceipt, secondReceipt));
        Assert.Single(await EventsAsync(Customer));
    }

    [Fact]
    public async Task Idempotency_SameKeyAndBodyWrittenDifferently_IsStillAReplay()
    {
        await CreatePurposeAsync("newsletter");
        const string compact = """{"decisions":[{"purpose":"newsletter","granted":true,"purposeVersion":1}],"source":"web","collectionPoint":"f"}""";
        const string spaced = """{ "collectionPoint": "f", "source": "web", "decisions": [ { "purposeVersion": 1, "granted": true, "purpose": "newsletter" } ] }""";

        var first = await PostConsentsAsync(Customer, Json(compact), "key-1");
        var second = await PostConsentsAsync(Customer, Json(spaced), "key-1");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.Equal((await ReadJsonAsync(first))["receiptId"]!.GetValue<string>(), (await ReadJsonAsync(second))["receiptId"]!.GetValue<string>());
        Assert.Single(await EventsAsync(Customer));
    }

    [Fact]
    public async Task Idempotency_SameKeyWithAnotherBody_Returns422AndAppendsNothing()
    {
        await CreatePurposeAsync("newsletter");
        var first = await PostConsentsAsync(Customer, SaveBody(Decision("newsletter", true)), "key-1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var before = await Fixture.RowCountsAsync();

        var second = await PostConsentsAsync(Customer, SaveBody(Decision("newsletter", false)), "key-1");

        await AssertProblemAsync(second, HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Equal(before, await Fixture.RowCountsAsync());
        Assert.Equal("granted", Assert.Single(await EventsAsync(Customer))!["decision"]!.GetValue<string>());
    }

    [Fact]
    public async Task Idempotency_SameKeyForTwoCustomers_IsIndependent()
    {
        await CreatePurposeAsync("newsletter");
        var body = SaveBody(Decision("newsletter", true));

        var forA = await PostConsentsAsync("c-a", body, "shared-key");
        var forB = await PostConsentsAsync("c-b", body, "shared-key");

        Assert.Equal(HttpStatusCode.Created, forA.StatusCode);
        Assert.Equal(HttpStatusCode.Created, forB.StatusCode);
        Assert.False(forB.Headers.Contains("Idempotent-Replayed"));
        var receiptB = await ReadJsonAsync(forB);
        Assert.NotEqual((await ReadJsonAsync(forA))["receiptId"]!.GetValue<string>(), receiptB["receiptId"]!.GetValue<string>());
        Assert.Equal("c-b", receiptB["customerId"]!.GetValue<string>());
        Assert.Single(await EventsAsync("c-a"));
        Assert.Single(await EventsAsync("c-b"));
    }

    [Fact]
    public async Task Idempotency_ConcurrentRetries_AllAnswerOneReceiptAndAppendOnce()
    {
        await CreatePurposeAsync("newsletter");
        var service = await ServiceAsync();
        var body = SaveBody(Decision("newsletter", true));

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => PostConsentsAsync(Customer, body, "retry-key", service)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var receiptIds = new HashSet<string>();
        foreach (var response in responses)
        {
            receiptIds.Add((await ReadJsonAsync(response))["receiptId"]!.GetValue<string>());
        }

        Assert.Single(receiptIds);
        Assert.Equal(9, responses.Count(r => r.Headers.Contains("Idempotent-Replayed")));
        Assert.Single(await EventsAsync(Customer));
    }

    [Fact]
    public async Task Idempotency_KeyOver255Characters_Returns400NamingTheHeader()
    {
        await CreatePurposeAsync("newsletter");
        await ServiceAsync();
        var before = await Fixture.RowCountsAsync();

        var response = await PostConsentsAsync(Customer, SaveBody(Decision("newsletter", true)), new string('k', 256));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "Idempotency-Key");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Idempotency_KeyOf255Characters_IsAccepted()
    {
        await CreatePurposeAsync("newsletter");

        var response = await PostConsentsAsync(Customer, SaveBody(Decision("newsletter", true)), new string('k', 255));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private static object SaveBody(params object[] decisions) =>
        new { decisions, source = "web", collectionPoint = "signup-form" };

    /// <summary>The customer's whole ledger, newest first.</summary>

    /// <summary>PUTs a changed notice (no re-consent), making the next version.</summary>
    private async Task NewVersionAsync(string key, int currentVersion)
    {
        var body = PurposeBody(key, b => b["description"] = $"Changed notice after version {currentVersion}.");
        body.Remove("key");
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/purposes/{key}") { Content = Json(body.ToJsonString()) };
        request.Headers.TryAddWithoutValidation("If-Match", $"\"{currentVersion}\"");
        var response = await Admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(currentVersion + 1, (await ReadJsonAsync(response))["version"]!.GetValue<int>());
    }
}
