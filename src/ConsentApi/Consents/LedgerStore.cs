using ConsentApi.Data;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace ConsentApi.Consents;

/// <summary>
/// The ledger's SQL, on EF's own connection and in its current transaction. A save makes three round
/// trips: one batch that takes the customers' head locks and reads what the decisions need, one batch
/// that writes every row they append, and the commit (a withdrawal that deletes data adds its DELETE).
/// One transaction may hold the heads of many customers (<see cref="GroupCommit"/> commits concurrent
/// saves together), so every statement takes its rows as arrays, unnested, customer id included.
/// Statements are prepared (once per connection; Npgsql keeps them across pool checkouts): the same
/// few run for every save, and PostgreSQL would otherwise parse and plan each of them every time. The
/// rows are written with plain SQL rather than through EF's change tracking, whose bookkeeping and
/// command building were a sizable share of the API's CPU per save for a handful of rows; their
/// columns are the ones mapped in <c>ConsentEntitiesConfiguration</c>.
/// </summary>
internal sealed class LedgerStore(ConsentDbContext db)
{
    // ---- Reads under the lock -------------------------------------------------------------------

    // The no-op update on conflict takes the row lock and returns the row, creating the head on a
    // customer's first event (xmax is 0 only in a row this statement inserted). Heads are locked in
    // customer id order, so two transactions that lock some of the same customers take them in the
    // same order and never deadlock.
    private const string LockHeadsSql = """
        INSERT INTO ledger_heads (customer_id, last_seq) SELECT c, 0 FROM unnest($1::text[]) AS c ORDER BY c
        ON CONFLICT (customer_id) DO UPDATE SET customer_id = excluded.customer_id
        RETURNING customer_id, last_seq, last_hash, xmax = 0
        """;

    private const string StatesSql = """
        SELECT s.customer_id, s.purpose_key, decision, purpose_version, decided_at, expires_at, source, last_event_id, gpc_signal_at
        FROM consent_states s JOIN unnest($1::text[], $2::text[]) AS q(customer_id, purpose_key)
            ON s.customer_id = q.customer_id AND s.purpose_key = q.purpose_key
        """;

    private const string IdempotencySql = """
        SELECT r.customer_id, request_hash, receipt_id
        FROM idempotency_records r JOIN unnest($1::text[], $2::text[]) AS q(customer_id, key)
            ON r.customer_id = q.customer_id AND r.key = q.key
        """;

    /// <summary>
    /// How long a transaction of several saves waits for any lock. Past it, the transaction gives back
    /// every head it holds and its saves are written one by one (<see cref="GroupCommit"/>): a save that
    /// waits on a customer being erased, or a purpose being changed, waits alone, and the heads of the
    /// other customers in its transaction are not held meanwhile.
    /// </summary>
    public const string SharedLockTimeout = "100ms";

    private const string LockTimeoutSql = "SELECT set_config('lock_timeout', $1, true)";

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

    /// <summary>What one save asks to be locked and read: its customer, its Idempotency-Key, its decisions' purposes and the versions they name.</summary>
    public sealed record SaveReads(string CustomerId, string? IdempotencyKey, IReadOnlyList<string> PurposeKeys, IReadOnlyList<int> Versions)
    {
        public static SaveReads Of(QueuedSave save) => new(save.CustomerId, save.IdempotencyKey,
            save.Request.Decisions!.Select(d => d.Purpose!).ToList(),
            save.Request.Decisions!.Where(d => d.PurposeVersion is not null).Select(d => d.PurposeVersion!.Value).ToList());
    }

    /// <summary>What the saves of one transaction read under their locks, by customer.</summary>
    public sealed record LockedForSaves(Dictionary<string, LedgerHead> Heads, Dictionary<string, EarlierSave> Earlier,
        Dictionary<string, PurposeRow> Purposes, Dictionary<string, Dictionary<string, ConsentState>> States);

    /// <summary>Takes the customer's ledger head row lock, creating the head on the first event. Starts a ledger transaction.</summary>
    public async Task<LedgerHead> LockHeadAsync(string customerId, CancellationToken cancellationToken)
    {
        await using var batch = await PreparedAsync(cancellationToken, Command(LockHeadsSql, Value(new[] { customerId })));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return (await ReadHeadsAsync(reader, cancellationToken))[customerId];
    }

    /// <summary>The customer's states of these purposes; read them only under the head lock.</summary>
    public async Task<Dictionary<string, ConsentState>> LoadStatesAsync(string customerId, IEnumerable<string> purposeKeys,
        CancellationToken cancellationToken)
    {
        await using var batch = await PreparedAsync(cancellationToken, StatesCommand(customerId, purposeKeys.ToArray()));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await ReadStatesAsync(reader, cancellationToken);
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
            Command(LockHeadsSql, Value(new[] { customerId })), StatesCommand(customerId, [purposeKey]));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var heads = await ReadHeadsAsync(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return (heads[customerId], await ReadStatesAsync(reader, cancellationToken));
    }

    /// <summary>
    /// Everything the saves of one transaction read, in one round trip: their customers' head locks;
    /// the earlier saves with the same Idempotency-Keys; the decisions' purposes, locked shared; the
    /// versions the decisions may refer to; the customers' states of those purposes. The statements of
    /// a batch run in order, each with a snapshot taken when it starts (READ COMMITTED), so folding them
    /// keeps every guarantee of separate round trips:
    /// <list type="bullet">
    /// <item>the idempotency records and the states are read once the head locks are held, so they
    /// include everything a previous save of these customers committed (a concurrent retry with the same
    /// key waits for the lock, then finds the first save's record);</item>
    /// <item>the purposes are locked shared (<see cref="PurposeLocks"/>) by a statement before the one that
    /// reads them, so a retirement or a new version either committed before that read or waits for this
    /// transaction's commit;</item>
    /// <item>the versions are read by the statement after, so they match the current version just read.</item>
    /// </list>
    /// </summary>
    public async Task<LockedForSaves> LockForSavesAsync(IReadOnlyList<SaveReads> saves, CancellationToken cancellationToken)
    {
        var purposeKeys = saves.SelectMany(s => s.PurposeKeys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var requestedVersions = saves.SelectMany(s => s.Versions).Distinct().ToArray();
        var keyed = saves.Where(s => s.IdempotencyKey is not null).ToList();
        var commands = new List<NpgsqlBatchCommand>();
        if (saves.Count > 1)
        {
            commands.Add(Command(LockTimeoutSql, Value(SharedLockTimeout)));
        }

        commands.Add(Command(LockHeadsSql, Value(saves.Select(s => s.CustomerId).ToArray())));
        if (keyed.Count > 0)
        {
            commands.Add(Command(IdempotencySql, Value(keyed.Select(s => s.CustomerId).ToArray()),
                Value(keyed.Select(s => s.IdempotencyKey!).ToArray())));
        }

        commands.Add(Command(PurposeLocks.SharedSql, Value(purposeKeys)));
        commands.Add(Command(PurposesSql, Value(purposeKeys)));
        commands.Add(Command(VersionsSql, Value(purposeKeys), Value(requestedVersions)));
        var pairs = saves.SelectMany(s => s.PurposeKeys.Select(key => (s.CustomerId, key))).ToList();
        commands.Add(Command(StatesSql, Value(pairs.Select(p => p.CustomerId).ToArray()), Value(pairs.Select(p => p.key).ToArray())));
        await using var batch = await PreparedAsync(cancellationToken, [.. commands]);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (saves.Count > 1)
        {
            await reader.NextResultAsync(cancellationToken); // the lock timeout's set_config
        }

        var heads = await ReadHeadsAsync(reader, cancellationToken);
        var earlier = new Dictionary<string, EarlierSave>(StringComparer.Ordinal);
        if (keyed.Count > 0)
        {
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                earlier[reader.GetString(0)] = new EarlierSave(reader.GetString(1), reader.GetGuid(2));
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
        var states = saves.ToDictionary(s => s.CustomerId, _ => new Dictionary<string, ConsentState>(StringComparer.Ordinal),
            StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var state = ReadState(reader);
            states[state.CustomerId][state.PurposeKey] = state;
        }

        return new LockedForSaves(heads, earlier, purposes, states);
    }

    /// <summary>The locked heads, by customer. A new lock starts a new ledger transaction: nothing from an earlier, failed one is written.</summary>
    private async Task<Dictionary<string, LedgerHead>> ReadHeadsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        _pending.Clear();
        var heads = new Dictionary<string, LedgerHead>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var head = new LedgerHead
            {
                CustomerId = reader.GetString(0), LastSeq = reader.GetInt64(1), LastHash = reader.IsDBNull(2) ? null : reader.GetString(2),
            };
            heads[head.CustomerId] = head;
            _pending.Locked.Add(head.CustomerId);
            if (reader.GetBoolean(3))
            {
                _pending.CreatedHeads.Add(head.CustomerId);
            }
        }

        return heads;
    }

    private async Task<Dictionary<string, ConsentState>> ReadStatesAsync(NpgsqlDataReader reader,
        CancellationToken cancellationToken)
    {
        var states = new Dictionary<string, ConsentState>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var state = ReadState(reader);
            states[state.PurposeKey] = state;
        }

        return states;
    }

    private ConsentState ReadState(NpgsqlDataReader reader)
    {
        var state = new ConsentState
        {
            CustomerId = reader.GetString(0), PurposeKey = reader.GetString(1), Decision = KebabCase.Parse<Decision>(reader.GetString(2)),
            PurposeVersion = reader.GetInt32(3), DecidedAt = reader.GetFieldValue<DateTimeOffset>(4),
            ExpiresAt = reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
            Source = KebabCase.Parse<ConsentSource>(reader.GetString(6)), LastEventId = reader.GetGuid(7),
            GpcSignalAt = reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
        };
        _pending.Stored.Add((state.CustomerId, state.PurposeKey));
        return state;
    }

    private static NpgsqlBatchCommand StatesCommand(string customerId, string[] purposeKeys) =>
        Command(StatesSql, Value(Enumerable.Repeat(customerId, purposeKeys.Length).ToArray()), Value(purposeKeys));

    // ---- What the transaction appends -----------------------------------------------------------

    /// <summary>The rows of the current ledger transaction, all of customers whose heads it locked.</summary>
    private sealed class PendingRows
    {
        public readonly HashSet<string> Locked = new(StringComparer.Ordinal);

        /// <summary>The heads the lock created (the customers' first events); <see cref="Refused"/> removes them again.</summary>
        public readonly HashSet<string> CreatedHeads = new(StringComparer.Ordinal);

        public readonly List<string> RefusedNewHeads = [];

        /// <summary>The heads that events moved, by customer.</summary>
        public readonly Dictionary<string, LedgerHead> Heads = new(StringComparer.Ordinal);

        public readonly List<Receipt> Receipts = [];
        public readonly List<(ConsentEvent Event, ConsentEvidence Evidence)> Events = [];
        public readonly Dictionary<(string CustomerId, string PurposeKey), ConsentState> States = [];

        /// <summary>The states whose row exists (read under the lock): updated, where the others are inserted.</summary>
        public readonly HashSet<(string CustomerId, string PurposeKey)> Stored = [];

        public readonly List<OutboxMessage> Outbox = [];
        public readonly List<IdempotencyRecord> Idempotency = [];

        public void Clear()
        {
            Locked.Clear();
            CreatedHeads.Clear();
            RefusedNewHeads.Clear();
            Heads.Clear();
            Receipts.Clear();
            Events.Clear();
            States.Clear();
            Stored.Clear();
            Outbox.Clear();
            Idempotency.Clear();
        }
    }

    private readonly PendingRows _pending = new();

    /// <summary>
    /// A save of this customer was refused and appends nothing: if the lock created the customer's
    /// head, the write removes it, so a refused first save leaves no trace while others in its transaction commit.
    /// </summary>
    public void Refused(string customerId)
    {
        if (_pending.CreatedHeads.Contains(customerId))
        {
            _pending.RefusedNewHeads.Add(customerId);
        }
    }

    public void Add(Receipt receipt) => _pending.Receipts.Add(Own(receipt.CustomerId, receipt));

    /// <summary>An appended event, with its evidence and the head it moved.</summary>
    public void Add(ConsentEvent e, ConsentEvidence evidence, LedgerHead head)
    {
        _pending.Events.Add((Own(e.CustomerId, e), Own(evidence.CustomerId, evidence)));
        _pending.Heads[head.CustomerId] = Own(head.CustomerId, head);
    }

    /// <summary>A state the transaction changed; it is written whole, as it is at <see cref="WriteAsync"/>.</summary>
    public void Changed(ConsentState state) => _pending.States[(state.CustomerId, state.PurposeKey)] = Own(state.CustomerId, state);

    public void Add(OutboxMessage message) => _pending.Outbox.Add(Own(message.CustomerId, message));

    public void Add(IdempotencyRecord record) => _pending.Idempotency.Add(Own(record.CustomerId, record));

    private T Own<T>(string? customerId, T row) =>
        customerId is not null && _pending.Locked.Contains(customerId)
            ? row
            : throw new InvalidOperationException("A ledger transaction appends only to customers whose heads it locked.");

    /// <summary>
    /// Writes the transaction's rows in one round trip: at most one statement per table, however many
    /// decisions and customers (rows go as arrays, unnested). Anything else the transaction added through
    /// EF (the deletion log of a withdrawal) follows through SaveChanges, without EF's automatic
    /// savepoint: a failed write is never retried within the transaction, which is rolled back whole.
    /// </summary>
    public async Task WriteAsync(CancellationToken cancellationToken)
    {
        var p = _pending;
        var commands = new List<NpgsqlBatchCommand>();
        if (p.Receipts.Count > 0)
        {
            commands.Add(Command("""
                INSERT INTO receipts (customer_id, id, issued_at, source, collection_point)
                SELECT * FROM unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[])
                """, Value(p.Receipts.Select(r => r.CustomerId).ToArray()), Value(p.Receipts.Select(r => r.Id).ToArray()),
                Value(p.Receipts.Select(r => r.IssuedAt).ToArray()), Value(p.Receipts.Select(r => KebabCase.Name(r.Source)).ToArray()),
                Value(p.Receipts.Select(r => r.CollectionPoint).ToArray())));
        }

        if (p.Events.Count > 0)
        {
            var events = p.Events.Select(x => x.Event).ToList();
            commands.Add(Command("""
                INSERT INTO consent_events (customer_id, seq, id, purpose_key, purpose_version, decision, occurred_at, source,
                                            collection_point, receipt_id, previous_hash, hash)
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::text[],
                                     $9::text[], $10::uuid[], $11::text[], $12::text[])
                """, Value(events.Select(e => e.CustomerId).ToArray()), Value(events.Select(e => e.Seq).ToArray()),
                Value(events.Select(e => e.Id).ToArray()), Value(events.Select(e => e.PurposeKey).ToArray()),
                Value(events.Select(e => e.PurposeVersion).ToArray()), Value(events.Select(e => KebabCase.Name(e.Decision)).ToArray()),
                Value(events.Select(e => e.OccurredAt).ToArray()), Value(events.Select(e => KebabCase.Name(e.Source)).ToArray()),
                Value(events.Select(e => e.CollectionPoint).ToArray()), Value(events.Select(e => e.ReceiptId).ToArray()),
                Value(events.Select(e => e.PreviousHash).ToArray()), Value(events.Select(e => e.Hash).ToArray())));
            var evidence = p.Events.Select(x => x.Evidence).ToList();
            commands.Add(Command("""
                INSERT INTO consent_evidence (customer_id, event_id, ip_address, user_agent)
                SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[])
                """, Value(evidence.Select(e => e.CustomerId).ToArray()), Value(evidence.Select(e => e.EventId).ToArray()),
                Value(evidence.Select(e => e.IpAddress).ToArray()), Value(evidence.Select(e => e.UserAgent).ToArray())));
        }

        // Every column from the fold: it was computed under the head lock, which every change of a state
        // holds, so the row as folded is exactly the new state. The lock's read said which rows exist,
        // so new ones are plainly inserted (no ON CONFLICT and its speculative insertion).
        var created = p.States.Where(s => !p.Stored.Contains(s.Key)).Select(s => s.Value).ToList();
        if (created.Count > 0)
        {
            commands.Add(Command("""
                INSERT INTO consent_states (customer_id, purpose_key, decision, purpose_version, decided_at, expires_at, source,
                                            last_event_id, gpc_signal_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::text[],
                                     $8::uuid[], $9::timestamptz[])
                """, StateColumns(created)));
        }

        var changed = p.States.Where(s => p.Stored.Contains(s.Key)).Select(s => s.Value).ToList();
        if (changed.Count > 0)
        {
            commands.Add(Command("""
                UPDATE consent_states s SET
                    decision = u.decision, purpose_version = u.purpose_version, decided_at = u.decided_at, expires_at = u.expires_at,
                    source = u.source, last_event_id = u.last_event_id, gpc_signal_at = u.gpc_signal_at
                FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::uuid[],
                            $9::timestamptz[])
                    AS u(customer_id, purpose_key, decision, purpose_version, decided_at, expires_at, source, last_event_id, gpc_signal_at)
                WHERE s.customer_id = u.customer_id AND s.purpose_key = u.purpose_key
                """, StateColumns(changed)));
        }

        if (p.Heads.Count > 0)
        {
            var heads = p.Heads.Values.ToList();
            commands.Add(Command("""
                UPDATE ledger_heads h SET last_seq = u.last_seq, last_hash = u.last_hash
                FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(customer_id, last_seq, last_hash)
                WHERE h.customer_id = u.customer_id
                """, Value(heads.Select(h => h.CustomerId).ToArray()), Value(heads.Select(h => h.LastSeq).ToArray()),
                Value(heads.Select(h => h.LastHash).ToArray())));
        }

        if (p.Outbox.Count > 0)
        {
            commands.Add(Command("""
                INSERT INTO outbox (topic, customer_id, purpose_key, event_id, created_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[])
                """, Value(p.Outbox.Select(m => m.Topic).ToArray()), Value(p.Outbox.Select(m => m.CustomerId).ToArray()),
                Value(p.Outbox.Select(m => m.PurposeKey).ToArray()), Value(p.Outbox.Select(m => m.EventId).ToArray()),
                Value(p.Outbox.Select(m => m.CreatedAt).ToArray())));
        }

        if (p.Idempotency.Count > 0)
        {
            commands.Add(Command("""
                INSERT INTO idempotency_records (customer_id, key, request_hash, receipt_id, created_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[])
                """, Value(p.Idempotency.Select(r => r.CustomerId).ToArray()), Value(p.Idempotency.Select(r => r.Key).ToArray()),
                Value(p.Idempotency.Select(r => r.RequestHash).ToArray()), Value(p.Idempotency.Select(r => r.ReceiptId).ToArray()),
                Value(p.Idempotency.Select(r => r.CreatedAt).ToArray())));
        }

        if (p.RefusedNewHeads.Count > 0)
        {
            commands.Add(Command("DELETE FROM ledger_heads WHERE customer_id = ANY($1) AND last_seq = 0",
                Value(p.RefusedNewHeads.ToArray())));
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

    private static NpgsqlParameter[] StateColumns(List<ConsentState> states) =>
    [
        Value(states.Select(s => s.CustomerId).ToArray()), Value(states.Select(s => s.PurposeKey).ToArray()),
        Value(states.Select(s => KebabCase.Name(s.Decision)).ToArray()), Value(states.Select(s => s.PurposeVersion).ToArray()),
        Value(states.Select(s => s.DecidedAt).ToArray()), Value(states.Select(s => s.ExpiresAt).ToArray()),
        Value(states.Select(s => KebabCase.Name(s.Source)).ToArray()), Value(states.Select(s => s.LastEventId).ToArray()),
        Value(states.Select(s => s.GpcSignalAt).ToArray()),
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
