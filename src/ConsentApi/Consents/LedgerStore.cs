using ConsentApi.Data;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace ConsentApi.Consents;

/// <summary>
/// The ledger's SQL, on EF's own connection and in its current transaction. A save makes three round
/// trips: one batch that takes the customer's head lock and reads what the decisions need, one batch
/// that writes every row they append, and the commit (a withdrawal that deletes data adds its DELETE).
/// Statements are prepared (once per connection; Npgsql keeps them across pool checkouts): the same
/// few run for every save, and PostgreSQL would otherwise parse and plan each of them every time. The
/// rows are written with plain SQL rather than through EF's change tracking, whose bookkeeping and
/// command building were a sizable share of the API's CPU per save for a handful of rows; their
/// columns are the ones mapped in <c>ConsentEntitiesConfiguration</c>.
/// </summary>
internal sealed class LedgerStore(ConsentDbContext db)
{
    // ---- Reads under the lock -------------------------------------------------------------------

    // The no-op update on conflict takes the row lock and returns the row, creating the head on the
    // customer's first event.
    private const string LockHeadSql = """
        INSERT INTO ledger_heads (customer_id, last_seq) VALUES ($1, 0)
        ON CONFLICT (customer_id) DO UPDATE SET customer_id = excluded.customer_id
        RETURNING last_seq, last_hash
        """;

    private const string StatesSql = """
        SELECT purpose_key, decision, purpose_version, decided_at, expires_at, source, last_event_id, gpc_signal_at
        FROM consent_states WHERE customer_id = $1 AND purpose_key = ANY($2)
        """;

    private const string IdempotencySql = "SELECT request_hash, receipt_id FROM idempotency_records WHERE customer_id = $1 AND key = $2";

    private const string PurposesSql = "SELECT key, status, current_version, reconsent_from_version FROM purposes WHERE key = ANY($1)";

    private const string VersionsSql = """
        SELECT v.purpose_key, v.version, v.consent_lifetime_days
        FROM purpose_versions v JOIN purposes p ON p.key = v.purpose_key
        WHERE v.purpose_key = ANY($1) AND (v.version = p.current_version OR v.version = ANY($2))
        """;

    public sealed record EarlierSave(string RequestHash, Guid ReceiptId);

    public sealed record PurposeRow(string Key, PurposeStatus Status, int CurrentVersion, int ReconsentFromVersion)
    {
        public List<LedgerVersion> Versions { get; } = [];
    }

    public sealed record LockedForSave(LedgerHead Head, EarlierSave? Earlier, Dictionary<string, PurposeRow> Purposes,
        Dictionary<string, ConsentState> States);

    /// <summary>Takes the customer's ledger head row lock, creating the head on the first event. Starts a ledger transaction.</summary>
    public async Task<LedgerHead> LockHeadAsync(string customerId, CancellationToken cancellationToken)
    {
        await using var batch = await PreparedAsync(cancellationToken, Command(LockHeadSql, Value(customerId)));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await ReadHeadAsync(reader, customerId, cancellationToken);
    }

    /// <summary>The customer's states of these purposes; read them only under the head lock.</summary>
    public async Task<Dictionary<string, ConsentState>> LoadStatesAsync(string customerId, IEnumerable<string> purposeKeys,
        CancellationToken cancellationToken)
    {
        await using var batch = await PreparedAsync(cancellationToken, Command(StatesSql, Value(customerId), Value(purposeKeys.ToArray())));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await ReadStatesAsync(reader, customerId, cancellationToken);
    }

    /// <summary>
    /// The head lock and then the state of one purpose, in one round trip. The statements of a batch
    /// run one after the other, each with a snapshot taken when it starts (READ COMMITTED): the state
    /// is read only once the lock is held, so it includes everything the previous holder committed.
    /// </summary>
    public async Task<(LedgerHead Head, Dictionary<string, ConsentState> States)> LockWithStateAsync(string customerId,
        string purposeKey, CancellationToken cancellationToken)
    {
        await using var batch = await PreparedAsync(cancellationToken,
            Command(LockHeadSql, Value(customerId)), Command(StatesSql, Value(customerId), Value(new[] { purposeKey })));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var head = await ReadHeadAsync(reader, customerId, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return (head, await ReadStatesAsync(reader, customerId, cancellationToken));
    }

    /// <summary>
    /// Everything a save reads, in one round trip: the head lock; the earlier save with the same
    /// Idempotency-Key; the decisions' purposes, locked shared; the versions the decisions may refer
    /// to; the customer's states of those purposes. The statements of a batch run in order, each with
    /// a snapshot taken when it starts (READ COMMITTED), so folding them keeps every guarantee of
    /// separate round trips:
    /// <list type="bullet">
    /// <item>the idempotency record and the states are read once the head lock is held, so they
    /// include everything a previous save of this customer committed (a concurrent retry with the same
    /// key waits for the lock, then finds the first save's record);</item>
    /// <item>the purposes are locked shared (<see cref="PurposeLocks"/>) by a statement before the one that
    /// reads them, so a retirement or a new version either committed before that read or waits for this
    /// save's commit;</item>
    /// <item>the versions are read by the statement after, so they match the current version just read.</item>
    /// </list>
    /// </summary>
    public async Task<LockedForSave> LockForSaveAsync(string customerId, string[] purposeKeys, int[] requestedVersions,
        string? idempotencyKey, CancellationToken cancellationToken)
    {
        var commands = new List<NpgsqlBatchCommand> { Command(LockHeadSql, Value(customerId)) };
        if (idempotencyKey is not null)
        {
            commands.Add(Command(IdempotencySql, Value(customerId), Value(idempotencyKey)));
        }

        commands.Add(Command(PurposeLocks.SharedSql, Value(purposeKeys)));
        commands.Add(Command(PurposesSql, Value(purposeKeys)));
        commands.Add(Command(VersionsSql, Value(purposeKeys), Value(requestedVersions)));
        commands.Add(Command(StatesSql, Value(customerId), Value(purposeKeys)));
        await using var batch = await PreparedAsync(cancellationToken, [.. commands]);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);

        var head = await ReadHeadAsync(reader, customerId, cancellationToken);
        EarlierSave? earlier = null;
        if (idempotencyKey is not null)
        {
            await reader.NextResultAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                earlier = new EarlierSave(reader.GetString(0), reader.GetGuid(1));
            }
        }

        await reader.NextResultAsync(cancellationToken); // the purpose locks: a row per purpose, nothing in it
        await reader.NextResultAsync(cancellationToken);
        var purposes = new Dictionary<string, PurposeRow>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            purposes[reader.GetString(0)] = new PurposeRow(reader.GetString(0), KebabCase.Parse<PurposeStatus>(reader.GetString(1)),
                reader.GetInt32(2), reader.GetInt32(3));
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            purposes[reader.GetString(0)].Versions.Add(new LedgerVersion(reader.GetString(0), reader.GetInt32(1),
                reader.IsDBNull(2) ? null : reader.GetInt32(2)));
        }

        await reader.NextResultAsync(cancellationToken);
        return new LockedForSave(head, earlier, purposes, await ReadStatesAsync(reader, customerId, cancellationToken));
    }

    private async Task<LedgerHead> ReadHeadAsync(NpgsqlDataReader reader, string customerId, CancellationToken cancellationToken)
    {
        await reader.ReadAsync(cancellationToken);
        _pending.Clear(); // a new lock starts a new ledger transaction: nothing from an earlier, failed one is written
        _pending.CustomerId = customerId;
        return new LedgerHead { CustomerId = customerId, LastSeq = reader.GetInt64(0), LastHash = reader.IsDBNull(1) ? null : reader.GetString(1) };
    }

    private async Task<Dictionary<string, ConsentState>> ReadStatesAsync(NpgsqlDataReader reader, string customerId,
        CancellationToken cancellationToken)
    {
        var states = new Dictionary<string, ConsentState>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            states[reader.GetString(0)] = new ConsentState
            {
                CustomerId = customerId, PurposeKey = reader.GetString(0), Decision = KebabCase.Parse<Decision>(reader.GetString(1)),
                PurposeVersion = reader.GetInt32(2), DecidedAt = reader.GetFieldValue<DateTimeOffset>(3),
                ExpiresAt = reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
                Source = KebabCase.Parse<ConsentSource>(reader.GetString(5)), LastEventId = reader.GetGuid(6),
                GpcSignalAt = reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
            };
            _pending.Stored.Add(reader.GetString(0));
        }

        return states;
    }

    // ---- What the transaction appends -----------------------------------------------------------

    /// <summary>The rows of the current ledger transaction, all of the one customer whose head it locked.</summary>
    private sealed class PendingRows
    {
        public string? CustomerId;
        public LedgerHead? Head;
        public readonly List<Receipt> Receipts = [];
        public readonly List<(ConsentEvent Event, ConsentEvidence Evidence)> Events = [];
        public readonly Dictionary<string, ConsentState> States = new(StringComparer.Ordinal);

        /// <summary>The purposes whose state row exists (read under the lock): updated, where the others are inserted.</summary>
        public readonly HashSet<string> Stored = new(StringComparer.Ordinal);

        public readonly List<OutboxMessage> Outbox = [];
        public IdempotencyRecord? Idempotency;

        public void Clear()
        {
            CustomerId = null;
            Head = null;
            Receipts.Clear();
            Events.Clear();
            States.Clear();
            Stored.Clear();
            Outbox.Clear();
            Idempotency = null;
        }
    }

    private readonly PendingRows _pending = new();

    public void Add(Receipt receipt) => _pending.Receipts.Add(Own(receipt.CustomerId, receipt));

    /// <summary>An appended event, with its evidence and the head it moved.</summary>
    public void Add(ConsentEvent e, ConsentEvidence evidence, LedgerHead head)
    {
        _pending.Events.Add((Own(e.CustomerId, e), Own(evidence.CustomerId, evidence)));
        _pending.Head = Own(head.CustomerId, head);
    }

    /// <summary>A state the transaction changed; it is written whole, as it is at <see cref="WriteAsync"/>.</summary>
    public void Changed(ConsentState state) => _pending.States[state.PurposeKey] = Own(state.CustomerId, state);

    public void Add(OutboxMessage message) => _pending.Outbox.Add(Own(message.CustomerId, message));

    public void Add(IdempotencyRecord record) => _pending.Idempotency = Own(record.CustomerId, record);

    private T Own<T>(string? customerId, T row) =>
        _pending.CustomerId is not null && customerId == _pending.CustomerId
            ? row
            : throw new InvalidOperationException("A ledger transaction appends only to the customer whose head it locked.");

    /// <summary>
    /// Writes the transaction's rows in one round trip: at most one statement per table, however many
    /// decisions (rows go as arrays, unnested). Anything else the transaction added through EF (the
    /// deletion log of a withdrawal) follows through SaveChanges, without EF's automatic savepoint: a
    /// failed write is never retried within the transaction, which is rolled back whole.
    /// </summary>
    public async Task WriteAsync(CancellationToken cancellationToken)
    {
        var p = _pending;
        var commands = new List<NpgsqlBatchCommand>();
        if (p.Receipts.Count > 0)
        {
            commands.Add(Command("""
                INSERT INTO receipts (customer_id, id, issued_at, source, collection_point)
                SELECT $1, * FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::text[])
                """, Value(p.CustomerId!), Value(p.Receipts.Select(r => r.Id).ToArray()), Value(p.Receipts.Select(r => r.IssuedAt).ToArray()),
                Value(p.Receipts.Select(r => KebabCase.Name(r.Source)).ToArray()), Value(p.Receipts.Select(r => r.CollectionPoint).ToArray())));
        }

        if (p.Events.Count > 0)
        {
            var events = p.Events.Select(x => x.Event).ToList();
            commands.Add(Command("""
                INSERT INTO consent_events (customer_id, seq, id, purpose_key, purpose_version, decision, occurred_at, source,
                                            collection_point, receipt_id, previous_hash, hash)
                SELECT $1, * FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::text[],
                                         $9::text[], $10::uuid[], $11::text[], $12::text[])
                """, Value(p.CustomerId!), Value(events.Select(e => e.Seq).ToArray()), Value(events.Select(e => e.Id).ToArray()),
                Value(events.Select(e => e.PurposeKey).ToArray()), Value(events.Select(e => e.PurposeVersion).ToArray()),
                Value(events.Select(e => KebabCase.Name(e.Decision)).ToArray()), Value(events.Select(e => e.OccurredAt).ToArray()),
                Value(events.Select(e => KebabCase.Name(e.Source)).ToArray()), Value(events.Select(e => e.CollectionPoint).ToArray()),
                Value(events.Select(e => e.ReceiptId).ToArray()), Value(events.Select(e => e.PreviousHash).ToArray()),
                Value(events.Select(e => e.Hash).ToArray())));
            var evidence = p.Events.Select(x => x.Evidence).ToList();
            commands.Add(Command("""
                INSERT INTO consent_evidence (customer_id, event_id, ip_address, user_agent)
                SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[])
                """, Value(p.CustomerId!), Value(evidence.Select(e => e.EventId).ToArray()), Value(evidence.Select(e => e.IpAddress).ToArray()),
                Value(evidence.Select(e => e.UserAgent).ToArray())));
        }

        // Every column from the fold: it was computed under the head lock, which every change of a state
        // holds, so the row as folded is exactly the new state. The lock's read said which rows exist,
        // so new ones are plainly inserted (no ON CONFLICT and its speculative insertion).
        var created = p.States.Values.Where(s => !p.Stored.Contains(s.PurposeKey)).ToList();
        if (created.Count > 0)
        {
            commands.Add(Command("""
                INSERT INTO consent_states (customer_id, purpose_key, decision, purpose_version, decided_at, expires_at, source,
                                            last_event_id, gpc_signal_at)
                SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::text[],
                                         $8::uuid[], $9::timestamptz[])
                """, StateColumns(p.CustomerId!, created)));
        }

        var changed = p.States.Values.Where(s => p.Stored.Contains(s.PurposeKey)).ToList();
        if (changed.Count > 0)
        {
            commands.Add(Command("""
                UPDATE consent_states s SET
                    decision = u.decision, purpose_version = u.purpose_version, decided_at = u.decided_at, expires_at = u.expires_at,
                    source = u.source, last_event_id = u.last_event_id, gpc_signal_at = u.gpc_signal_at
                FROM unnest($2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::uuid[],
                            $9::timestamptz[])
                    AS u(purpose_key, decision, purpose_version, decided_at, expires_at, source, last_event_id, gpc_signal_at)
                WHERE s.customer_id = $1 AND s.purpose_key = u.purpose_key
                """, StateColumns(p.CustomerId!, changed)));
        }

        if (p.Head is { } head)
        {
            commands.Add(Command("UPDATE ledger_heads SET last_seq = $2, last_hash = $3 WHERE customer_id = $1",
                Value(p.CustomerId!), Value(head.LastSeq), Value(head.LastHash)));
        }

        if (p.Outbox.Count > 0)
        {
            commands.Add(Command("""
                INSERT INTO outbox (topic, customer_id, purpose_key, event_id, created_at)
                SELECT u.topic, $1, u.purpose_key, u.event_id, u.created_at
                FROM unnest($2::text[], $3::text[], $4::uuid[], $5::timestamptz[]) AS u(topic, purpose_key, event_id, created_at)
                """, Value(p.CustomerId!), Value(p.Outbox.Select(m => m.Topic).ToArray()), Value(p.Outbox.Select(m => m.PurposeKey).ToArray()),
                Value(p.Outbox.Select(m => m.EventId).ToArray()), Value(p.Outbox.Select(m => m.CreatedAt).ToArray())));
        }

        if (p.Idempotency is { } record)
        {
            commands.Add(Command(
                "INSERT INTO idempotency_records (customer_id, key, request_hash, receipt_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                Value(p.CustomerId!), Value(record.Key), Value(record.RequestHash), Value(record.ReceiptId), Value(record.CreatedAt)));
        }

        if (commands.Count > 0)
        {
            await using var batch = await PreparedAsync(cancellationToken, [.. commands]);
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        p.Clear();
        if (db.ChangeTracker.HasChanges())
        {
            var savepoints = db.Database.AutoSavepointsEnabled;
            db.Database.AutoSavepointsEnabled = false;
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            finally
            {
                db.Database.AutoSavepointsEnabled = savepoints; // the rest of the request's work keeps EF's default
            }
        }
    }

    private static NpgsqlParameter[] StateColumns(string customerId, List<ConsentState> states) =>
    [
        Value(customerId), Value(states.Select(s => s.PurposeKey).ToArray()), Value(states.Select(s => KebabCase.Name(s.Decision)).ToArray()),
        Value(states.Select(s => s.PurposeVersion).ToArray()), Value(states.Select(s => s.DecidedAt).ToArray()),
        Value(states.Select(s => s.ExpiresAt).ToArray()), Value(states.Select(s => KebabCase.Name(s.Source)).ToArray()),
        Value(states.Select(s => s.LastEventId).ToArray()), Value(states.Select(s => s.GpcSignalAt).ToArray()),
    ];

    // ---- Commands -------------------------------------------------------------------------------

    /// <summary>A prepared batch on EF's own connection, in its current transaction.</summary>
    private async Task<NpgsqlBatch> PreparedAsync(CancellationToken cancellationToken, params NpgsqlBatchCommand[] commands)
    {
        var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection(),
            (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction());
        foreach (var command in commands)
        {
            batch.BatchCommands.Add(command);
        }

        await batch.PrepareAsync(cancellationToken); // a no-op once this connection has prepared these statements
        return batch;
    }

    private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static NpgsqlParameter<T> Value<T>(T value) => new() { TypedValue = value };
}
