using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;
using ConsentApi.Lifecycle;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentApi.IntegrationTests.Lifecycle;

/// <summary>
/// The time dimension: grants that outlive their lifetime, notices that demand re-consent, and data
/// records past their retention. Time moves only with <c>Fixture.Clock.Advance</c>; the sweeper runs
/// only when a test calls it. Each test uses customer ids of its own, so no node cache of an earlier
/// test can answer for it.
/// </summary>
public sealed class ExpiryAndRetentionTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromDays(395);

    // ---- Expiry ------------------------------------------------------------------------------

    [Fact]
    public async Task Grant_PastItsLifetime_IsExpiredAndInactiveBeforeAnySweep()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));

        Fixture.Clock.Advance(TimeSpan.FromDays(396));
        var state = await StateAsync(customer, "newsletter");

        Assert.Equal("expired", state["status"]!.GetValue<string>());
        Assert.False(state["active"]!.GetValue<bool>());
        Assert.True(state["decisionNeeded"]!.GetValue<bool>());
        Assert.NotNull(state["grantedAt"]);
        Assert.NotNull(state["expiresAt"]);
        Assert.Single(await EventsAsync(customer)); // nothing swept yet: the status does not wait for the ledger
    }

    [Fact]
    public async Task Grant_PastItsLifetime_RefusesCollectionBeforeAnySweep()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);

        Fixture.Clock.Advance(TimeSpan.FromDays(396));
        var response = await CollectAsync(customer, "newsletter", "b@example.com");

        var problem = await AssertProblemAsync(response, HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal("expired", problem["consentStatus"]!.GetValue<string>());
        Assert.Equal(1, await RecordCountAsync(customer));
    }

    [Fact]
    public async Task Grant_JustBeforeItsLifetimeEnds_IsStillActive_AndTheSweepLeavesIt()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));

        Fixture.Clock.Advance(TimeSpan.FromDays(394));
        var result = await SweepAsync();

        Assert.Equal(0, result.ExpiredConsents);
        var state = await StateAsync(customer, "newsletter");
        Assert.Equal("granted", state["status"]!.GetValue<string>());
        Assert.True(state["active"]!.GetValue<bool>());
        Assert.Single(await EventsAsync(customer));
    }

    [Fact]
    public async Task Sweep_AfterLifetime_AppendsASystemExpiredEvent_AndTheLedgerVerifies()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        var receipt = await SaveOkAsync(customer, Decision("newsletter", true));

        Fixture.Clock.Advance(TimeSpan.FromDays(396));
        var result = await SweepAsync();

        Assert.Equal(1, result.ExpiredConsents);
        var events = await EventsAsync(customer);
        Assert.Equal(2, events.Count);
        var expiry = events[0]!; // newest first
        Assert.Equal("expired", expiry["decision"]!.GetValue<string>());
        Assert.Equal("system", expiry["source"]!.GetValue<string>());
        Assert.Equal("newsletter", expiry["purposeKey"]!.GetValue<string>());
        Assert.Equal(1, expiry["purposeVersion"]!.GetValue<int>());
        Assert.Equal(2, expiry["sequence"]!.GetValue<long>());
        Assert.Equal(events[1]!["hash"]!.GetValue<string>(), expiry["previousHash"]!.GetValue<string>());
        Assert.NotEqual(receipt["receiptId"]!.GetValue<Guid>(), expiry["receiptId"]!.GetValue<Guid>());

        var verify = await VerifyAsync(customer);
        Assert.True(verify["valid"]!.GetValue<bool>());
        Assert.Equal(2, verify["events"]!.GetValue<long>());
    }

    [Fact]
    public async Task Sweep_AfterLifetime_KeepsTheStateExpiredWithItsGrantedAtAndExpiresAt()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Fixture.Clock.Advance(TimeSpan.FromDays(396));
        var before = await StateAsync(customer, "newsletter");

        await SweepAsync();
        var after = await StateAsync(customer, "newsletter");

        Assert.Equal("expired", after["status"]!.GetValue<string>());
        Assert.False(after["active"]!.GetValue<bool>());
        Assert.True(after["decisionNeeded"]!.GetValue<bool>());
        var grantedAt = after["grantedAt"]!.GetValue<DateTimeOffset>();
        Assert.Equal(before["grantedAt"]!.GetValue<DateTimeOffset>(), grantedAt);
        Assert.Equal(before["expiresAt"]!.GetValue<DateTimeOffset>(), after["expiresAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(grantedAt + Lifetime, after["expiresAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(1, after["purposeVersion"]!.GetValue<int>());
        // The stored projection itself (the API may answer from its cache for a moment).
        Assert.Equal("expired", await Fixture.ScalarAsync<string>(
            "SELECT decision FROM consent_states WHERE customer_id = $1 AND purpose_key = 'newsletter'", customer));
        Assert.Equal(grantedAt, await DbTimeAsync(
            "SELECT decided_at FROM consent_states WHERE customer_id = $1 AND purpose_key = 'newsletter'", customer));
        Assert.Equal(grantedAt + Lifetime, await DbTimeAsync(
            "SELECT expires_at FROM consent_states WHERE customer_id = $1 AND purpose_key = 'newsletter'", customer));
    }

    [Fact]
    public async Task Sweep_RunTwice_AddsNothingTheSecondTime()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Fixture.Clock.Advance(TimeSpan.FromDays(396));
        await SweepAsync();
        var before = await Fixture.RowCountsAsync();

        Fixture.Clock.Advance(TimeSpan.FromDays(1));
        var second = await SweepAsync();

        Assert.Equal(0, second.ExpiredConsents);
        Assert.Equal(0, second.DeletedRecords);
        Assert.Equal(before, await Fixture.RowCountsAsync());
        Assert.Equal(2, (await EventsAsync(customer)).Count);
    }

    [Fact]
    public async Task TwoSweepersAtOnce_RecordEachExpiryExactlyOnce()
    {
        await CreatePurposeAsync();
        var customers = Enumerable.Range(0, 10).Select(_ => NewCustomer()).ToList();
        foreach (var customer in customers)
        {
            await SaveOkAsync(customer, Decision("newsletter", true));
        }

        Fixture.Clock.Advance(TimeSpan.FromDays(396));
        var results = await SweepConcurrentlyAsync(2);

        Assert.Equal(10, results.Sum(r => r.ExpiredConsents));
        Assert.Equal(10, await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_events WHERE decision = 'expired'"));
        foreach (var customer in customers)
        {
            var events = await EventsAsync(customer);
            Assert.Equal(["expired", "granted"], events.Select(e => e!["decision"]!.GetValue<string>()));
            Assert.True((await VerifyAsync(customer))["valid"]!.GetValue<bool>());
        }
    }

    [Fact]
    public async Task Sweep_ExpiresOnlyTheGrantsWhoseLifetimeHasPassed()
    {
        await CreatePurposeAsync();
        var early = NewCustomer();
        var late = NewCustomer();
        await SaveOkAsync(early, Decision("newsletter", true));
        Fixture.Clock.Advance(TimeSpan.FromDays(200));
        await SaveOkAsync(late, Decision("newsletter", true));

        Fixture.Clock.Advance(TimeSpan.FromDays(196)); // early: 396 days old; late: 196
        var result = await SweepAsync();

        Assert.Equal(1, result.ExpiredConsents);
        Assert.Equal("expired", (await EventsAsync(early))[0]!["decision"]!.GetValue<string>());
        Assert.Single(await EventsAsync(late));
        Assert.True((await StateAsync(late, "newsletter"))["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task PurposeWithoutLifetime_NeverExpires()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p => p["consentLifetimeDays"] = null);
        await SaveOkAsync(customer, Decision("newsletter", true));

        Fixture.Clock.Advance(TimeSpan.FromDays(3650));
        var result = await SweepAsync();

        Assert.Equal(0, result.ExpiredConsents);
        var state = await StateAsync(customer, "newsletter");
        Assert.Equal("granted", state["status"]!.GetValue<string>());
        Assert.True(state["active"]!.GetValue<bool>());
        Assert.Null(state["expiresAt"]);
        Assert.Single(await EventsAsync(customer));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);
    }

    [Fact]
    public async Task Regrant_AfterExpiry_IsGrantedAgainWithANewLifetime()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Fixture.Clock.Advance(TimeSpan.FromDays(396));
        Assert.Equal("expired", (await StateAsync(customer, "newsletter"))["status"]!.GetValue<string>());
        await SweepAsync();

        await SaveOkAsync(customer, Decision("newsletter", true));

        var state = await EventuallyAsync(() => StateAsync(customer, "newsletter"), s => s["status"]!.GetValue<string>() == "granted");
        Assert.Equal("granted", state["status"]!.GetValue<string>());
        Assert.True(state["active"]!.GetValue<bool>());
        Assert.False(state["decisionNeeded"]!.GetValue<bool>());
        var grantedAt = state["grantedAt"]!.GetValue<DateTimeOffset>();
        Assert.True(grantedAt > Fixture.Clock.GetUtcNow() - TimeSpan.FromMinutes(1), "grantedAt should be the re-grant's time");
        Assert.Equal(grantedAt + Lifetime, state["expiresAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(["granted", "expired", "granted"], (await EventsAsync(customer)).Select(e => e!["decision"]!.GetValue<string>()));
        Assert.True((await VerifyAsync(customer))["valid"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.Created, (await CollectEventuallyAsync(customer, "newsletter", "a@example.com")).StatusCode);
    }

    [Fact]
    public async Task Revocation_AfterExpiry_IsRecordedAndTheSweepDoesNotExpireIt()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Fixture.Clock.Advance(TimeSpan.FromDays(396));

        await SaveOkAsync(customer, Decision("newsletter", false, version: null));
        var result = await SweepAsync();

        Assert.Equal(0, result.ExpiredConsents);
        Assert.Equal(["revoked", "granted"], (await EventsAsync(customer)).Select(e => e!["decision"]!.GetValue<string>()));
        var state = await EventuallyAsync(() => StateAsync(customer, "newsletter"), s => s["status"]!.GetValue<string>() == "revoked");
        Assert.Equal("revoked", state["status"]!.GetValue<string>());
    }

    // ---- Re-consent --------------------------------------------------------------------------

    [Fact]
    public async Task UpdateRequiringReconsent_MakesTheOlderGrantOutdated_InTheConsentList()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync("reconsent-list");
        await SaveOkAsync(customer, Decision("reconsent-list", true));

        await UpdatePurposeAsync("reconsent-list", requiresReconsent: true);
        var item = await ListItemAsync(customer, "reconsent-list");

        Assert.Equal("outdated", item["status"]!.GetValue<string>());
        Assert.False(item["active"]!.GetValue<bool>());
        Assert.True(item["decisionNeeded"]!.GetValue<bool>());
        Assert.Equal(2, item["currentVersion"]!.GetValue<int>());
        Assert.Equal(1, item["purposeVersion"]!.GetValue<int>());
    }

    [Fact]
    public async Task UpdateRequiringReconsent_RefusesCollectionUnderTheOutdatedGrant()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync("reconsent-collect");
        await SaveOkAsync(customer, Decision("reconsent-collect", true));

        await UpdatePurposeAsync("reconsent-collect", requiresReconsent: true);
        var response = await CollectAsync(customer, "reconsent-collect", "a@example.com");

        var problem = await AssertProblemAsync(response, HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal("outdated", problem["consentStatus"]!.GetValue<string>());
        Assert.Equal(0, await RecordCountAsync(customer));
    }

    [Fact]
    public async Task UpdateWithoutReconsent_KeepsTheOlderGrantActive()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync("reconsent-not");
        await SaveOkAsync(customer, Decision("reconsent-not", true));

        await UpdatePurposeAsync("reconsent-not", requiresReconsent: false);
        var item = await ListItemAsync(customer, "reconsent-not");

        Assert.Equal("granted", item["status"]!.GetValue<string>());
        Assert.True(item["active"]!.GetValue<bool>());
        Assert.False(item["decisionNeeded"]!.GetValue<bool>());
        Assert.Equal(2, item["currentVersion"]!.GetValue<int>());
    }

    [Fact]
    public async Task GrantOfTheNewVersion_AfterReconsentUpdate_IsActiveAgain()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync("reconsent-again");
        await SaveOkAsync(customer, Decision("reconsent-again", true));
        await UpdatePurposeAsync("reconsent-again", requiresReconsent: true);

        await SaveOkAsync(customer, Decision("reconsent-again", true, version: 2));

        var item = await EventuallyAsync(() => ListItemAsync(customer, "reconsent-again"), s => s["status"]!.GetValue<string>() == "granted");
        Assert.Equal("granted", item["status"]!.GetValue<string>());
        Assert.False(item["decisionNeeded"]!.GetValue<bool>());
        Assert.Equal(2, item["purposeVersion"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.Created, (await CollectEventuallyAsync(customer, "reconsent-again", "a@example.com")).StatusCode);
    }

    // ---- Retention ---------------------------------------------------------------------------

    [Fact]
    public async Task Sweep_RecordPastRetention_IsDeletedAndLoggedAsRetention()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p => p["retentionDays"] = 30);
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);

        Fixture.Clock.Advance(TimeSpan.FromDays(31));
        var result = await SweepAsync();

        Assert.Equal(1, result.DeletedRecords);
        Assert.Equal(0, await RecordCountAsync(customer));
        Assert.Equal(1, await Fixture.ScalarAsync<long>("SELECT count(*) FROM deletion_log WHERE customer_id = $1", customer));
        Assert.Equal("retention", await Fixture.ScalarAsync<string>("SELECT reason FROM deletion_log WHERE customer_id = $1", customer));
        Assert.Equal(1, await Fixture.ScalarAsync<int>("SELECT record_count FROM deletion_log WHERE customer_id = $1", customer));
        Assert.Equal("newsletter", await Fixture.ScalarAsync<string>("SELECT purpose_key FROM deletion_log WHERE customer_id = $1", customer));

        var deletion = Assert.Single((await Customer360Async(customer))["deletions"]!.AsArray())!;
        Assert.Equal("newsletter", deletion["purpose"]!.GetValue<string>());
        Assert.Equal(1, deletion["recordCount"]!.GetValue<int>());
        Assert.Equal("retention", deletion["reason"]!.GetValue<string>());
        Assert.True(deletion["deletedAt"]!.GetValue<DateTimeOffset>() > Fixture.Clock.GetUtcNow() - TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Sweep_LeavesRecordsThatHaveNotExpiredYet()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p => p["retentionDays"] = 30);
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "old@example.com")).StatusCode);
        Fixture.Clock.Advance(TimeSpan.FromDays(20));
        var young = await ReadJsonAsync(await CollectAsync(customer, "newsletter", "young@example.com"));

        Fixture.Clock.Advance(TimeSpan.FromDays(11)); // the first is 31 days old, the second 11
        var result = await SweepAsync();

        Assert.Equal(1, result.DeletedRecords);
        Assert.Equal(1, await RecordCountAsync(customer));
        Assert.Equal(young["id"]!.GetValue<Guid>(), await Fixture.ScalarAsync<Guid>("SELECT id FROM data_records WHERE customer_id = $1", customer));
        Assert.Equal(1, await Fixture.ScalarAsync<long>("SELECT sum(record_count) FROM deletion_log WHERE customer_id = $1", customer));
        var records = Assert.Single((await Customer360Async(customer))["purposes"]!.AsArray())!["records"]!.AsArray();
        Assert.Equal(young["id"]!.GetValue<Guid>(), Assert.Single(records)!["id"]!.GetValue<Guid>());
    }

    [Fact]
    public async Task Sweep_WithNothingExpired_WritesNothing()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p => p["retentionDays"] = 30);
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);
        Fixture.Clock.Advance(TimeSpan.FromDays(29));
        var before = await Fixture.RowCountsAsync();

        var result = await SweepAsync();

        Assert.Equal(new LifecycleSweeper.SweepResult(0, 0), result);
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Sweep_LogsOneEntryPerCustomerAndPurposeWithItsCount()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p => p["retentionDays"] = 30);
        await CreatePurposeAsync("offers", p => p["retentionDays"] = 30);
        await SaveOkAsync(customer, Decision("newsletter", true), Decision("offers", true));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", $"n{i}@example.com")).StatusCode);
        }

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "offers", $"o{i}@example.com")).StatusCode);
        }

        Fixture.Clock.Advance(TimeSpan.FromDays(31));
        var result = await SweepAsync();

        Assert.Equal(5, result.DeletedRecords);
        var deletions = (await Customer360Async(customer))["deletions"]!.AsArray()
            .ToDictionary(d => d!["purpose"]!.GetValue<string>(), d => d!["recordCount"]!.GetValue<int>());
        Assert.Equal(new Dictionary<string, int> { ["newsletter"] = 3, ["offers"] = 2 }, deletions);
    }

    [Fact]
    public async Task TwoSweepersAtOnce_DeleteEveryExpiredRecordExactlyOnce()
    {
        await CreatePurposeAsync(change: p => p["retentionDays"] = 30);
        var customers = Enumerable.Range(0, 5).Select(_ => NewCustomer()).ToList();
        foreach (var customer in customers)
        {
            await SaveOkAsync(customer, Decision("newsletter", true));
            for (var i = 0; i < 10; i++)
            {
                Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", $"r{i}@example.com")).StatusCode);
            }
        }

        Assert.Equal(50, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records"));

        Fixture.Clock.Advance(TimeSpan.FromDays(31));
        var results = await SweepConcurrentlyAsync(2);

        Assert.Equal(50, results.Sum(r => r.DeletedRecords));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records"));
        Assert.Equal(50, await Fixture.ScalarAsync<long>("SELECT sum(record_count) FROM deletion_log"));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM deletion_log WHERE reason <> 'retention'"));
        foreach (var customer in customers)
        {
            Assert.Equal(10, await Fixture.ScalarAsync<long>("SELECT sum(record_count) FROM deletion_log WHERE customer_id = $1", customer));
        }
    }

    [Fact]
    public async Task ExpiredButUnsweptRecords_AreAlreadyHiddenFromThe360AndTheExport()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p => p["retentionDays"] = 30);
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);

        Fixture.Clock.Advance(TimeSpan.FromDays(31));
        var view = await Customer360Async(customer);
        var export = (await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{customer}/export"))!;

        Assert.Equal(1, await RecordCountAsync(customer)); // not swept yet
        Assert.Empty(Assert.Single(view["purposes"]!.AsArray())!["records"]!.AsArray());
        Assert.Empty(export["data"]!.AsArray());
    }

    // ---- Revocation --------------------------------------------------------------------------

    [Fact]
    public async Task Revoke_WithDeletePolicy_LogsTheDeletionAsRevocation()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "b@example.com")).StatusCode);

        await SaveOkAsync(customer, Decision("newsletter", false, version: null));

        Assert.Equal(0, await RecordCountAsync(customer));
        Assert.Equal("revocation", await Fixture.ScalarAsync<string>("SELECT reason FROM deletion_log WHERE customer_id = $1", customer));
        var deletion = Assert.Single((await Customer360Async(customer))["deletions"]!.AsArray())!;
        Assert.Equal("revocation", deletion["reason"]!.GetValue<string>());
        Assert.Equal(2, deletion["recordCount"]!.GetValue<int>());
        Assert.Equal("newsletter", deletion["purpose"]!.GetValue<string>());
    }

    [Fact]
    public async Task Revoke_WithDeletePolicyButNoData_LogsNoDeletion()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));

        await SaveOkAsync(customer, Decision("newsletter", false, version: null));

        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM deletion_log WHERE customer_id = $1", customer));
    }

    [Fact]
    public async Task Revoke_WithRetainPolicy_LogsNothing_AndRetentionStillDeletesTheDataLater()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p =>
        {
            p["onRevoke"] = "retain";
            p["retentionDays"] = 30;
        });
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);

        await SaveOkAsync(customer, Decision("newsletter", false, version: null));
        Assert.Equal(1, await RecordCountAsync(customer));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM deletion_log WHERE customer_id = $1", customer));

        Fixture.Clock.Advance(TimeSpan.FromDays(31));
        await SweepAsync();

        Assert.Equal(0, await RecordCountAsync(customer));
        Assert.Equal("retention", await Fixture.ScalarAsync<string>("SELECT reason FROM deletion_log WHERE customer_id = $1", customer));
    }

    // ---- Helpers -----------------------------------------------------------------------------

    private static string NewCustomer() => "c-" + Guid.NewGuid().ToString("N")[..12];

    private async Task<HttpResponseMessage> CollectAsync(string customerId, string purpose, string email) =>
        await (await ServiceAsync()).PostAsJsonAsync($"/api/v1/customers/{customerId}/data/{purpose}", new { fields = new { email } });

    /// <summary>
    /// Collection right after a grant that follows a refused collection: the node's consent cache may
    /// still hold the refusal until the grant's notification lands (bounded by MaxStalenessMs).
    /// </summary>
    private async Task<HttpResponseMessage> CollectEventuallyAsync(string customerId, string purpose, string email)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var response = await CollectAsync(customerId, purpose, email);
            if (response.StatusCode != HttpStatusCode.Forbidden || waited.Elapsed > TimeSpan.FromSeconds(3))
            {
                return response;
            }

            await Task.Delay(20);
        }
    }

    private static async Task<JsonObject> EventuallyAsync(Func<Task<JsonObject>> read, Func<JsonObject, bool> done)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (done(value) || waited.Elapsed > TimeSpan.FromSeconds(3))
            {
                return value;
            }

            await Task.Delay(20);
        }
    }

    private async Task<DateTimeOffset> DbTimeAsync(string sql, string customerId) =>
        new(DateTime.SpecifyKind(await Fixture.ScalarAsync<DateTime>(sql, customerId), DateTimeKind.Utc));

    private Task<long> RecordCountAsync(string customerId) =>
        Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", customerId);

    private async Task<JsonObject> StateAsync(string customerId, string purpose) =>
        (await (await ServiceAsync()).GetFromJsonAsync<JsonObject>($"/api/v1/customers/{customerId}/consents/{purpose}"))!;

    private async Task<JsonObject> ListItemAsync(string customerId, string purpose)
    {
        var list = (await (await ServiceAsync()).GetFromJsonAsync<JsonObject>($"/api/v1/customers/{customerId}/consents"))!;
        return list["items"]!.AsArray().Single(i => i!["purpose"]!.GetValue<string>() == purpose)!.AsObject();
    }

    private async Task UpdatePurposeAsync(string key, bool requiresReconsent)
    {
        var body = PurposeBody(key, b =>
        {
            b.Remove("key");
            b["description"] = "We email you our news monthly.";
            b["requiresReconsent"] = requiresReconsent;
        });
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/purposes/{key}") { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        var response = await Admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, (await ReadJsonAsync(response))["version"]!.GetValue<int>());
    }

    private async Task<LifecycleSweeper.SweepResult> SweepAsync()
    {
        using var scope = Fixture.Factory.Services.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<LifecycleSweeper>().SweepOnceAsync(CancellationToken.None);
    }

    private async Task<LifecycleSweeper.SweepResult[]> SweepConcurrentlyAsync(int sweepers)
    {
        var scopes = Enumerable.Range(0, sweepers).Select(_ => Fixture.Factory.Services.CreateScope()).ToList();
        try
        {
            return await Task.WhenAll(scopes.Select(s =>
                Task.Run(() => s.ServiceProvider.GetRequiredService<LifecycleSweeper>().SweepOnceAsync(CancellationToken.None))));
        }
        finally
        {
            foreach (var scope in scopes)
            {
                scope.Dispose();
            }
        }
    }
}
