using System.Net;
using System.Net.Http.Json;
using ConsentApi.IntegrationTests.Infrastructure;
using Npgsql;

namespace ConsentApi.IntegrationTests.Collection;

/// <summary>
/// An API whose consent cache keeps answers for ten minutes: only a notification refreshes it, so a
/// change made by SQL (which sends none) leaves the node's cache wrong for the rest of the test.
/// </summary>
public sealed class LongCacheFixture : ApiFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ConsentCache:MaxStalenessMs"] = "600000",
    };
}

/// <summary>
/// The collection's one-statement fast path (docs/collection.md): it trusts what the node knows only
/// as far as the database still agrees under row locks. Each race holds a competing change open in a
/// transaction of the test's own, waits until the collection's statement is blocked on it (seen in
/// <c>pg_stat_activity</c>, so the fast path is the one racing), then commits the change.
/// </summary>
public sealed class CollectionFastPathTests(LongCacheFixture fixture) : ApiTest(fixture), IClassFixture<LongCacheFixture>
{
    private const string FastPathStatement = "WITH head AS MATERIALIZED%";

    private async Task<HttpResponseMessage> CollectAsync(string email, string field = "email") =>
        await (await ServiceAsync()).PostAsJsonAsync("/api/v1/customers/c-42/data/newsletter",
            new { fields = new Dictionary<string, string> { [field] = email } });

    private Task<long> RecordCountAsync() =>
        Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = 'c-42'");

    /// <summary>
    /// A granted customer and two stored records: the first teaches the node the notice, the second
    /// goes the fast path. The node's cache now holds the grant, and keeps it.
    /// </summary>
    private async Task GrantedAndWarmAsync()
    {
        await CreatePurposeAsync(change: p => p["onRevoke"] = "retain");
        await SaveOkAsync("c-42", Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync("warm-1@example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync("warm-2@example.com")).StatusCode);
    }

    [Fact]
    public async Task FastPath_RacingARevocation_WaitsForItAndIsRefused()
    {
        await GrantedAndWarmAsync();
        // Stops the revocation after it has locked the customer's head (it takes the purpose's shared lock next,
        // which this exclusive one, a purpose change's, holds off).
        await using var transaction = await HoldAsync(PurposeChangeLock("newsletter"));
        var revocation = Task.Run(() => SaveAsync("c-42", Decision("newsletter", false)));
        await AssertBlockedAsync("%pg_advisory_xact_lock_shared%"); // the save's purpose lock (LedgerStore)

        var collection = Task.Run(() => CollectAsync("late@example.com"));
        await AssertBlockedAsync(FastPathStatement); // on the head the revocation holds
        await transaction.CommitAsync();

        Assert.Equal(HttpStatusCode.Created, (await revocation).StatusCode);
        var problem = await AssertProblemAsync(await collection, HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal("revoked", problem["consentStatus"]!.GetValue<string>());
        Assert.Equal(2, await RecordCountAsync()); // the warm-up records (onRevoke: retain), not the late one
    }

    [Fact]
    public async Task FastPath_RacingARetirement_WaitsForItAndIsRefused()
    {
        await GrantedAndWarmAsync();
        // What DELETE /purposes/{key} does in the database, held open.
        await using var transaction = await HoldAsync("UPDATE purposes SET status = 'retired', updated_at = now() WHERE key = 'newsletter'");

        var collection = Task.Run(() => CollectAsync("late@example.com"));
        await AssertBlockedAsync(FastPathStatement); // on the purpose row
        await transaction.CommitAsync();

        await AssertFieldProblemAsync(await collection, HttpStatusCode.UnprocessableEntity, "purpose");
        Assert.Equal(2, await RecordCountAsync());
    }

    [Fact]
    public async Task FastPath_RacingANewVersionThatRequiresReconsent_WaitsForItAndIsRefused()
    {
        await GrantedAndWarmAsync();
        // What PUT /purposes/{key} with requiresReconsent does in the database, held open.
        await using var transaction = await HoldAsync("""
            INSERT INTO purpose_versions (purpose_key, version, name, description, data_categories, recipients, retention_days,
                legal_basis, consent_model, consent_lifetime_days, honors_gpc, automated_decisions, on_revoke, requires_reconsent, created_at)
            SELECT purpose_key, 2, name, description, data_categories, recipients, retention_days, legal_basis, consent_model,
                   consent_lifetime_days, honors_gpc, automated_decisions, on_revoke, true, now()
            FROM purpose_versions WHERE purpose_key = 'newsletter' AND version = 1;
            UPDATE purposes SET current_version = 2, reconsent_from_version = 2, updated_at = now() WHERE key = 'newsletter';
            """);

        var collection = Task.Run(() => CollectAsync("late@example.com"));
        await AssertBlockedAsync(FastPathStatement); // on the purpose row
        await transaction.CommitAsync();

        var problem = await AssertProblemAsync(await collection, HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal("outdated", problem["consentStatus"]!.GetValue<string>());
        Assert.Equal(2, await RecordCountAsync());
    }

    /// <summary>
    /// The database changed without a notification, so the node's cache still says "granted" (or
    /// holds the notice of a purpose that is gone): the statement finds the facts changed, and the
    /// full path answers from the database — refusing when consent is not active, storing when it is.
    /// </summary>
    [Theory]
    [InlineData("UPDATE consent_states SET decision = 'revoked', expires_at = NULL", HttpStatusCode.Forbidden)]
    [InlineData("UPDATE consent_states SET expires_at = decided_at", HttpStatusCode.Forbidden)]
    [InlineData("UPDATE purposes SET status = 'retired'", HttpStatusCode.UnprocessableEntity)]
    [InlineData("UPDATE purposes SET reconsent_from_version = 2", HttpStatusCode.Forbidden)]
    // Another purpose under the same key (as after the tests' TRUNCATE) that declares other fields.
    [InlineData("""
        UPDATE purposes SET created_at = created_at + interval '1 second';
        UPDATE purpose_versions SET data_categories = '[{"key":"phone","description":"Phone","sensitive":false}]'
        """, HttpStatusCode.UnprocessableEntity)]
    // Still granted, by another event: the fast path yields and the full path stores.
    [InlineData("UPDATE consent_states SET last_event_id = gen_random_uuid()", HttpStatusCode.Created)]
    public async Task FastPath_WithAStaleCache_NeverStoresWhatTheDatabaseRefuses(string change, HttpStatusCode expected)
    {
        await GrantedAndWarmAsync();
        await Fixture.ExecuteAsync(change);

        var response = await CollectAsync("after@example.com");

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(expected == HttpStatusCode.Created ? 3 : 2, await RecordCountAsync());
    }
}
