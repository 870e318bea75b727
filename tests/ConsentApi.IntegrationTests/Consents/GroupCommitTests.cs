using System.Net;
using System.Net.Http.Json;
using ConsentApi.Consents;
using ConsentApi.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ConsentApi.IntegrationTests.Consents;

/// <summary>
/// Saves of different customers that arrive together commit in one transaction, and each is still
/// answered as if alone (docs/ledger-and-hash-chain.md, "Group commit"). Each test holds the purpose's
/// exclusive lock, as a retirement does, so the writer's transaction blocks on it; queues more saves
/// behind it; then lets go. Which transaction wrote a row is its <c>xmin</c>.
/// </summary>
public sealed class GroupCommitTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const string DoomedAtCommit = "c-doomed-in-company";

    public override async Task InitializeAsync()
    {
        await Fixture.ExecuteAsync($"""
            CREATE OR REPLACE FUNCTION doom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'doomed by the test'; END $$;
            DROP TRIGGER IF EXISTS doom_in_company ON consent_events;
            CREATE CONSTRAINT TRIGGER doom_in_company AFTER INSERT ON consent_events
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.customer_id = '{DoomedAtCommit}') EXECUTE FUNCTION doom();
            """);
        await base.InitializeAsync();
        await CreatePurposeAsync();
    }

    [Fact]
    public async Task SavesThatArriveDuringACommit_CommitTogether_AndEachGetsItsOwnReceipt()
    {
        var customers = Enumerable.Range(1, 8).Select(i => $"c-{i}").ToList();

        var responses = await WhileTheWriterIsBlockedAsync([.. customers.Select(Grant)]);

        foreach (var (customer, response) in customers.Zip(responses))
        {
            var receipt = await ReadJsonAsync(response);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal(customer, receipt["customerId"]!.GetValue<string>());
            Assert.Single(receipt["decisions"]!.AsArray());
            Assert.Single(await EventsAsync(customer));
            Assert.True((await VerifyAsync(customer))["valid"]!.GetValue<bool>());
        }

        Assert.Equal(1, await TransactionsAsync(customers));
    }

    [Fact]
    public async Task ARefusedSave_AmongOthers_IsRefusedAlone_AndLeavesNoTrace()
    {
        string[] customers = ["c-1", "c-2", "c-3"];
        await SaveOkAsync("c-known", Decision("newsletter", true));
        var responses = await WhileTheWriterIsBlockedAsync(
            [.. customers.Select(Grant), () => SaveAsync("c-refused", Decision("newsletter", true), Decision("no-such-purpose", true)),
                () => SaveAsync("c-known", Decision("newsletter", false, version: 9))]);

        Assert.All(responses[..3], r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        await AssertFieldProblemAsync(responses[3], HttpStatusCode.UnprocessableEntity, "decisions[1].purpose");
        await AssertFieldProblemAsync(responses[4], HttpStatusCode.UnprocessableEntity, "decisions[0].purposeVersion");
        Assert.Single(await EventsAsync("c-known")); // a known customer refused keeps its head and chain as they were
        Assert.Equal(1, await Fixture.ScalarAsync<long>("SELECT last_seq FROM ledger_heads WHERE customer_id = 'c-known'"));
        Assert.True((await VerifyAsync("c-known"))["valid"]!.GetValue<bool>());
        Assert.Equal(1, await TransactionsAsync(customers));
        Assert.Empty(await EventsAsync("c-refused"));
        // Its first save was refused, so not even the head its lock created remains.
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM ledger_heads WHERE customer_id = 'c-refused'"));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM receipts WHERE customer_id = 'c-refused'"));
    }

    [Fact]
    public async Task ASaveThatFailsAtCommit_AmongOthers_FailsAlone()
    {
        string[] customers = ["c-1", "c-2", "c-3"];
        var responses = await WhileTheWriterIsBlockedAsync([.. customers.Select(Grant), Grant(DoomedAtCommit)]);

        Assert.All(responses[..3], r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        Assert.Equal(HttpStatusCode.InternalServerError, responses[3].StatusCode);
        foreach (var customer in customers)
        {
            Assert.Single(await EventsAsync(customer));
        }

        Assert.Empty(await EventsAsync(DoomedAtCommit));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_states WHERE customer_id = $1", DoomedAtCommit));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM outbox WHERE customer_id = $1", DoomedAtCommit));
    }

    [Fact]
    public async Task WithdrawalsAmongOtherSaves_EachDeleteTheirOwnCustomersData_AndLogIt()
    {
        string[] customers = ["c-1", "c-2", "c-3"];
        var service = await ServiceAsync();
        foreach (var customer in customers)
        {
            await SaveOkAsync(customer, Decision("newsletter", true));
            var collected = await service.PostAsJsonAsync($"/api/v1/customers/{customer}/data/newsletter",
                new { fields = new { email = $"{customer}@example.com" } });
            Assert.Equal(HttpStatusCode.Created, collected.StatusCode);
        }

        var responses = await WhileTheWriterIsBlockedAsync(
            () => SaveAsync("c-1", Decision("newsletter", false)), () => SaveAsync("c-2", Decision("newsletter", false)), Grant("c-4"));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        Assert.Equal(0, await RecordsAsync("c-1"));
        Assert.Equal(0, await RecordsAsync("c-2"));
        Assert.Equal(1, await RecordsAsync("c-3")); // its customer kept its grant
        Assert.Equal(1, await Fixture.ScalarAsync<long>(
            "SELECT count(DISTINCT xmin::text) FROM deletion_log WHERE customer_id IN ('c-1', 'c-2')")); // one transaction
        foreach (var customer in new[] { "c-1", "c-2" })
        {
            Assert.Equal(1, await Fixture.ScalarAsync<int>(
                "SELECT record_count FROM deletion_log WHERE customer_id = $1 AND reason = 'revocation'", customer));
        }

        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM deletion_log WHERE customer_id = 'c-3'"));
    }

    private Task<long> RecordsAsync(string customerId) =>
        Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", customerId);

    [Fact]
    public async Task TwoSavesOfOneCustomer_ArrivingTogether_CommitInTurn_OnOneChain()
    {
        var responses = await WhileTheWriterIsBlockedAsync(Grant("c-1"), () => SaveAsync("c-1", Decision("newsletter", false)), Grant("c-2"));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var events = await EventsAsync("c-1");
        Assert.Equal([2L, 1L], events.Select(e => e!["sequence"]!.GetValue<long>()));
        Assert.True((await VerifyAsync("c-1"))["valid"]!.GetValue<bool>());
        Assert.Equal(2, await TransactionsAsync(["c-1"]));
    }

    [Fact]
    public async Task RetriesWithOneIdempotencyKey_ArrivingTogether_AppendOnce()
    {
        var body = new { decisions = new[] { Decision("newsletter", true) }, source = "web" };
        Task<HttpResponseMessage> Retry() => PostConsentsAsync("c-1", body, "retry-1");

        var responses = await WhileTheWriterIsBlockedAsync(Retry, Retry, Retry);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var receipts = await Task.WhenAll(responses.Select(async r => (await ReadJsonAsync(r))["receiptId"]!.GetValue<Guid>()));
        Assert.Single(receipts.Distinct());
        Assert.Equal(2, responses.Count(r => r.Headers.Contains("Idempotent-Replayed")));
        Assert.Single(await EventsAsync("c-1"));
    }

    [Fact]
    public async Task AReplay_AmongNewSaves_AnswersTheFirstReceipt_AndOneKeyServesEachCustomerApart()
    {
        Func<Task<HttpResponseMessage>> Keyed(string customerId, bool granted) => () =>
            PostConsentsAsync(customerId, new { decisions = new[] { Decision("newsletter", granted) }, source = "web" }, "key-1");
        var original = await Keyed("c-1", true)();
        var firstReceipt = (await ReadJsonAsync(original))["receiptId"]!.GetValue<Guid>();

        var responses = await WhileTheWriterIsBlockedAsync(Keyed("c-1", true), Keyed("c-2", false), Grant("c-3"));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        Assert.True(responses[0].Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(firstReceipt, (await ReadJsonAsync(responses[0]))["receiptId"]!.GetValue<Guid>());
        Assert.False(responses[1].Headers.Contains("Idempotent-Replayed")); // the same key, another customer: a save of its own
        Assert.Single(await EventsAsync("c-1"));
        Assert.Equal("revoked", (await EventsAsync("c-2"))[0]!["decision"]!.GetValue<string>());
        Assert.Equal(1, await TransactionsAsync(["c-2", "c-3"]));
    }

    [Fact]
    public async Task ATransactionWaitingOnACustomersLock_GivesBackTheOtherHeads_AndItsSavesGoOneByOne()
    {
        string[] customers = ["c-1", "c-2", "c-3"];
        foreach (var customer in customers)
        {
            await SaveOkAsync(customer, Decision("newsletter", true));
        }

        // c-2's head held as an erasure holds it, for longer than a shared transaction waits.
        await using var erasure = await HoldAsync("SELECT * FROM ledger_heads WHERE customer_id = 'c-2' FOR UPDATE");

        var saves = await QueueWhileTheWriterIsBlockedAsync([.. customers.Select(c => (Func<Task<HttpResponseMessage>>)(() =>
            SaveAsync(c, Decision("newsletter", false))))]);

        // The shared transaction locked c-1, waited on c-2, gave up after the lock timeout: c-1's head is free
        // again while c-2's save still waits, now alone.
        await using var probe = await Fixture.OpenAsync();
        for (var attempt = 0; !await HeadIsFreeAsync(probe, "c-1"); attempt++)
        {
            Assert.True(attempt < 100, "The shared transaction kept c-1's head while it waited on c-2's.");
            await Task.Delay(50);
        }

        Assert.False(saves[1].IsCompleted);
        await erasure.CommitAsync();
        Assert.All(await Task.WhenAll(saves), r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        Assert.Equal(3, await Fixture.ScalarAsync<long>(
            "SELECT count(DISTINCT xmin::text) FROM consent_events WHERE customer_id = ANY($1) AND seq = 2", (object)customers));
    }

    private static async Task<bool> HeadIsFreeAsync(NpgsqlConnection connection, string customerId)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("SELECT 1 FROM ledger_heads WHERE customer_id = $1 FOR UPDATE NOWAIT", connection, transaction)
        {
            Parameters = { new() { Value = customerId } },
        };
        try
        {
            await command.ExecuteScalarAsync();
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            return false;
        }
    }

    private Func<Task<HttpResponseMessage>> Grant(string customerId) => () => SaveAsync(customerId, Decision("newsletter", true));

    /// <summary>
    /// Blocks the writer on a save of its own (customer <c>c-first</c>) behind the purpose's exclusive lock,
    /// starts <paramref name="saves"/> and waits until all of them are queued, then releases the lock and
    /// waits for their answers.
    /// </summary>
    private async Task<HttpResponseMessage[]> WhileTheWriterIsBlockedAsync(params Func<Task<HttpResponseMessage>>[] saves) =>
        await Task.WhenAll(await QueueWhileTheWriterIsBlockedAsync(saves));

    /// <summary>As <see cref="WhileTheWriterIsBlockedAsync"/>, without waiting for the answers.</summary>
    private async Task<List<Task<HttpResponseMessage>>> QueueWhileTheWriterIsBlockedAsync(params Func<Task<HttpResponseMessage>>[] saves)
    {
        await ServiceAsync(); // the service key, issued before anything is blocked
        var groupCommit = Fixture.Factory.Services.GetRequiredService<GroupCommit>();
        await using var transaction = await HoldAsync(PurposeChangeLock("newsletter"));
        var first = SaveAsync("c-first", Decision("newsletter", true));
        await AssertBlockedAsync("%pg_advisory_xact_lock_shared%", "advisory", atLeast: GroupCommit.Writers);

        var started = saves.Select(save => save()).ToList();
        for (var attempt = 0; groupCommit.Waiting + started.Count(s => s.IsCompleted) < started.Count; attempt++)
        {
            Assert.True(attempt < 600, $"Only {groupCommit.Waiting} of {started.Count} saves were ever queued.");
            await Task.Delay(20);
        }

        await transaction.CommitAsync();
        Assert.Equal(HttpStatusCode.Created, (await first).StatusCode);
        return started;
    }

    /// <summary>How many transactions wrote these customers' events.</summary>
    private Task<long> TransactionsAsync(IEnumerable<string> customers) =>
        Fixture.ScalarAsync<long>("SELECT count(DISTINCT xmin::text) FROM consent_events WHERE customer_id = ANY($1)", (object)customers.ToArray());
}
