using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;
using Npgsql;

namespace ConsentApi.IntegrationTests.Consents;

/// <summary>The ledger as history and as proof: consent-events, the per-customer hash chain, verify, and tampering.</summary>
public sealed class LedgerIntegrityTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const string Customer = "c-42";

    [Fact]
    public async Task Events_ListNewestFirstWithTheLedgerFields()
    {
        await CreatePurposeAsync("newsletter");
        var grant = await SaveOkAsync(Customer, Decision("newsletter", true));
        var revoke = await SaveOkAsync(Customer, Decision("newsletter", false));

        var events = await EventsAsync(Customer);

        Assert.Equal(2, events.Count);
        var newest = events[0]!;
        Assert.Equal(revoke["decisions"]![0]!["eventId"]!.GetValue<string>(), newest["id"]!.GetValue<string>());
        Assert.Equal(grant["decisions"]![0]!["eventId"]!.GetValue<string>(), events[1]!["id"]!.GetValue<string>());
        Assert.Equal(Customer, newest["customerId"]!.GetValue<string>());
        Assert.Equal("newsletter", newest["purposeKey"]!.GetValue<string>());
        Assert.Equal(1, newest["purposeVersion"]!.GetValue<int>());
        Assert.Equal("revoked", newest["decision"]!.GetValue<string>());
        Assert.Equal("granted", events[1]!["decision"]!.GetValue<string>());
        Assert.Equal(Time(revoke["issuedAt"]), Time(newest["occurredAt"]));
        Assert.True(Time(newest["occurredAt"]) > Time(events[1]!["occurredAt"]));
        Assert.Equal("web", newest["source"]!.GetValue<string>());
        Assert.Equal("signup-form", newest["collectionPoint"]!.GetValue<string>());
        Assert.Equal(revoke["decisions"]![0]!["hash"]!.GetValue<string>(), newest["hash"]!.GetValue<string>());
        Assert.Equal(events[1]!["hash"]!.GetValue<string>(), newest["previousHash"]!.GetValue<string>());
        Assert.Equal(2L, newest["sequence"]!.GetValue<long>());
    }

    [Fact]
    public async Task Events_CursorPaging_VisitsEveryEventOnceInDescendingSequence()
    {
        await CreatePurposeAsync("newsletter");
        for (var i = 0; i < 5; i++)
        {
            await SaveOkAsync(Customer, Decision("newsletter", i % 2 == 0));
        }

        var sequences = new List<long>();
        var ids = new HashSet<string>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var url = $"/api/v1/customers/{Customer}/consent-events?limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = await Admin.GetFromJsonAsync<JsonObject>(url);
            var items = page!["items"]!.AsArray();
            Assert.InRange(items.Count, 1, 2);
            foreach (var item in items)
            {
                sequences.Add(item!["sequence"]!.GetValue<long>());
                Assert.True(ids.Add(item["id"]!.GetValue<string>()), "An event appeared on two pages.");
            }

            cursor = page["nextCursor"]?.GetValue<string>();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal([5L, 4L, 3L, 2L, 1L], sequences);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task Events_FormAHashChain_FromANullPreviousHash()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        await SaveOkAsync(Customer, Decision("newsletter", true), Decision("analytics", true));
        await SaveOkAsync(Customer, Decision("analytics", false));
        await SaveOkAsync(Customer, Decision("newsletter", false), Decision("analytics", true));

        var chain = (await EventsAsync(Customer)).Reverse().ToList();

        Assert.Equal([1L, 2L, 3L, 4L, 5L], chain.Select(e => e!["sequence"]!.GetValue<long>()));
        Assert.Null(chain[0]!["previousHash"]);
        for (var i = 1; i < chain.Count; i++)
        {
            Assert.Equal(chain[i - 1]!["hash"]!.GetValue<string>(), chain[i]!["previousHash"]!.GetValue<string>());
        }

        Assert.Equal(chain.Count, chain.Select(e => e!["hash"]!.GetValue<string>()).Distinct().Count());
    }

    [Fact]
    public async Task Events_ChainsArePerCustomer()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync("c-a", Decision("newsletter", true));
        await SaveOkAsync("c-b", Decision("newsletter", true));

        var b = Assert.Single(await EventsAsync("c-b"))!;

        Assert.Equal(1L, b["sequence"]!.GetValue<long>());
        Assert.Null(b["previousHash"]);
    }

    [Fact]
    public async Task Events_OfAnUnknownCustomer_AreAnEmptyList()
    {
        var response = await Admin.GetAsync("/api/v1/customers/never-seen/consent-events");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await ReadJsonAsync(response);
        Assert.Empty(page["items"]!.AsArray());
        Assert.Null(page["nextCursor"]);
    }

    [Fact]
    public async Task Verify_IntactLedger_IsValid()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        await SaveOkAsync(Customer, Decision("newsletter", true), Decision("analytics", true));
        await SaveOkAsync(Customer, Decision("newsletter", false));

        var verification = await VerifyAsync(Customer);

        Assert.True(verification["valid"]!.GetValue<bool>());
        Assert.Equal(3, verification["events"]!.GetValue<long>());
        Assert.Null(verification["brokenAt"]);
    }

    [Fact]
    public async Task Verify_UnknownCustomer_IsValidWithNoEvents()
    {
        var verification = await VerifyAsync("never-seen");

        Assert.True(verification["valid"]!.GetValue<bool>());
        Assert.Equal(0, verification["events"]!.GetValue<long>());
        Assert.Null(verification["brokenAt"]);
    }

    [Fact]
    public async Task Verify_NeedsAnAdmin()
    {
        var asService = await (await ServiceAsync()).GetAsync($"/api/v1/customers/{Customer}/ledger/verify");
        var anonymous = await Anonymous.GetAsync($"/api/v1/customers/{Customer}/ledger/verify");

        await AssertProblemAsync(asService, HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(anonymous, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task ConcurrentSaves_ForOneCustomer_KeepOneUnbrokenChain()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        var service = await ServiceAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            service.PostAsJsonAsync($"/api/v1/customers/{Customer}/consents", new
            {
                decisions = new[] { Decision(i % 3 == 0 ? "analytics" : "newsletter", i % 2 == 0) },
                source = "web",
                collectionPoint = $"form-{i}",
            })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var verification = await VerifyAsync(Customer);
        Assert.True(verification["valid"]!.GetValue<bool>(), verification.ToJsonString());
        Assert.Equal(30, verification["events"]!.GetValue<long>());
        Assert.Equal(string.Join(',', Enumerable.Range(1, 30)), await Fixture.ScalarAsync<string>(
            "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM consent_events WHERE customer_id = $1", Customer));
        var events = await EventsAsync(Customer);
        Assert.Equal(Enumerable.Range(1, 30).Reverse().Select(i => (long)i), events.Select(e => e!["sequence"]!.GetValue<long>()));
        Assert.Equal(30, events.Select(e => e!["receiptId"]!.GetValue<string>()).Distinct().Count());

        // The state is the fold of the ledger under contention too: the last event per purpose wins.
        foreach (var purpose in new[] { "newsletter", "analytics" })
        {
            var last = events.First(e => e!["purposeKey"]!.GetValue<string>() == purpose)!;
            var state = await service.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{Customer}/consents/{purpose}");
            Assert.Equal(last["decision"]!.GetValue<string>(), state!["status"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData("UPDATE consent_events SET decision = 'granted' WHERE customer_id = $1")]
    [InlineData("DELETE FROM consent_events WHERE customer_id = $1")]
    public async Task Database_RefusesToChangeOrRemoveEvents(string sql)
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));
        await SaveOkAsync(Customer, Decision("newsletter", false));
        var before = await Fixture.RowCountsAsync();

        var refused = await Assert.ThrowsAsync<PostgresException>(() => Fixture.ExecuteAsync(sql, Customer));

        Assert.Equal(PostgresErrorCodes.RestrictViolation, refused.SqlState);
        Assert.Equal(before, await Fixture.RowCountsAsync());
        Assert.Equal("revoked", (await EventsAsync(Customer))[0]!["decision"]!.GetValue<string>());
        Assert.True((await VerifyAsync(Customer))["valid"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Verify_AfterADbaEditsAnEvent_IsInvalidAtThatEvent()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        await SaveOkAsync(Customer, Decision("newsletter", true));
        var revocation = await SaveOkAsync(Customer, Decision("newsletter", false));
        await SaveOkAsync(Customer, Decision("analytics", true));
        var edited = Guid.Parse(revocation["decisions"]![0]!["eventId"]!.GetValue<string>());

        await AsMaliciousDbaAsync("UPDATE consent_events SET decision = 'granted' WHERE customer_id = $1 AND id = $2", Customer, edited);
        var verification = await VerifyAsync(Customer);

        Assert.Equal("granted", await Fixture.ScalarAsync<string>(
            "SELECT decision FROM consent_events WHERE customer_id = $1 AND id = $2", Customer, edited));
        Assert.False(verification["valid"]!.GetValue<bool>());
        Assert.Equal(edited, Guid.Parse(verification["brokenAt"]!.GetValue<string>()));
        Assert.Equal(1, verification["events"]!.GetValue<long>());
    }

    [Fact]
    public async Task Verify_AfterADbaDeletesTheNewestEvent_IsInvalid()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));
        await SaveOkAsync(Customer, Decision("newsletter", false));
        await SaveOkAsync(Customer, Decision("newsletter", true));

        await AsMaliciousDbaAsync("DELETE FROM consent_events WHERE customer_id = $1 AND seq = 3", Customer);
        var verification = await VerifyAsync(Customer);

        Assert.Equal(2, (await EventsAsync(Customer)).Count);
        Assert.False(verification["valid"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Verify_AfterADbaDeletesAMiddleEvent_IsInvalidAtTheEventAfterIt()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));
        await SaveOkAsync(Customer, Decision("newsletter", false));
        var third = await SaveOkAsync(Customer, Decision("newsletter", true));

        await AsMaliciousDbaAsync("DELETE FROM consent_events WHERE customer_id = $1 AND seq = 2", Customer);
        var verification = await VerifyAsync(Customer);

        Assert.False(verification["valid"]!.GetValue<bool>());
        Assert.Equal(third["decisions"]![0]!["eventId"]!.GetValue<string>(), verification["brokenAt"]!.GetValue<string>());
        Assert.Equal(1, verification["events"]!.GetValue<long>());
    }

    [Fact]
    public async Task Verify_AfterTamperingWithOneCustomer_StillValidatesAnother()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));
        await SaveOkAsync("c-other", Decision("newsletter", true));

        await AsMaliciousDbaAsync("UPDATE consent_events SET decision = 'revoked' WHERE customer_id = $1", Customer);

        Assert.False((await VerifyAsync(Customer))["valid"]!.GetValue<bool>());
        Assert.True((await VerifyAsync("c-other"))["valid"]!.GetValue<bool>());
    }

    private static DateTimeOffset Time(JsonNode? node) =>
        DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture);

    /// <summary>The customer's whole ledger, newest first.</summary>

    /// <summary>What someone who owns the database can do: switch the append-only trigger off, change history, switch it on.</summary>
    private async Task AsMaliciousDbaAsync(string sql, params object[] parameters)
    {
        await using var connection = await Fixture.OpenAsync();
        await RunAsync(connection, "ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only");
        try
        {
            Assert.True(await RunAsync(connection, sql, parameters) > 0, "The tampering statement changed no row.");
        }
        finally
        {
            await RunAsync(connection, "ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only");
        }
    }

    private static async Task<int> RunAsync(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        return await command.ExecuteNonQueryAsync();
    }
}
