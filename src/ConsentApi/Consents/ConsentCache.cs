using Microsoft.Extensions.Caching.Memory;

namespace ConsentApi.Consents;

/// <summary>
/// <c>ConsentCache:MaxStalenessMs</c>: how old a cached answer may be; 0 turns the cache off. A safety net, not
/// the freshness mechanism: changes reach every node through the outbox's notifications within milliseconds,
/// and a notification can be late but never lost, so the bound only caps how late (docs/gpc-and-cache.md).
/// </summary>
public sealed class ConsentCacheSettings
{
    public int MaxStalenessMs { get; set; } = 60_000;
    public int MaxEntries { get; set; } = 200_000;
}

/// <summary>
/// Each node's cache of consent states and purpose terms, for checks that skip the database.
/// Entries are evicted when a NOTIFY says they changed, and in any case re-read once older than
/// MaxStalenessMs: that bound holds even while notifications are not arriving. Collection never
/// trusts it — its consent check runs inside the storing transaction (DESIGN.md, invariant 3).
/// </summary>
public sealed class ConsentCache : IDisposable
{
    private readonly MemoryCache _entries;
    private readonly TimeSpan _maxStaleness;

    public ConsentCache(ConsentCacheSettings settings)
    {
        _maxStaleness = TimeSpan.FromMilliseconds(settings.MaxStalenessMs);
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = settings.MaxEntries });
    }

    public bool Enabled => _maxStaleness > TimeSpan.Zero;

    private sealed record Cached<T>(T? Value);

    // Every eviction takes the next number of a counter and stamps it on its key's stripe; an answer
    // read from the database is cached only if its key's stripe was not stamped (and the cache not
    // cleared) since the read began — otherwise a read that raced a change could cache the old state
    // again after its notification evicted it. Stripes rather than one stamp: under a stream of saves,
    // evictions of other customers would otherwise keep every miss from being cached.
    private const int StripeCount = 4096;
    private readonly long[] _evictedAt = new long[StripeCount];
    private long _evictions;
    private long _clearedAt;

    /// <summary>Take before reading from the database; pass to Set.</summary>
    public long Generation() => Interlocked.Read(ref _evictions);

    public bool TryGetState(string customerId, string purposeKey, out ConsentState? state) =>
        TryGet(StateKey(customerId, purposeKey), out state);

    public void SetState(string customerId, string purposeKey, ConsentState? state, long generation) =>
        Set(StateKey(customerId, purposeKey), state, generation);

    /// <summary>A cached null means "no such purpose" (cached too, so unknown purposes cost nothing).</summary>
    public bool TryGetTerms(string purposeKey, out PurposeTerms? terms) => TryGet(TermsKey(purposeKey), out terms);

    public void SetTerms(string purposeKey, PurposeTerms? terms, long generation) => Set(TermsKey(purposeKey), terms, generation);

    public void Evict(string customerId, string purposeKey) => Evict(StateKey(customerId, purposeKey));

    public void EvictPurpose(string purposeKey) => Evict(TermsKey(purposeKey));

    public void Clear()
    {
        Volatile.Write(ref _clearedAt, Interlocked.Increment(ref _evictions));
        _entries.Clear();
    }

    private void Evict(string key)
    {
        // Stamp first, remove second: a Set that missed the stamp wrote before the removal, or sees it on its re-check.
        Volatile.Write(ref _evictedAt[Stripe(key)], Interlocked.Increment(ref _evictions));
        _entries.Remove(key);
    }

    private bool EvictedSince(string key, long generation) =>
        Volatile.Read(ref _evictedAt[Stripe(key)]) > generation || Volatile.Read(ref _clearedAt) > generation;

    internal static int Stripe(string key) => (int)((uint)key.GetHashCode() % StripeCount);

    internal static int StateStripe(string customerId, string purposeKey) => Stripe(StateKey(customerId, purposeKey));

    private bool TryGet<T>(string key, out T? value) where T : class
    {
        if (Enabled && _entries.TryGetValue(key, out Cached<T>? cached) && cached is not null)
        {
            value = cached.Value;
            return true;
        }

        value = null;
        return false;
    }

    private void Set<T>(string key, T? value, long generation) where T : class
    {
        if (!Enabled || EvictedSince(key, generation))
        {
            return;
        }

        _entries.Set(key, new Cached<T>(value), new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = _maxStaleness, Size = 1 });
        if (EvictedSince(key, generation))
        {
            _entries.Remove(key); // an eviction landed between the check and the write
        }
    }

    private static string StateKey(string customerId, string purposeKey) => string.Concat("s\u001f", customerId, "\u001f", purposeKey);

    private static string TermsKey(string purposeKey) => "p\u001f" + purposeKey;

    public void Dispose() => _entries.Dispose();
}
