using System.Security.Cryptography;
using System.Text.Json;
using ConsentApi.Data;
using ConsentApi.Http;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace ConsentApi.Consents;

/// <summary>Who was on the other end of a save; stored apart from the events.</summary>
public sealed record Evidence(string? IpAddress, string? UserAgent);

/// <summary>What the ledger needs of the notice version a decision refers to.</summary>
public sealed record LedgerVersion(string PurposeKey, int Version, int? ConsentLifetimeDays)
{
    public static LedgerVersion Of(PurposeVersion version) => new(version.PurposeKey, version.Version, version.ConsentLifetimeDays);
}

/// <summary>
/// Appends decisions to the ledger. One save is one transaction: the customer's ledger head is
/// locked (appends per customer take turns, so the chain never forks), every decision becomes an
/// event, its evidence, the new consent state and its outbox message, and either all of it commits
/// or none does.
/// </summary>
public sealed class ConsentLedger(ConsentDbContext db, ConsentOutbox outbox, TimeProvider clock)
{
    public const int IdempotencyKeyMaxLength = 255;
    public const int UserAgentMaxLength = 512;

    public sealed record SaveResult(ReceiptResponse Receipt, bool Replayed);

    public async Task<SaveResult> SaveAsync(string customerId, SaveConsentsRequest request, Evidence evidence,
        string? idempotencyKey, CancellationToken cancellationToken)
    {
        var requestHash = idempotencyKey is null ? null : HashRequest(request);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var locked = await LockForSaveAsync(customerId, request.Decisions!, idempotencyKey, cancellationToken);
        if (locked.Earlier is { } earlier)
        {
            if (earlier.RequestHash != requestHash)
            {
                throw new ApiProblemException(StatusCodes.Status422UnprocessableEntity, ProblemTypes.IdempotencyKeyReused,
                    "Idempotency key reused", "This Idempotency-Key was used for a different request; use a new key for a new request.",
                    new Dictionary<string, string[]> { ["Idempotency-Key"] = ["Already used with another body."] });
            }

            var first = await ReadReceiptAsync(customerId, earlier.ReceiptId, cancellationToken);
            return new SaveResult(first!, Replayed: true);
        }

        var purposes = ResolveVersions(request.Decisions!, locked.Purposes);
        var receipt = NewReceipt(customerId, request.Source!.Value, request.CollectionPoint);
        var decisions = new List<ReceiptDecision>();
        foreach (var decision in request.Decisions!)
        {
            var granted = decision.Granted!.Value;
            var e = await RecordAsync(locked.Head, receipt, purposes[decision.Purpose!], granted ? Decision.Granted : Decision.Revoked,
                locked.States, evidence, cancellationToken);
            decisions.Add(ReceiptDecision.From(e));
        }

        if (idempotencyKey is not null)
        {
            db.IdempotencyRecords.Add(new IdempotencyRecord
            {
                CustomerId = customerId, Key = idempotencyKey, RequestHash = requestHash!, ReceiptId = receipt.Id, CreatedAt = receipt.IssuedAt,
            });
        }

        await WriteAsync(cancellationToken);
        // Everything is written: commit even if the caller has gone, so that its retry (same Idempotency-Key) finds it.
        await transaction.CommitAsync(CancellationToken.None);
        AfterCommit(customerId, purposes.Keys);
        return new SaveResult(ToResponse(receipt, decisions), Replayed: false);
    }

    /// <summary>
    /// Records a Global Privacy Control signal as the customer's opt-out: the first signal for a
    /// (customer, purpose) appends a <c>gpc</c> revocation, overriding any earlier grant. Once one
    /// is recorded, later signals change nothing, so an explicit grant made after it stands (CCPA
    /// regulations § 7025(c)(3)). Returns whether a revocation was appended.
    /// </summary>
    public async Task<bool> RecordGpcSignalAsync(string customerId, string purposeKey, Evidence evidence,
        CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var (head, states) = await LockWithStatesAsync(customerId, purposeKey, cancellationToken);
        if (states.TryGetValue(purposeKey, out var existing) && existing.GpcSignalAt is not null)
        {
            return false; // recorded before (perhaps by a concurrent request): the customer's later choices stand
        }

        var version = await db.Purposes.AsNoTracking()
            .Where(p => p.Key == purposeKey && p.Status == PurposeStatus.Active)
            .Select(p => p.Versions.Single(v => v.Version == p.CurrentVersion))
            .FirstOrDefaultAsync(cancellationToken);
        if (version is not { HonorsGpc: true })
        {
            return false;
        }

        var receipt = NewReceipt(customerId, ConsentSource.Gpc, "Sec-GPC");
        var e = await RecordAsync(head, receipt, version, Decision.Revoked, states, evidence, cancellationToken);
        states[purposeKey].GpcSignalAt = e.OccurredAt;
        await WriteAsync(cancellationToken);
        await transaction.CommitAsync(CancellationToken.None);
        AfterCommit(customerId, [purposeKey]);
        return true;
    }

    /// <summary>
    /// Right after a commit: this node forgets what it changed (it need not wait for its own
    /// notification) and wakes its outbox dispatcher, which tells the other nodes.
    /// </summary>
    internal void AfterCommit(string customerId, IEnumerable<string> purposeKeys) => outbox.ConsentsCommitted(customerId, purposeKeys);

    internal void LogDeletion(string customerId, string? purposeKey, int count, DeletionReason reason)
    {
        if (count > 0)
        {
            db.DeletionLog.Add(new DeletionLogEntry
            {
                CustomerId = customerId, Id = Guid.CreateVersion7(), PurposeKey = purposeKey, RecordCount = count,
                Reason = reason, DeletedAt = clock.UtcNow(),
            });
        }
    }

    internal Receipt NewReceipt(string customerId, ConsentSource source, string? collectionPoint)
    {
        var receipt = new Receipt
        {
            CustomerId = customerId, Id = Guid.CreateVersion7(), IssuedAt = clock.UtcNow(), Source = source,
            CollectionPoint = collectionPoint,
        };
        db.Receipts.Add(receipt);
        return receipt;
    }

    internal Task<Dictionary<string, ConsentState>> LoadStatesAsync(string customerId, IEnumerable<string> purposeKeys,
        CancellationToken cancellationToken)
    {
        var keys = purposeKeys.ToList();
        return db.ConsentStates.Where(s => s.CustomerId == customerId && keys.Contains(s.PurposeKey))
            .ToDictionaryAsync(s => s.PurposeKey, cancellationToken);
    }

    /// <summary>
    /// Appends the <c>system</c> expiry event of a grant that outlived its lifetime (the status is
    /// <c>expired</c> from that moment whether or not this has run; this makes the ledger say so).
    /// Safe on several nodes at once: the head lock and the re-check inside it record each expiry once.
    /// </summary>
    public async Task<bool> RecordExpiryAsync(string customerId, string purposeKey, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var (head, states) = await LockWithStatesAsync(customerId, purposeKey, cancellationToken);
        if (!states.TryGetValue(purposeKey, out var state)
            || state is not { Decision: Decision.Granted, ExpiresAt: { } expiresAt } || expiresAt > clock.UtcNow())
        {
            return false;
        }

        var version = await db.PurposeVersions.AsNoTracking()
            .SingleAsync(v => v.PurposeKey == purposeKey && v.Version == state.PurposeVersion, cancellationToken);
        await RecordAsync(head, NewReceipt(customerId, ConsentSource.System, "expiry"), version, Decision.Expired, states,
            new Evidence(null, null), cancellationToken);
        await WriteAsync(cancellationToken);
        await transaction.CommitAsync(CancellationToken.None);
        AfterCommit(customerId, [purposeKey]);
        return true;
    }

    /// <summary>
    /// One decision: the event (chained to the head), its evidence, the new state, its outbox message
    /// and the data that a withdrawal deletes (with its deletion-log entry) — all in the caller's transaction.
    /// </summary>
    internal async Task<ConsentEvent> RecordAsync(LedgerHead head, Receipt receipt, LedgerVersion version, Decision decision,
        Dictionary<string, ConsentState> states, Evidence evidence, CancellationToken cancellationToken,
        DeletionReason deletionReason = DeletionReason.Revocation)
    {
        var e = Append(head, receipt, version, decision, receipt.IssuedAt);
        db.ConsentEvidence.Add(new ConsentEvidence
        {
            CustomerId = head.CustomerId, EventId = e.Id, IpAddress = evidence.IpAddress, UserAgent = Truncate(evidence.UserAgent),
        });
        Fold(states, e, version);
        // In the same transaction as the event: the other nodes hear of it exactly when (and only if) it commits.
        ConsentOutbox.Add(db, OutboxTopics.Of(decision), head.CustomerId, e.PurposeKey, e.Id, e.OccurredAt);
        if (decision == Decision.Revoked)
        {
            // Withdrawal: records collected under a notice that said onRevoke: delete go in the same
            // transaction as the event — each record by the notice it was collected under.
            var deleted = await db.Database.ExecuteSqlAsync($"""
                DELETE FROM data_records r USING purpose_versions v
                WHERE r.customer_id = {head.CustomerId} AND r.purpose_key = {e.PurposeKey}
                  AND v.purpose_key = r.purpose_key AND v.version = r.purpose_version AND v.on_revoke = 'delete'
                """, cancellationToken);
            LogDeletion(head.CustomerId, e.PurposeKey, deleted, deletionReason);
        }

        return e;
    }

    /// <inheritdoc cref="RecordAsync(LedgerHead, Receipt, LedgerVersion, Decision, Dictionary{string, ConsentState}, Evidence, CancellationToken, DeletionReason)"/>
    internal Task<ConsentEvent> RecordAsync(LedgerHead head, Receipt receipt, PurposeVersion version, Decision decision,
        Dictionary<string, ConsentState> states, Evidence evidence, CancellationToken cancellationToken,
        DeletionReason deletionReason = DeletionReason.Revocation) =>
        RecordAsync(head, receipt, LedgerVersion.Of(version), decision, states, evidence, cancellationToken, deletionReason);

    /// <summary>
    /// Writes what the decisions added and changed, in one batch. Without EF's automatic savepoint (a
    /// round trip of its own before every SaveChanges inside a transaction): a failed write here is
    /// never retried within the transaction, which is rolled back whole.
    /// </summary>
    private async Task WriteAsync(CancellationToken cancellationToken)
    {
        db.Database.AutoSavepointsEnabled = false;
        await db.SaveChangesAsync(cancellationToken);
    }

    // The ledger-head lock: the no-op update on conflict takes the row lock and returns the row,
    // creating the head on the customer's first event.
    private const string LockHeadSql = """
        INSERT INTO ledger_heads (customer_id, last_seq) VALUES ($1, 0)
        ON CONFLICT (customer_id) DO UPDATE SET customer_id = excluded.customer_id
        RETURNING last_seq, last_hash
        """;

    private const string StatesSql = """
        SELECT purpose_key, decision, purpose_version, decided_at, expires_at, source, last_event_id, gpc_signal_at
        FROM consent_states WHERE customer_id = $1 AND purpose_key = ANY($2)
        """;

    /// <summary>Takes the customer's ledger head row lock, creating the head on the first event.</summary>
    internal async Task<LedgerHead> LockHeadAsync(string customerId, CancellationToken cancellationToken)
    {
        var heads = await db.LedgerHeads.FromSql($"""
            INSERT INTO ledger_heads (customer_id, last_seq) VALUES ({customerId}, 0)
            ON CONFLICT (customer_id) DO UPDATE SET customer_id = excluded.customer_id
            RETURNING *
            """).AsTracking().ToListAsync(cancellationToken);
        return heads.Single();
    }

    /// <summary>
    /// The head lock and then the state of one purpose, in one round trip. The statements of a batch
    /// run one after the other, each with a snapshot taken when it starts: the state is read only once
    /// the lock is held, so it includes everything the previous holder committed.
    /// </summary>
    private async Task<(LedgerHead Head, Dictionary<string, ConsentState> States)> LockWithStatesAsync(string customerId,
        string purposeKey, CancellationToken cancellationToken)
    {
        await using var batch = NewBatch(Command(LockHeadSql, Value(customerId)), Command(StatesSql, Value(customerId), Value(new[] { purposeKey })));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var head = await ReadHeadAsync(reader, customerId, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return (head, await ReadStatesAsync(reader, customerId, cancellationToken));
    }

    private sealed record EarlierSave(string RequestHash, Guid ReceiptId);

    private sealed record PurposeRow(string Key, PurposeStatus Status, int CurrentVersion, int ReconsentFromVersion)
    {
        public List<LedgerVersion> Versions { get; } = [];
    }

    private sealed record LockedForSave(LedgerHead Head, EarlierSave? Earlier, Dictionary<string, PurposeRow> Purposes,
        Dictionary<string, ConsentState> States);

    /// <summary>
    /// Everything a save reads, in one round trip: the head lock; the earlier save with the same
    /// Idempotency-Key; the decisions' purposes, share-locked; the versions the decisions refer to;
    /// the customer's states of those purposes. The statements of a batch run in order, each with a
    /// snapshot taken when it starts (READ COMMITTED), so the folds keep their guarantees:
    /// <list type="bullet">
    /// <item>the idempotency record and the states are read once the head lock is held, so they
    /// include everything a previous save of this customer committed (a concurrent retry with the same
    /// key waits, then finds the first save's record);</item>
    /// <item>the purposes are locked <c>FOR SHARE</c> by the statement that returns their columns, so a
    /// retirement or a new version either committed before it or waits for this save's commit;</item>
    /// <item>the versions are read by the next statement, after those locks are held, so they match
    /// the current version just read (in one statement, a join would see versions as of its start).</item>
    /// </list>
    /// </summary>
    private async Task<LockedForSave> LockForSaveAsync(string customerId, IReadOnlyList<DecisionRequest> decisions,
        string? idempotencyKey, CancellationToken cancellationToken)
    {
        var keys = decisions.Select(d => d.Purpose!).ToArray();
        var requestedVersions = decisions.Where(d => d.PurposeVersion is not null).Select(d => d.PurposeVersion!.Value).Distinct().ToArray();
        await using var batch = NewBatch(Command(LockHeadSql, Value(customerId)));
        if (idempotencyKey is not null)
        {
            batch.BatchCommands.Add(Command("SELECT request_hash, receipt_id FROM idempotency_records WHERE customer_id = $1 AND key = $2",
                Value(customerId), Value(idempotencyKey)));
        }

        batch.BatchCommands.Add(Command(
            "SELECT key, status, current_version, reconsent_from_version FROM purposes WHERE key = ANY($1) FOR SHARE", Value(keys)));
        batch.BatchCommands.Add(Command("""
            SELECT v.purpose_key, v.version, v.consent_lifetime_days
            FROM purpose_versions v JOIN purposes p ON p.key = v.purpose_key
            WHERE v.purpose_key = ANY($1) AND (v.version = p.current_version OR v.version = ANY($2))
            """, Value(keys), Value(requestedVersions)));
        batch.BatchCommands.Add(Command(StatesSql, Value(customerId), Value(keys)));

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

    /// <summary>A batch on EF's own connection, in its current transaction.</summary>
    private NpgsqlBatch NewBatch(params NpgsqlBatchCommand[] commands)
    {
        var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection(),
            (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction());
        foreach (var command in commands)
        {
            batch.BatchCommands.Add(command);
        }

        return batch;
    }

    private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static NpgsqlParameter<T> Value<T>(T value) => new() { TypedValue = value };

    private async Task<LedgerHead> ReadHeadAsync(NpgsqlDataReader reader, string customerId, CancellationToken cancellationToken)
    {
        await reader.ReadAsync(cancellationToken);
        return Track(new LedgerHead
        {
            CustomerId = customerId, LastSeq = reader.GetInt64(0), LastHash = reader.IsDBNull(1) ? null : reader.GetString(1),
        }, customerId);
    }

    private async Task<Dictionary<string, ConsentState>> ReadStatesAsync(NpgsqlDataReader reader, string customerId,
        CancellationToken cancellationToken)
    {
        var states = new Dictionary<string, ConsentState>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var state = new ConsentState
            {
                CustomerId = customerId, PurposeKey = reader.GetString(0), Decision = KebabCase.Parse<Decision>(reader.GetString(1)),
                PurposeVersion = reader.GetInt32(2), DecidedAt = reader.GetFieldValue<DateTimeOffset>(3),
                ExpiresAt = reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
                Source = KebabCase.Parse<ConsentSource>(reader.GetString(5)), LastEventId = reader.GetGuid(6),
                GpcSignalAt = reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
            };
            states[state.PurposeKey] = Track(state, customerId, state.PurposeKey);
        }

        return states;
    }

    /// <summary>
    /// Tracks a row read under the lock as unchanged, so that SaveChanges writes only what the fold
    /// changes. A copy tracked by an earlier transaction of this scope (two GPC recordings in one
    /// request) is out of date now: it is let go.
    /// </summary>
    private T Track<T>(T row, params object[] key) where T : class
    {
        if (db.Set<T>().Local.FindEntryUntyped(key) is { } stale)
        {
            stale.State = EntityState.Detached;
        }

        db.Attach(row);
        return row;
    }

    private ConsentEvent Append(LedgerHead head, Receipt receipt, LedgerVersion version, Decision decision, DateTimeOffset now)
    {
        var seq = head.LastSeq + 1;
        var id = Guid.CreateVersion7();
        var hash = HashChain.Compute(head.CustomerId, seq, id, version.PurposeKey, version.Version, decision, now,
            receipt.Source, receipt.CollectionPoint, receipt.Id, head.LastHash);
        var e = new ConsentEvent
        {
            CustomerId = head.CustomerId, Seq = seq, Id = id, PurposeKey = version.PurposeKey, PurposeVersion = version.Version,
            Decision = decision, OccurredAt = now, Source = receipt.Source, CollectionPoint = receipt.CollectionPoint,
            ReceiptId = receipt.Id, PreviousHash = head.LastHash, Hash = hash,
        };
        db.ConsentEvents.Add(e);
        head.LastSeq = seq;
        head.LastHash = hash;
        return e;
    }

    /// <summary>The state after an event: the last decision wins (ConsentRules judges expiry and re-consent when asked).</summary>
    private void Fold(Dictionary<string, ConsentState> states, ConsentEvent e, LedgerVersion version)
    {
        if (!states.TryGetValue(e.PurposeKey, out var state))
        {
            state = new ConsentState { CustomerId = e.CustomerId, PurposeKey = e.PurposeKey };
            db.ConsentStates.Add(state);
            states[e.PurposeKey] = state;
        }

        state.Decision = e.Decision;
        state.Source = e.Source;
        state.LastEventId = e.Id;
        if (e.Decision == Decision.Expired)
        {
            return; // the grant it ends keeps its version, time and expiry
        }

        state.PurposeVersion = e.PurposeVersion;
        state.DecidedAt = e.OccurredAt;
        state.ExpiresAt = e.Decision == Decision.Granted && version.ConsentLifetimeDays is { } days
            ? e.OccurredAt.AddDays(days)
            : null;
    }

    /// <summary>
    /// The purpose version each decision refers to. Unknown or retired purposes and unknown
    /// versions refuse the whole save (422) naming the decision at fault.
    /// </summary>
    private static Dictionary<string, LedgerVersion> ResolveVersions(IReadOnlyList<DecisionRequest> decisions,
        Dictionary<string, PurposeRow> purposes)
    {
        var errors = new Dictionary<string, string[]>();
        var resolved = new Dictionary<string, LedgerVersion>();
        for (var i = 0; i < decisions.Count; i++)
        {
            var d = decisions[i];
            if (!purposes.TryGetValue(d.Purpose!, out var purpose))
            {
                errors[$"decisions[{i}].purpose"] = [$"There is no purpose '{d.Purpose}'."];
                continue;
            }

            if (purpose.Status == PurposeStatus.Retired)
            {
                errors[$"decisions[{i}].purpose"] = [$"The purpose '{d.Purpose}' is retired."];
                continue;
            }

            var number = d.PurposeVersion ?? purpose.CurrentVersion;
            var version = purpose.Versions.Find(v => v.Version == number);
            if (version is null)
            {
                errors[$"decisions[{i}].purposeVersion"] = [$"The purpose '{d.Purpose}' has no version {number}; the current one is {purpose.CurrentVersion}."];
                continue;
            }

            if (d.Granted == true && number < purpose.ReconsentFromVersion)
            {
                errors[$"decisions[{i}].purposeVersion"] =
                    [$"Version {number} of '{d.Purpose}' no longer counts (version {purpose.ReconsentFromVersion} required a new decision); show version {purpose.CurrentVersion}."];
                continue;
            }

            resolved[purpose.Key] = version;
        }

        if (errors.Count > 0)
        {
            throw new ApiProblemException(StatusCodes.Status422UnprocessableEntity, ProblemTypes.ValidationFailed,
                "The request cannot be processed", "A decision refers to a purpose or version that cannot be used; nothing was saved.", errors);
        }

        return resolved;
    }

    public async Task<ReceiptResponse?> ReadReceiptAsync(string customerId, Guid receiptId, CancellationToken cancellationToken)
    {
        var receipt = await db.Receipts.AsNoTracking()
            .FirstOrDefaultAsync(r => r.CustomerId == customerId && r.Id == receiptId, cancellationToken);
        if (receipt is null)
        {
            return null;
        }

        var events = await db.ConsentEvents.AsNoTracking()
            .Where(e => e.CustomerId == customerId && e.ReceiptId == receiptId)
            .OrderBy(e => e.Seq)
            .ToListAsync(cancellationToken);
        return ToResponse(receipt, events.Select(ReceiptDecision.From).ToList());
    }

    private static ReceiptResponse ToResponse(Receipt receipt, IReadOnlyList<ReceiptDecision> decisions) => new()
    {
        ReceiptId = receipt.Id, CustomerId = receipt.CustomerId, IssuedAt = receipt.IssuedAt, Source = receipt.Source,
        CollectionPoint = receipt.CollectionPoint, Decisions = decisions,
    };

    /// <summary>The canonical body (re-serialised, so formatting does not matter) decides "same request".</summary>
    private static string HashRequest(SaveConsentsRequest request) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(request)));

    private static string? Truncate(string? userAgent) =>
        userAgent is { Length: > UserAgentMaxLength } ? userAgent[..UserAgentMaxLength] : userAgent;
}
