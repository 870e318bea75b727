using System.Security.Cryptography;
using System.Text.Json;
using ConsentApi.Data;
using ConsentApi.Http;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Consents;

/// <summary>Who was on the other end of a save; stored apart from the events.</summary>
public sealed record Evidence(string? IpAddress, string? UserAgent);

/// <summary>
/// Appends decisions to the ledger. One save is one transaction: the customer's ledger head is
/// locked (appends per customer take turns, so the chain never forks), every decision becomes an
/// event, its evidence and the new consent state, and either all of it commits or none does.
/// </summary>
public sealed class ConsentLedger(ConsentDbContext db, ConsentCache cache, TimeProvider clock)
{
    public const int IdempotencyKeyMaxLength = 255;
    public const int UserAgentMaxLength = 512;

    public sealed record SaveResult(ReceiptResponse Receipt, bool Replayed);

    public async Task<SaveResult> SaveAsync(string customerId, SaveConsentsRequest request, Evidence evidence,
        string? idempotencyKey, CancellationToken cancellationToken)
    {
        var requestHash = idempotencyKey is null ? null : HashRequest(request);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var head = await LockHeadAsync(customerId, cancellationToken);

        if (idempotencyKey is not null)
        {
            var earlier = await db.IdempotencyRecords.AsNoTracking()
                .FirstOrDefaultAsync(r => r.CustomerId == customerId && r.Key == idempotencyKey, cancellationToken);
            if (earlier is not null)
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
        }

        var purposes = await LoadPurposesAsync(request.Decisions!, cancellationToken);
        var receipt = NewReceipt(customerId, request.Source!.Value, request.CollectionPoint);
        var states = await LoadStatesAsync(customerId, purposes.Keys, cancellationToken);
        var decisions = new List<ReceiptDecision>();
        foreach (var decision in request.Decisions!)
        {
            var granted = decision.Granted!.Value;
            var e = await RecordAsync(head, receipt, purposes[decision.Purpose!], granted ? Decision.Granted : Decision.Revoked,
                states, evidence, cancellationToken);
            decisions.Add(ReceiptDecision.From(e));
        }

        await ConsentChanges.NotifyAsync(db, customerId, purposes.Keys, cancellationToken);
        if (idempotencyKey is not null)
        {
            db.IdempotencyRecords.Add(new IdempotencyRecord
            {
                CustomerId = customerId, Key = idempotencyKey, RequestHash = requestHash!, ReceiptId = receipt.Id, CreatedAt = receipt.IssuedAt,
            });
        }

        await db.SaveChangesAsync(cancellationToken);
        // Everything is written: commit even if the caller has gone, so that its retry (same Idempotency-Key) finds it.
        await transaction.CommitAsync(CancellationToken.None);
        EvictLocally(customerId, purposes.Keys);
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
        var head = await LockHeadAsync(customerId, cancellationToken);
        var states = await LoadStatesAsync(customerId, [purposeKey], cancellationToken);
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
        await ConsentChanges.NotifyAsync(db, customerId, [purposeKey], cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(CancellationToken.None);
        EvictLocally(customerId, [purposeKey]);
        return true;
    }

    /// <summary>This node need not wait for its own notification to forget what it just changed.</summary>
    internal void EvictLocally(string customerId, IEnumerable<string> purposeKeys)
    {
        foreach (var key in purposeKeys)
        {
            cache.Evict(customerId, key);
        }
    }

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
        var head = await LockHeadAsync(customerId, cancellationToken);
        var states = await LoadStatesAsync(customerId, [purposeKey], cancellationToken);
        if (!states.TryGetValue(purposeKey, out var state)
            || state is not { Decision: Decision.Granted, ExpiresAt: { } expiresAt } || expiresAt > clock.UtcNow())
        {
            return false;
        }

        var version = await db.PurposeVersions.AsNoTracking()
            .SingleAsync(v => v.PurposeKey == purposeKey && v.Version == state.PurposeVersion, cancellationToken);
        await RecordAsync(head, NewReceipt(customerId, ConsentSource.System, "expiry"), version, Decision.Expired, states,
            new Evidence(null, null), cancellationToken);
        await ConsentChanges.NotifyAsync(db, customerId, [purposeKey], cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(CancellationToken.None);
        EvictLocally(customerId, [purposeKey]);
        return true;
    }

    /// <summary>
    /// One decision: the event (chained to the head), its evidence, the new state and the data that a
    /// withdrawal deletes (with its deletion-log entry) — all in the caller's transaction.
    /// </summary>
    internal async Task<ConsentEvent> RecordAsync(LedgerHead head, Receipt receipt, PurposeVersion version, Decision decision,
        Dictionary<string, ConsentState> states, Evidence evidence, CancellationToken cancellationToken,
        DeletionReason deletionReason = DeletionReason.Revocation)
    {
        var e = Append(head, receipt, version, decision, receipt.IssuedAt);
        db.ConsentEvidence.Add(new ConsentEvidence
        {
            CustomerId = head.CustomerId, EventId = e.Id, IpAddress = evidence.IpAddress, UserAgent = Truncate(evidence.UserAgent),
        });
        Fold(states, e, version);
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

    /// <summary>Takes the customer's ledger head row lock, creating the head on the first event.</summary>
    internal async Task<LedgerHead> LockHeadAsync(string customerId, CancellationToken cancellationToken)
    {
        // One round trip: the no-op update on conflict takes the row lock and returns the row.
        var heads = await db.LedgerHeads.FromSql($"""
            INSERT INTO ledger_heads (customer_id, last_seq) VALUES ({customerId}, 0)
            ON CONFLICT (customer_id) DO UPDATE SET customer_id = excluded.customer_id
            RETURNING *
            """).AsTracking().ToListAsync(cancellationToken);
        return heads.Single();
    }

    private ConsentEvent Append(LedgerHead head, Receipt receipt, PurposeVersion version, Decision decision, DateTimeOffset now)
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
    private void Fold(Dictionary<string, ConsentState> states, ConsentEvent e, PurposeVersion version)
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
    private async Task<Dictionary<string, PurposeVersion>> LoadPurposesAsync(IReadOnlyList<DecisionRequest> decisions,
        CancellationToken cancellationToken)
    {
        var keys = decisions.Select(d => d.Purpose!).ToList();
        // Shared locks on the purposes: a retirement or a new version either committed before this
        // save read them, or waits for it.
        await db.Database.ExecuteSqlAsync($"SELECT 1 FROM purposes WHERE key = ANY({keys.ToArray()}) FOR SHARE", cancellationToken);
        var requestedVersions = decisions.Where(d => d.PurposeVersion is not null).Select(d => d.PurposeVersion!.Value).Distinct().ToList();
        var purposes = await db.Purposes.AsNoTracking()
            .Where(p => keys.Contains(p.Key))
            .Select(p => new
            {
                p.Key, p.Status, p.CurrentVersion, p.ReconsentFromVersion,
                Versions = p.Versions.Where(v => requestedVersions.Contains(v.Version) || v.Version == p.CurrentVersion).ToList(),
            })
            .ToDictionaryAsync(p => p.Key, cancellationToken);

        var errors = new Dictionary<string, string[]>();
        var resolved = new Dictionary<string, PurposeVersion>();
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
            var version = purpose.Versions.FirstOrDefault(v => v.Version == number);
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
