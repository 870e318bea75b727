using ConsentApi.Consents;
using ConsentApi.Data;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Customers;

/// <summary>
/// Erasure (GDPR Art. 17), in one transaction under the customer's ledger lock: a <c>system</c>
/// revocation for every purpose whose consent is active (so the ledger stays the whole story and every
/// later collection needs a new consent), every data record deleted (logged), the evidence of every
/// event scrubbed. The hashed events and receipts stay: they are the minimal proof of consent, and
/// the chain still verifies because evidence is not hashed. Erasing again, or a customer who never
/// existed, is not an error.
/// </summary>
public sealed class CustomerErasure(ConsentDbContext db, ConsentLedger ledger, TimeProvider clock)
{
    public async Task EraseAsync(string customerId, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var head = await ledger.LockHeadAsync(customerId, cancellationToken);

        var purposes = await db.Purposes.AsNoTracking().Where(p => p.Status == PurposeStatus.Active)
            .Select(p => new { Purpose = p, Current = p.Versions.Single(v => v.Version == p.CurrentVersion) })
            .ToListAsync(cancellationToken);
        var states = await ledger.LoadStatesAsync(customerId, purposes.Select(p => p.Purpose.Key), cancellationToken);
        var now = clock.UtcNow();
        var revoked = new List<string>();
        Receipt? receipt = null;
        foreach (var p in purposes)
        {
            var terms = PurposeTerms.Of(p.Purpose, p.Current);
            if (!ConsentRules.Evaluate(states.GetValueOrDefault(p.Purpose.Key), terms, now, gpcSignal: false).Active)
            {
                continue;
            }

            receipt ??= ledger.NewReceipt(customerId, ConsentSource.System, "erasure");
            await ledger.RecordAsync(head, receipt, p.Current, Decision.Revoked, states, new Evidence(null, null), cancellationToken,
                DeletionReason.Erasure);
            revoked.Add(p.Purpose.Key);
        }

        // Whatever the purposes' onRevoke policies, erasure deletes everything collected.
        // Count what this DELETE removed, not what a read saw before it: a concurrent retention sweep may
        // delete (and log) some of those rows first, and each record must be logged exactly once.
        var deleted = await db.Database.SqlQuery<string>(
                $"DELETE FROM data_records WHERE customer_id = {customerId} RETURNING purpose_key AS \"Value\"")
            .ToListAsync(cancellationToken);
        foreach (var group in deleted.GroupBy(k => k, StringComparer.Ordinal))
        {
            ledger.LogDeletion(customerId, group.Key, group.Count(), DeletionReason.Erasure);
        }

        await db.ConsentEvidence.Where(e => e.CustomerId == customerId)
            .ExecuteUpdateAsync(e => e.SetProperty(x => x.IpAddress, (string?)null).SetProperty(x => x.UserAgent, (string?)null),
                cancellationToken);
        await db.IdempotencyRecords.Where(r => r.CustomerId == customerId).ExecuteDeleteAsync(cancellationToken);
        await ledger.WriteAsync(cancellationToken); // the revocations (with their outbox messages) and the deletion log
        await transaction.CommitAsync(CancellationToken.None);
        ledger.AfterCommit(customerId, revoked);
    }
}
