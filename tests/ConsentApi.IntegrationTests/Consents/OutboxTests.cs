using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;
using ConsentApi.Lifecycle;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentApi.IntegrationTests.Consents;

/// <summary>
/// The transactional outbox of change notifications: every change writes its message in its own
/// transaction, the dispatcher sends it and deletes it, a message left by a node that died before
/// dispatching is sent by another node's poll, and a change that does not commit leaves no message.
/// The rows live only milliseconds, so a trigger (test instrument, in this class's database only)
/// copies each inserted row, with the id of the inserting transaction, into <c>outbox_seen</c>.
/// </summary>
public sealed class OutboxTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const string DoomedAtCommit = "c-doomed-at-commit";
    private const string DoomedOutbox = "c-doomed-outbox";

    private ConsentApiFactory? _nodeB;

    public override async Task InitializeAsync()
    {
        await Fixture.ExecuteAsync($"""
            CREATE TABLE IF NOT EXISTS outbox_seen (
                seen bigserial PRIMARY KEY, topic text, customer_id text, purpose_key text, event_id uuid, xid bigint);
            CREATE OR REPLACE FUNCTION outbox_seen() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO outbox_seen (topic, customer_id, purpose_key, event_id, xid)
                VALUES (NEW.topic, NEW.customer_id, NEW.purpose_key, NEW.event_id, txid_current());
              RETURN NEW;
            END $$;
            CREATE OR REPLACE TRIGGER outbox_seen AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_seen();

            CREATE OR REPLACE FUNCTION doom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'doomed by the test'; END $$;
            -- Fails the save's COMMIT, after every row of it (its outbox row too) was written.
            DROP TRIGGER IF EXISTS doom_at_commit ON consent_events;
            CREATE CONSTRAINT TRIGGER doom_at_commit AFTER INSERT ON consent_events
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.customer_id = '{DoomedAtCommit}') EXECUTE FUNCTION doom();
            -- Fails the save's outbox insert.
            CREATE OR REPLACE TRIGGER doom_outbox BEFORE INSERT ON outbox
              FOR EACH ROW WHEN (NEW.customer_id = '{DoomedOutbox}') EXECUTE FUNCTION doom();
            """);
        await base.InitializeAsync();
    }

    [Fact]
    public async Task Save_WritesItsOutboxRowInItsOwnTransaction_AndTheDispatcherRemovesIt()
    {
        await CreatePurposeAsync();

        var receipt = await SaveOkAsync("c-42", Decision("newsletter", true));

        var eventId = receipt["decisions"]![0]!["eventId"]!.GetValue<Guid>();
        Assert.True(await Fixture.OutboxDrainedAsync(), "the outbox row was never dispatched");
        var seen = await SeenAsync("c-42");
        Assert.Equal([("consent.granted", "newsletter", eventId)], seen.Select(s => (s.Topic, s.PurposeKey!, s.EventId!.Value)));
        // The event's row was written by the same transaction as its outbox row (xmin is that transaction's 32-bit id).
        var eventXid = await Fixture.ScalarAsync<long>("SELECT xmin::text::bigint FROM consent_events WHERE id = $1", eventId);
        Assert.Equal(eventXid, seen[0].Xid % (1L << 32));
    }

    [Fact]
    public async Task EveryKindOfChange_WritesItsTopic()
    {
        await CreatePurposeAsync();
        await SaveOkAsync("c-42", Decision("newsletter", true));
        await SaveOkAsync("c-42", Decision("newsletter", false));
        await SaveOkAsync("c-43", Decision("newsletter", true));
        Fixture.Clock.Advance(TimeSpan.FromDays(400)); // past the 395-day lifetime
        using (var scope = Fixture.Factory.Services.CreateScope())
        {
            Assert.Equal(1, (await scope.ServiceProvider.GetRequiredService<LifecycleSweeper>().SweepOnceAsync(CancellationToken.None)).ExpiredConsents);
        }

        await SaveOkAsync("c-44", Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/customers/c-44")).StatusCode);
        using (var update = new HttpRequestMessage(HttpMethod.Put, "/api/v1/purposes/newsletter")
        {
            Content = JsonContent.Create(PurposeBody(change: b => { b.Remove("key"); b["name"] = "Changed"; })),
        })
        {
            update.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
            Assert.Equal(HttpStatusCode.OK, (await Admin.SendAsync(update)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/newsletter")).StatusCode);

        Assert.True(await Fixture.OutboxDrainedAsync(), "an outbox row was never dispatched");
        var seen = await SeenAsync(customerId: null);
        Assert.Equal(
        [
            ("purpose.changed", null, "newsletter"),
            ("consent.granted", "c-42", "newsletter"), ("consent.revoked", "c-42", "newsletter"),
            ("consent.granted", "c-43", "newsletter"), ("consent.expired", "c-43", "newsletter"),
            ("consent.granted", "c-44", "newsletter"), ("consent.revoked", "c-44", "newsletter"), // the erasure's revocation
            ("purpose.changed", null, "newsletter"), ("purpose.changed", null, "newsletter"),
        ], seen.Select(s => (s.Topic, s.CustomerId, s.PurposeKey)).ToList<(string, string?, string?)>());
    }

    [Fact]
    public async Task ARowLeftByACrashedNode_IsSentByThePoll_AndEvictsOnAnotherNode()
    {
        await CreatePurposeAsync();
        var nodeB = await NodeBAsync(); // its bound is 60 s: only a notification refreshes it in time
        await SaveOkAsync("c-42", Decision("newsletter", true));
        Assert.True(await ActiveAsync(nodeB)); // now cached on node B
        Assert.True(await Fixture.OutboxDrainedAsync());

        // What a node leaves when it dies between its commit and its dispatch: the change and its outbox
        // row, committed, and no node woken. Only a dispatcher's poll can send it.
        await Fixture.ExecuteAsync("""
            UPDATE consent_states SET decision = 'revoked' WHERE customer_id = 'c-42' AND purpose_key = 'newsletter';
            INSERT INTO outbox (topic, customer_id, purpose_key, created_at) VALUES ('consent.revoked', 'c-42', 'newsletter', now());
            """);
        var waited = Stopwatch.StartNew();
        while (await ActiveAsync(nodeB) && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }

        Assert.False(await ActiveAsync(nodeB), $"node B still answered active after {waited.Elapsed}");
        Assert.True(await Fixture.OutboxDrainedAsync(), "the left-over row was never dispatched");
    }

    [Fact]
    public async Task ABacklogOfManyBatches_IsDrained()
    {
        // As after an outage of the database: many changes committed, none sent yet.
        await Fixture.ExecuteAsync("""
            INSERT INTO outbox (topic, customer_id, purpose_key, created_at)
            SELECT 'consent.revoked', 'c-' || g, 'newsletter', now() FROM generate_series(1, 5000) g
            """);

        Assert.True(await Fixture.OutboxDrainedAsync(), "the backlog was not sent");
    }

    [Fact]
    public async Task ASaveWhoseCommitFails_LeavesNoOutboxRow()
    {
        await CreatePurposeAsync();

        var response = await SaveAsync(DoomedAtCommit, Decision("newsletter", true));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Empty(await SeenAsync(DoomedAtCommit)); // its outbox row was written, and rolled back with the rest
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM outbox"));
        Assert.Empty(await EventsAsync(DoomedAtCommit));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_states WHERE customer_id = $1", DoomedAtCommit));
    }

    [Fact]
    public async Task ASaveWhoseOutboxRowCannotBeWritten_IsNotSavedAtAll()
    {
        await CreatePurposeAsync();

        var response = await SaveAsync(DoomedOutbox, Decision("newsletter", true));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Empty(await EventsAsync(DoomedOutbox)); // one transaction: no change without its notification
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM receipts WHERE customer_id = $1", DoomedOutbox));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_states WHERE customer_id = $1", DoomedOutbox));
    }

    [Fact]
    public async Task ARefusedSave_LeavesNoOutboxRow()
    {
        await CreatePurposeAsync();

        var response = await SaveAsync("c-42", Decision("newsletter", true), Decision("no-such-purpose", true));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Empty(await SeenAsync("c-42"));
    }

    private sealed record Seen(string Topic, string? CustomerId, string? PurposeKey, Guid? EventId, long Xid);

    /// <summary>The rows inserted into the outbox by committed transactions, in insertion order (all of them when customerId is null).</summary>
    private async Task<List<Seen>> SeenAsync(string? customerId)
    {
        await using var connection = await Fixture.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT topic, customer_id, purpose_key, event_id, xid FROM outbox_seen WHERE $1::text IS NULL OR customer_id = $1 ORDER BY seen",
            connection);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = (object?)customerId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync();
        var seen = new List<Seen>();
        while (await reader.ReadAsync())
        {
            seen.Add(new Seen(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetGuid(3), reader.GetInt64(4)));
        }

        return seen;
    }

    private async Task<HttpClient> NodeBAsync()
    {
        _nodeB = ApiFixture.StartApi(Fixture.ConnectionString,
            new Dictionary<string, string?> { ["ConsentCache:MaxStalenessMs"] = "60000" }, Fixture.Clock);
        var client = _nodeB.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", await IssueKeyAsync("service", "node-b"));
        return client;
    }

    private static async Task<bool> ActiveAsync(HttpClient node) =>
        (await node.GetFromJsonAsync<JsonObject>("/api/v1/customers/c-42/consents/newsletter"))!["active"]!.GetValue<bool>();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_nodeB is not null)
        {
            await _nodeB.DisposeAsync();
        }
    }
}
