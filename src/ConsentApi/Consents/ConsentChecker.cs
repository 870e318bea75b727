using System.Linq.Expressions;
using ConsentApi.Data;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Consents;

/// <summary>What a request says about the customer beyond its route: a GPC signal, and its evidence.</summary>
public sealed record RequestSignals(bool Gpc, Evidence Evidence)
{
    public static RequestSignals From(HttpContext http) => new(
        ConsentRules.HasGpcSignal(http.Request),
        new Evidence(http.Connection.RemoteIpAddress?.ToString(),
            http.Request.Headers.UserAgent.ToString() is { Length: > 0 } userAgent ? userAgent : null));
}

/// <summary>
/// Answers "is consent active?" for (customer, purpose) pairs: the purpose's terms and the stored
/// state, judged by <see cref="ConsentRules"/>. The consent middleware, the state endpoints and
/// the batch check all ask here, so every door gives the same answer, and all honour GPC alike:
/// the first <c>Sec-GPC: 1</c> for a purpose that honours it is recorded as a revocation first.
/// Answers come from the node's <see cref="ConsentCache"/> when it has them.
/// </summary>
public sealed class ConsentChecker(IServiceProvider services, ConsentCache cache, TimeProvider clock)
{
    /// <summary>Every purpose with the terms of its current version (one join, not a subquery per column).</summary>
    private static IQueryable<PurposeTerms> TermsOf(ConsentDbContext db, List<string> keys) =>
        from p in db.Purposes.AsNoTracking()
        where keys.Contains(p.Key)
        join v in db.PurposeVersions.AsNoTracking() on new { Key = p.Key, Version = p.CurrentVersion } equals new { Key = v.PurposeKey, v.Version }
        select new PurposeTerms(p.Key, p.Status, p.CurrentVersion, p.ReconsentFromVersion, v.ConsentModel, v.HonorsGpc);

    // A miss costs one statement: the purpose joined once to its current version, and the customer's
    // state by primary key. Compiled, so EF does not translate the LINQ again on every miss.
    private static readonly Func<ConsentDbContext, string, string, CancellationToken, Task<TermsAndState?>> ReadOne = EF.CompileAsyncQuery(
        (ConsentDbContext db, string purpose, string customerId, CancellationToken _) =>
            // TermsOf written out: a compiled query cannot call a method that takes its context.
            (from p in db.Purposes.AsNoTracking()
             join v in db.PurposeVersions.AsNoTracking() on new { Key = p.Key, Version = p.CurrentVersion } equals new { Key = v.PurposeKey, v.Version }
             from s in db.ConsentStates.AsNoTracking().Where(s => s.CustomerId == customerId && s.PurposeKey == p.Key).DefaultIfEmpty()
             where p.Key == purpose
             select new TermsAndState(
                 new PurposeTerms(p.Key, p.Status, p.CurrentVersion, p.ReconsentFromVersion, v.ConsentModel, v.HonorsGpc), s))
            .FirstOrDefault());

    private sealed record TermsAndState(PurposeTerms Terms, ConsentState? State);

    // Resolved on first use only: a check answered from the cache must not cost a DbContext from the pool.
    private ConsentDbContext? _db;
    private ConsentDbContext Db => _db ??= services.GetRequiredService<ConsentDbContext>();

    public sealed record Check(string CustomerId, string Purpose, PurposeTerms? Terms, ConsentState? State, ConsentVerdict? Verdict);

    /// <summary>One pair; <see cref="Check.Terms"/> is null when the purpose does not exist.</summary>
    public async Task<Check> CheckAsync(string customerId, string purpose, RequestSignals signals, CancellationToken cancellationToken)
    {
        if (!cache.TryGetTerms(purpose, out var terms) || !cache.TryGetState(customerId, purpose, out var state))
        {
            var generation = cache.Generation();
            var found = await ReadOne(Db, purpose, customerId, cancellationToken);
            terms = found?.Terms;
            state = found?.State;
            cache.SetTerms(purpose, terms, generation);
            if (terms is not null)
            {
                cache.SetState(customerId, purpose, state, generation);
            }
        }

        if (terms is null)
        {
            return new Check(customerId, purpose, null, null, null);
        }

        if (NeedsGpcRecording(terms, state, signals))
        {
            state = await RecordGpcAsync(customerId, purpose, signals, cancellationToken);
        }

        return new Check(customerId, purpose, terms, state, ConsentRules.Evaluate(state, terms, clock.UtcNow(), signals.Gpc));
    }

    /// <summary>Many pairs: what the cache lacks is read in two queries, whatever the number.</summary>
    /// <param name="useCache">False for views that must be exact (the Customer 360).</param>
    /// <param name="recordGpc">False when the request does not speak for one customer.</param>
    public async Task<IReadOnlyList<Check>> CheckManyAsync(IReadOnlyList<(string CustomerId, string Purpose)> pairs, RequestSignals signals,
        CancellationToken cancellationToken, bool useCache = true, bool recordGpc = true)
    {
        var terms = new Dictionary<string, PurposeTerms?>(StringComparer.Ordinal);
        foreach (var key in pairs.Select(p => p.Purpose).Distinct(StringComparer.Ordinal))
        {
            if (useCache && cache.TryGetTerms(key, out var cached))
            {
                terms[key] = cached;
            }
        }

        var missingKeys = pairs.Select(p => p.Purpose).Distinct(StringComparer.Ordinal).Where(k => !terms.ContainsKey(k)).ToList();
        var termsGeneration = cache.Generation();
        if (missingKeys.Count > 0)
        {
            var loaded = await TermsOf(Db, missingKeys)
                .ToDictionaryAsync(t => t.Key, cancellationToken);
            foreach (var key in missingKeys)
            {
                terms[key] = loaded.GetValueOrDefault(key);
                cache.SetTerms(key, terms[key], termsGeneration);
            }
        }

        var states = new Dictionary<(string, string), ConsentState?>();
        var missing = new List<(string CustomerId, string Purpose)>();
        foreach (var pair in pairs.Distinct().Where(p => terms[p.Purpose] is not null))
        {
            if (useCache && cache.TryGetState(pair.CustomerId, pair.Purpose, out var cached))
            {
                states[pair] = cached;
            }
            else
            {
                missing.Add(pair);
            }
        }

        var statesGeneration = cache.Generation();
        if (missing.Count > 0)
        {
            var customers = missing.Select(p => p.CustomerId).ToArray();
            var purposes = missing.Select(p => p.Purpose).ToArray();
            var loaded = await Db.ConsentStates.FromSql($"""
                    SELECT s.* FROM consent_states s
                    JOIN unnest({customers}::text[], {purposes}::text[]) AS q(customer_id, purpose_key)
                      ON s.customer_id = q.customer_id AND s.purpose_key = q.purpose_key
                    """).AsNoTracking().ToDictionaryAsync(s => (s.CustomerId, s.PurposeKey), cancellationToken);
            foreach (var pair in missing)
            {
                states[pair] = loaded.GetValueOrDefault(pair);
                cache.SetState(pair.CustomerId, pair.Purpose, states[pair], statesGeneration);
            }
        }

        var now = clock.UtcNow();
        var checks = new List<Check>(pairs.Count);
        foreach (var (customerId, purpose) in pairs)
        {
            if (terms[purpose] is not { } t)
            {
                checks.Add(new Check(customerId, purpose, null, null, null));
                continue;
            }

            var state = states[(customerId, purpose)];
            if (recordGpc && NeedsGpcRecording(t, state, signals))
            {
                state = await RecordGpcAsync(customerId, purpose, signals, cancellationToken);
                states[(customerId, purpose)] = state;
            }

            checks.Add(new Check(customerId, purpose, t, state, ConsentRules.Evaluate(state, t, now, signals.Gpc)));
        }

        return checks;
    }

    private static bool NeedsGpcRecording(PurposeTerms terms, ConsentState? state, RequestSignals signals) =>
        signals.Gpc && terms.HonorsGpc && terms.Status == PurposeStatus.Active && state?.GpcSignalAt is null;

    private async Task<ConsentState?> RecordGpcAsync(string customerId, string purpose, RequestSignals signals,
        CancellationToken cancellationToken)
    {
        await services.GetRequiredService<ConsentLedger>().RecordGpcSignalAsync(customerId, purpose, signals.Evidence, cancellationToken);
        cache.Evict(customerId, purpose);
        return await Db.ConsentStates.AsNoTracking()
            .FirstOrDefaultAsync(s => s.CustomerId == customerId && s.PurposeKey == purpose, cancellationToken);
    }
}
