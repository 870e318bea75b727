using System.Text.Json;
using ConsentApi.Consents;
using ConsentApi.Data;
using ConsentApi.Http;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Collection;

/// <summary>
/// Stores a data record only if consent is active at the moment of the commit (DESIGN.md,
/// invariant 3). The check and the insert share one transaction that holds the customer's ledger
/// head in SHARE mode: a save (which takes the head exclusively) either committed before — and
/// then the check sees its revocation — or waits until this insert has committed, and then its
/// onRevoke delete removes the record. A collection never commits after a revocation.
/// </summary>
public sealed class DataCollector(ConsentDbContext db, FieldEncryption encryption, TimeProvider clock)
{
    private static readonly string[] NotDeclared = ["Not a data category of this purpose."];
    private static readonly string[] NeedsExplicitGrant = ["Sensitive: needs an explicit opt-in grant covering it."];

    public async Task<DataRecord> CollectAsync(string customerId, string purposeKey, IReadOnlyDictionary<string, string> fields,
        bool gpcSignal, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO ledger_heads (customer_id, last_seq) VALUES ({customerId}, 0) ON CONFLICT (customer_id) DO NOTHING;
            SELECT 1 FROM ledger_heads WHERE customer_id = {customerId} FOR SHARE;
            """, cancellationToken);

        var purpose = await db.Purposes.AsNoTracking().Where(p => p.Key == purposeKey)
            .Select(p => new { Purpose = p, Current = p.Versions.Single(v => v.Version == p.CurrentVersion) })
            .FirstOrDefaultAsync(cancellationToken)
            ?? throw new ApiProblemException(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "Not found",
                $"There is no purpose '{PurposeEndpoints.Shorten(purposeKey)}'.");
        var state = await db.ConsentStates.AsNoTracking()
            .FirstOrDefaultAsync(s => s.CustomerId == customerId && s.PurposeKey == purposeKey, cancellationToken);
        var terms = new PurposeTerms(purpose.Purpose.Key, purpose.Purpose.Status, purpose.Purpose.CurrentVersion,
            purpose.Purpose.ReconsentFromVersion, purpose.Current.ConsentModel, purpose.Current.HonorsGpc);
        var now = clock.UtcNow();
        var verdict = ConsentRules.Evaluate(state, terms, now, gpcSignal);
        if (!verdict.Active)
        {
            throw new ConsentRequiredException(customerId, terms, verdict);
        }

        // Minimisation: only what the notice in force declares; anything else refuses the whole record.
        var declared = purpose.Current.DataCategories.ToDictionary(c => c.Key, StringComparer.Ordinal);
        var undeclared = fields.Keys.Where(k => !declared.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (undeclared.Count > 0)
        {
            throw new ApiProblemException(StatusCodes.Status422UnprocessableEntity, ProblemTypes.UndeclaredFields,
                "Undeclared fields", $"The purpose '{purposeKey}' does not declare {string.Join(", ", undeclared)}; nothing was stored.",
                undeclared.ToDictionary(k => $"fields.{k}", _ => NotDeclared));
        }

        await RequireExplicitGrantForSensitiveAsync(fields, declared, state, purposeKey, cancellationToken);

        var id = Guid.CreateVersion7();
        var record = new DataRecord
        {
            CustomerId = customerId,
            Id = id,
            PurposeKey = purposeKey,
            PurposeVersion = purpose.Current.Version,
            FieldNames = fields.Keys.Order(StringComparer.Ordinal).ToList(),
            KeyId = encryption.ActiveKeyId,
            Ciphertext = encryption.Encrypt(JsonSerializer.Serialize(fields), FieldEncryption.AssociatedData(customerId, purposeKey, id)),
            CollectedAt = now,
            ExpiresAt = now.AddDays(purpose.Current.RetentionDays),
        };
        db.DataRecords.Add(record);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return record;
    }

    /// <summary>
    /// Special-category data needs explicit consent (GDPR Art. 9(2)(a)): a grant, and of a version
    /// whose notice declared those very categories as sensitive.
    /// </summary>
    private async Task RequireExplicitGrantForSensitiveAsync(IReadOnlyDictionary<string, string> fields,
        Dictionary<string, DataCategory> declared, ConsentState? state, string purposeKey, CancellationToken cancellationToken)
    {
        var sensitive = fields.Keys.Where(k => declared[k].Sensitive).ToList();
        if (sensitive.Count == 0)
        {
            return;
        }

        var granted = state is { Decision: Decision.Granted }
            ? await db.PurposeVersions.AsNoTracking()
                .Where(v => v.PurposeKey == purposeKey && v.Version == state.PurposeVersion)
                .Select(v => v.DataCategories).FirstOrDefaultAsync(cancellationToken)
            : null;
        var covered = granted?.Where(c => c.Sensitive).Select(c => c.Key).ToHashSet(StringComparer.Ordinal) ?? [];
        var uncovered = sensitive.Where(k => !covered.Contains(k)).ToList();
        if (uncovered.Count > 0)
        {
            throw new ApiProblemException(StatusCodes.Status403Forbidden, ProblemTypes.ConsentRequired, "Consent required",
                $"Sensitive data ({string.Join(", ", uncovered)}) needs an explicit grant of a version that declares it.",
                uncovered.ToDictionary(k => $"fields.{k}", _ => NeedsExplicitGrant));
        }
    }
}

/// <summary>Consent was not active inside the collection transaction: the 403 of the consent middleware.</summary>
public sealed class ConsentRequiredException(string customerId, PurposeTerms terms, ConsentVerdict verdict)
    : Exception(verdict.Reason)
{
    public Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult ToResult() => ConsentEnforcement.ConsentRequired(customerId, terms, verdict);
}
