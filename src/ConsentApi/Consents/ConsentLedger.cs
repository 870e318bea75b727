using System.Security.Cryptography;
using System.Text.Json;
using ConsentApi.Data;
using ConsentApi.Http;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Consents;

/// <summary>Who was on the other end of a save; stored apart from the events.</summary>
public sealed record Evidence(string? IpAddress, string? UserAgent);

/// <summary>What the ledger needs of the notice version a decision refers to.</summary>
internal sealed record LedgerVersion(string PurposeKey, int Version, int? ConsentLifetimeDays)
{
    public static LedgerVersion Of(PurposeVersion version) => new(version.PurposeKey, version.Version, version.ConsentLifetimeDays);
}

/// <summary>
/// Appends decisions to the ledger. Each save is all or nothing: the customer's ledger head is
/// locked (appends per customer take turns, so the chain never forks), every decision becomes an
/// event, its evidence, the new consent state and its outbox message, and either all of it commits
/// or none does. Saves of different customers may share a transaction (<see cref="GroupCommit"/>).
/// </summary>
public sealed class ConsentLedger(ConsentDbContext db, ConsentOutbox outbox, TimeProvider clock)
{
    public const int IdempotencyKeyMaxLength = 255;
    public const int UserAgentMaxLength = 512;

    private readonly LedgerStore store = new(db);

    public sealed record SaveResult(ReceiptResponse Receipt, bool Replayed);

    /// <summary>
    /// Saves in one transaction, each as if alone: <see cref="GroupCommit"/> hands over saves of
    /// different customers that arrived together, so they share the round trips and the commit's WAL
    /// flush. A save refused for what it asks (an unknown purpose, a reused Idempotency-Key) is answered
    /// at once and writes nothing; the others go on. Any other failure throws before the commit, and
    /// nothing of any of them is written. Returns the outcomes of the saves that committed.
    /// </summary>
    internal async Task<List<(QueuedSave Save, SaveResult Result)>> SaveAllAsync(IReadOnlyList<QueuedSave> saves)
    {
        // Once queued, a save is committed even if its caller has gone, so that a retry (same Idempotency-Key) finds it.
        var cancellationToken = CancellationToken.None;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var locked = await store.LockForSavesAsync(saves.Select(LedgerStore.SaveReads.Of).ToList(), cancellationToken);
        var saved = new List<(QueuedSave Save, SaveResult Result)>();
        foreach (var save in saves)
        {
            try
            {
                saved.Add((save, await SaveOneAsync(save, locked, cancellationToken)));
            }
            catch (ApiProblemException problem)
            {
                save.Completion.TrySetException(problem); // judged on committed rows read under the locks: true whatever follows
                store.Refused(save.CustomerId);
            }
        }

        if (saved.Count == 0)
        {
            return saved; // all refused: nothing to write, and the rollback removes the heads the lock created
        }

        await WriteAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        foreach (var (save, result) in saved.Where(s => !s.Result.Replayed))
        {
            AfterCommit(save.CustomerId, save.Request.Decisions!.Select(d => d.Purpose!));
        }

        return saved;
    }

    private async Task<SaveResult> SaveOneAsync(QueuedSave save, LedgerStore.LockedForSaves locked, CancellationToken cancellationToken)
    {
        var (customerId, request) = (save.CustomerId, save.Request);
        if (locked.Earlier.GetValueOrDefault(customerId) is { } earlier) // found only for a save that sent a key
        {
            if (earlier.RequestHash != save.RequestHash)
            {
                throw new ApiProblemException(StatusCodes.Status422UnprocessableEntity, ProblemTypes.IdempotencyKeyReused,
                    "Idempotency key reused", "This Idempotency-Key was used for a different request; use a new key for a new request.",
                    new Dictionary<string, string[]> { ["Idempotency-Key"] = ["Already used with another body."] });
            }

            var first = await ReadReceiptAsync(customerId, earlier.ReceiptId, cancellationToken);
            return new SaveResult(first!, Replayed: true);
        }

        var decisions = request.Decisions!;
        var purposes = ResolveVersions(decisions, locked.Purposes);
        var head = locked.Heads[customerId];
        var states = locked.States[customerId];
        var receipt = NewReceipt(customerId, request.Source!.Value, request.CollectionPoint);
        var recorded = new List<ReceiptDecision>();
        foreach (var decision in decisions)
        {
            var granted = decision.Granted!.Value;
            var e = await RecordAsync(head, receipt, purposes[decision.Purpose!], granted ? Decision.Granted : Decision.Revoked,
                states, save.Evidence, cancellationToken);
            recorded.Add(ReceiptDecision.From(e));
        }

        if (save.IdempotencyKey is not null)
        {
            store.Add(new IdempotencyRecord
            {
                CustomerId = customerId, Key = save.IdempotencyKey, RequestHash = save.RequestHash!, ReceiptId = receipt.Id,
                CreatedAt = receipt.IssuedAt,
            });
        }

        return new SaveResult(ToResponse(receipt, recorded), Replayed: false);
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
        var (head, states) = await store.LockWithStateAsync(customerId, purposeKey, cancellationToken);
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
        store.Add(receipt);
        return receipt;
    }

    /// <summary>Takes the customer's ledger head row lock, creating the head on the first event: a ledger transaction starts here.</summary>
    internal Task<LedgerHead> LockHeadAsync(string customerId, CancellationToken cancellationToken) =>
        store.LockHeadAsync(customerId, cancellationToken);

    /// <summary>The customer's states of these purposes; read them only under the head lock.</summary>
    internal Task<Dictionary<string, ConsentState>> LoadStatesAsync(string customerId, IEnumerable<string> purposeKeys,
        CancellationToken cancellationToken) => store.LoadStatesAsync(customerId, purposeKeys, cancellationToken);

    /// <summary>Writes what the transaction appended (and anything else it added to the DbContext), in its transaction.</summary>
    internal Task WriteAsync(CancellationToken cancellationToken) => store.WriteAsync(cancellationToken);

    /// <summary>
    /// Appends the <c>system</c> expiry event of a grant that outlived its lifetime (the status is
    /// <c>expired</c> from that moment whether or not this has run; this makes the ledger say so).
    /// Safe on several nodes at once: the head lock and the re-check inside it record each expiry once.
    /// </summary>
    public async Task<bool> RecordExpiryAsync(string customerId, string purposeKey, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var (head, states) = await store.LockWithStateAsync(customerId, purposeKey, cancellationToken);
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
        store.Add(e, new ConsentEvidence
        {
            CustomerId = head.CustomerId, EventId = e.Id, IpAddress = evidence.IpAddress, UserAgent = Truncate(evidence.UserAgent),
        }, head);
        Fold(states, e, version);
        // In the same transaction as the event: the other nodes hear of it exactly when (and only if) it commits.
        store.Add(new OutboxMessage
        {
            Topic = OutboxTopics.Of(decision), CustomerId = head.CustomerId, PurposeKey = e.PurposeKey, EventId = e.Id, CreatedAt = e.OccurredAt,
        });
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

    private static ConsentEvent Append(LedgerHead head, Receipt receipt, LedgerVersion version, Decision decision, DateTimeOffset now)
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
            states[e.PurposeKey] = state;
        }

        store.Changed(state); // written whole by WriteAsync, as it is by then
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
        Dictionary<string, LedgerStore.PurposeRow> purposes)
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
    internal static string HashRequest(SaveConsentsRequest request) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(request)));

    private static string? Truncate(string? userAgent) =>
        userAgent is { Length: > UserAgentMaxLength } ? userAgent[..UserAgentMaxLength] : userAgent;
}
