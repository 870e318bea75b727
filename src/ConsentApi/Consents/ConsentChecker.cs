using System.Linq.Expressions;
using ConsentApi.Data;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Consents;

/// <summary>
/// Answers "is consent active?" for (customer, purpose) pairs: the purpose's terms and the stored
/// state, judged by <see cref="ConsentRules"/>. Used by the consent middleware, the state
/// endpoints and the batch check, so that every door gives the same answer.
/// </summary>
public sealed class ConsentChecker(ConsentDbContext db, TimeProvider clock)
{
    private static readonly Expression<Func<Purpose, PurposeTerms>> TermsOf = p => new PurposeTerms(
        p.Key, p.Status, p.CurrentVersion, p.ReconsentFromVersion,
        p.Versions.Single(v => v.Version == p.CurrentVersion).ConsentModel,
        p.Versions.Single(v => v.Version == p.CurrentVersion).HonorsGpc);

    public sealed record Check(string CustomerId, string Purpose, PurposeTerms? Terms, ConsentState? State, ConsentVerdict? Verdict);

    /// <summary>One pair; <see cref="Check.Terms"/> is null when the purpose does not exist.</summary>
    public async Task<Check> CheckAsync(string customerId, string purpose, bool gpcSignal, CancellationToken cancellationToken)
    {
        var found = await db.Purposes.AsNoTracking().Where(p => p.Key == purpose)
            .Select(p => new
            {
                Terms = new PurposeTerms(p.Key, p.Status, p.CurrentVersion, p.ReconsentFromVersion,
                    p.Versions.Single(v => v.Version == p.CurrentVersion).ConsentModel,
                    p.Versions.Single(v => v.Version == p.CurrentVersion).HonorsGpc),
                State = db.ConsentStates.FirstOrDefault(s => s.CustomerId == customerId && s.PurposeKey == p.Key),
            })
            .FirstOrDefaultAsync(cancellationToken);
        return found is null
            ? new Check(customerId, purpose, null, null, null)
            : new Check(customerId, purpose, found.Terms, found.State, ConsentRules.Evaluate(found.State, found.Terms, clock.UtcNow(), gpcSignal));
    }

    /// <summary>Many pairs in two queries, whatever their number.</summary>
    public async Task<IReadOnlyList<Check>> CheckManyAsync(IReadOnlyList<(string CustomerId, string Purpose)> pairs, bool gpcSignal,
        CancellationToken cancellationToken)
    {
        var keys = pairs.Select(p => p.Purpose).Distinct().ToList();
        var terms = await db.Purposes.AsNoTracking().Where(p => keys.Contains(p.Key)).Select(TermsOf)
            .ToDictionaryAsync(t => t.Key, cancellationToken);

        var customers = pairs.Select(p => p.CustomerId).ToArray();
        var purposes = pairs.Select(p => p.Purpose).ToArray();
        var states = await db.ConsentStates.FromSql($"""
                SELECT s.* FROM consent_states s
                JOIN unnest({customers}::text[], {purposes}::text[]) AS q(customer_id, purpose_key)
                  ON s.customer_id = q.customer_id AND s.purpose_key = q.purpose_key
                """).AsNoTracking().ToListAsync(cancellationToken);
        var byPair = states.ToDictionary(s => (s.CustomerId, s.PurposeKey));

        var now = clock.UtcNow();
        return pairs.Select(p =>
        {
            if (!terms.TryGetValue(p.Purpose, out var t))
            {
                return new Check(p.CustomerId, p.Purpose, null, null, null);
            }

            var state = byPair.GetValueOrDefault((p.CustomerId, p.Purpose));
            return new Check(p.CustomerId, p.Purpose, t, state, ConsentRules.Evaluate(state, t, now, gpcSignal));
        }).ToList();
    }
}
