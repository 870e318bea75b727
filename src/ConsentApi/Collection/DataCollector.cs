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
    private static readonly string[] NotAgreed = ["Not in the notice the customer agreed to."];

    public async Task<DataRecord> CollectAsync(string customerId, string purposeKey, IReadOnlyDictionary<string, string> fields,
        bool gpcSignal, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // The customer's head and the purpose, both shared: a revocation, a new purpose version or a
        // retirement either committed before (and is seen below) or waits for this insert.
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO ledger_heads (customer_id, last_seq) VALUES ({customerId}, 0) ON CONFLICT (customer_id) DO NOTHING;
            SELECT 1 FROM ledger_heads WHERE customer_id = {customerId} FOR SHARE;
            SELECT 1 FROM purposes WHERE key = {purposeKey} FOR SHARE;
            """, cancellationToken);

        var purpose = await db.Purposes.AsNoTracking().Where(p => p.Key == purposeKey)
            .Select(p => new { Purpose = p, Current = p.Versions.Single(v => v.Version == p.CurrentVersion) })
            .FirstOrDefaultAsync(cancellationToken)
            ?? throw new ApiProblemException(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "Not found",
                $"There is no purpose '{PurposeEndpoints.Shorten(purposeKey)}'.");
        var state = await db.ConsentStates.AsNoTracking()
            .FirstOrDefaultAsync(s => s.CustomerId == customerId && s.PurposeKey == purposeKey, cancellationToken);
        var terms = PurposeTerms.Of(purpose.Purpose, purpose.Current);
        var now = clock.UtcNow();
        var verdict = ConsentRules.Evaluate(state, terms, now, gpcSignal);
        if (!verdict.Active)
        {
            throw new ConsentRequiredException(customerId, terms, verdict);
        }

        // Minimisation: only what the notice in force declares; anything else refuses the whole record.
        var current = purpose.Current.DataCategories.ToDictionary(c => c.Key, StringComparer.Ordinal);
        var undeclared = fields.Keys.Where(k => !current.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (undeclared.Count > 0)
        {
            throw new ApiProblemException(StatusCodes.Status422UnprocessableEntity, ProblemTypes.UndeclaredFields,
                "Undeclared fields", $"The purpose '{purposeKey}' does not declare {string.Join(", ", undeclared)}; nothing was stored.",
                undeclared.ToDictionary(k => $"fields.{k}", _ => NotDeclared));
        }

        // Consent is specific: a grant covers what the notice the customer saw declared, no more.
        var agreed = state is { Decision: Decision.Granted } && state.PurposeVersion != purpose.Current.Version
            ? await db.PurposeVersions.AsNoTracking()
                .SingleAsync(v => v.PurposeKey == purposeKey && v.Version == state.PurposeVersion, cancellationToken)
            : purpose.Current;
        RequireCoveredByTheAgreedNotice(fields, current, agreed, state);

        var id = Guid.CreateVersion7();
        var record = new DataRecord
        {
            CustomerId = customerId,
            Id = id,
            PurposeKey = purposeKey,
            PurposeVersion = agreed.Version,
            FieldNames = fields.Keys.Order(StringComparer.Ordinal).ToList(),
            KeyId = encryption.ActiveKeyId,
            Ciphertext = encryption.Encrypt(JsonSerializer.Serialize(fields), FieldEncryption.AssociatedData(customerId, purposeKey, id)),
            CollectedAt = now,
            ExpiresAt = now.AddDays(agreed.RetentionDays),
        };
        db.DataRecords.Add(record);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(CancellationToken.None);
        return record;
    }

    /// <summary>
    /// A field the current notice declares is collected only if the notice the customer agreed to
    /// declared it too (a later version may have added it without asking again), and special-category
    /// data (GDPR Art. 9(2)(a)) only under an explicit grant of a version that declared it as sensitive.
    /// Otherwise: 403 consent-required, naming the fields a new consent would cover.
    /// </summary>
    private static void RequireCoveredByTheAgreedNotice(IReadOnlyDictionary<string, string> fields,
        Dictionary<string, DataCategory> current, PurposeVersion agreed, ConsentState? state)
    {
        var agreedCategories = agreed.DataCategories.ToDictionary(c => c.Key, StringComparer.Ordinal);
        var explicitGrant = state is { Decision: Decision.Granted };
        var uncovered = fields.Keys.Where(k =>
                !agreedCategories.TryGetValue(k, out var category)
                || (current[k].Sensitive && !(explicitGrant && category.Sensitive)))
            .Order(StringComparer.Ordinal).ToList();
        if (uncovered.Count > 0)
        {
            throw new ApiProblemException(StatusCodes.Status403Forbidden, ProblemTypes.ConsentRequired, "Consent required",
                $"The customer's consent does not cover {string.Join(", ", uncovered)}: ask for consent to the current notice.",
                uncovered.ToDictionary(k => $"fields.{k}", k => current[k].Sensitive ? NeedsExplicitGrant : NotAgreed));
        }
    }
}

/// <summary>Consent was not active inside the collection transaction: the 403 of the consent middleware.</summary>
public sealed class ConsentRequiredException(string customerId, PurposeTerms terms, ConsentVerdict verdict)
    : Exception(verdict.Reason)
{
    public Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult ToResult() => ConsentEnforcement.ConsentRequired(customerId, terms, verdict);
}
