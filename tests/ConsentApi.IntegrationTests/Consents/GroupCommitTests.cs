using System.Net;
using System.Net.Http.Json;
using ConsentApi.Consents;
using ConsentApi.IntegrationTests.Infrastructure;
using ConsentApi.Purposes;
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
        var responses = await WhileTheWriterIsBlockedAsync(
            [.. customers.Select(Grant), () => SaveAsync("c-refused", Decision("newsletter", true), Decision("no-such-purpose", true))]);

        Assert.All(responses[..3], r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        await AssertFieldProblemAsync(responses[3], HttpStatusCode.UnprocessableEntity, "decisions[1].purpose");
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
        var client = await ServiceAsync();
        var body = new { decisions = new[] { Decision("newsletter", true) }, source = "web" };
        async Task<HttpResponseMessage> Retry()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/customers/c-1/consents") { Content = JsonContent.Create(body) };
            request.Headers.Add("Idempotency-Key", "retry-1");
            return await client.SendAsync(request);
        }

        var responses = await WhileTheWriterIsBlockedAsync(Retry, Retry, Retry);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var receipts = await Task.WhenAll(responses.Select(async r => (await ReadJsonAsync(r))["receiptId"]!.GetValue<Guid>()));
        Assert.Single(receipts.Distinct());
        Assert.Equal(2, responses.Count(r => r.Headers.Contains("Idempotent-Replayed")));
        Assert.Single(await EventsAsync("c-1"));
    }

    private Func<Task<HttpResponseMessage>> Grant(string customerId) => () => SaveAsync(customerId, Decision("newsletter", true));

    /// <summary>
    /// Blocks the writer on a save of its own (customer <c>c-first</c>) behind the purpose's exclusive lock,
    /// starts <paramref name="saves"/> and waits until all of them are queued, then releases the lock.
    /// </summary>
    private async Task<HttpResponseMessage[]> WhileTheWriterIsBlockedAsync(params Func<Task<HttpResponseMessage>>[] saves)
    {
        await ServiceAsync(); // the service key, issued before anything is blocked
        var groupCommit = Fixture.Factory.Services.GetRequiredService<GroupCommit>();
        await using var connection = await Fixture.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({PurposeLocks.LockSpace}, hashtext('newsletter'))");
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
        return await Task.WhenAll(started);
    }

    /// <summary>How many transactions wrote these customers' events.</summary>
    private Task<long> TransactionsAsync(IEnumerable<string> customers) =>
        Fixture.ScalarAsync<long>("SELECT count(DISTINCT xmin::text) FROM consent_events WHERE customer_id = ANY($1)", (object)customers.ToArray());
}
