using ConsentApi.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Npgsql;

namespace ConsentApi.Consents;

/// <summary>
/// How nodes learn that consent changed: a PostgreSQL NOTIFY on <see cref="Channel"/>. For a
/// consent state it is sent inside the changing transaction, so it is delivered exactly when (and
/// only if) the change commits; for a purpose, right after its change committed.
/// </summary>
public static class ConsentChanges
{
    public const string Channel = "consent_changed";
    private const char Separator = '\u001f';

    public static Task NotifyAsync(ConsentDbContext db, string customerId, IReadOnlyCollection<string> purposeKeys,
        CancellationToken cancellationToken)
    {
        var payloads = purposeKeys.Select(k => $"s{Separator}{customerId}{Separator}{k}").ToArray();
        return db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, p) FROM unnest({payloads}::text[]) AS p", cancellationToken);
    }

    public static Task NotifyPurposeAsync(ConsentDbContext db, string purposeKey, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, {"p" + Separator + purposeKey})", cancellationToken);

    internal static void Apply(ConsentCache cache, string payload)
    {
        var parts = payload.Split(Separator);
        switch (parts)
        {
            case ["s", var customerId, var purposeKey]:
                cache.Evict(customerId, purposeKey);
                break;
            case ["p", var purposeKey]:
                cache.EvictPurpose(purposeKey);
                break;
            default:
                cache.Clear();
                break;
        }
    }
}

/// <summary><c>ConsentCache:MaxStalenessMs</c>: how old a cached answer may be; 0 turns the cache off.</summary>
public sealed class ConsentCacheSettings
{
    public int MaxStalenessMs { get; set; } = 1000;
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

    // Evictions bump a counter; an answer read from the database is cached only if no eviction
    // happened since the read began — otherwise a read that raced a change could cache the old
    // state again after its notification evicted it.
    private long _evictions;

    /// <summary>Take before reading from the database; pass to Set.</summary>
    public long Generation() => Interlocked.Read(ref _evictions);

    public bool TryGetState(string customerId, string purposeKey, out ConsentState? state) =>
        TryGet(StateKey(customerId, purposeKey), out state);

    public void SetState(string customerId, string purposeKey, ConsentState? state, long generation) =>
        Set(StateKey(customerId, purposeKey), state, generation);

    /// <summary>A cached null means "no such purpose" (cached too, so unknown purposes cost nothing).</summary>
    public bool TryGetTerms(string purposeKey, out PurposeTerms? terms) => TryGet(TermsKey(purposeKey), out terms);

    public void SetTerms(string purposeKey, PurposeTerms? terms, long generation) => Set(TermsKey(purposeKey), terms, generation);

    public void Evict(string customerId, string purposeKey)
    {
        Interlocked.Increment(ref _evictions);
        _entries.Remove(StateKey(customerId, purposeKey));
    }

    public void EvictPurpose(string purposeKey)
    {
        Interlocked.Increment(ref _evictions);
        _entries.Remove(TermsKey(purposeKey));
    }

    public void Clear()
    {
        Interlocked.Increment(ref _evictions);
        _entries.Clear();
    }

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
        if (Enabled && Interlocked.Read(ref _evictions) == generation)
        {
            _entries.Set(key, new Cached<T>(value), new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = _maxStaleness, Size = 1 });
        }
    }

    private static string StateKey(string customerId, string purposeKey) => string.Concat("s\u001f", customerId, "\u001f", purposeKey);

    private static string TermsKey(string purposeKey) => "p\u001f" + purposeKey;

    public void Dispose() => _entries.Dispose();
}

/// <summary>
/// Listens for <see cref="ConsentChanges.Channel"/> on a connection of its own and evicts what
/// changed. When the connection drops, it clears the cache (notifications may have been missed)
/// and reconnects.
/// </summary>
public sealed partial class ConsentChangeListener(ConsentCache cache, IConfiguration configuration, ILogger<ConsentChangeListener> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!cache.Enabled)
        {
            return;
        }

        var connectionString = new NpgsqlConnectionStringBuilder(configuration.GetConnectionString("ConsentDb"))
        {
            KeepAlive = 15, Pooling = false, Enlist = false,
        }.ConnectionString;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                connection.Notification += (_, e) => ConsentChanges.Apply(cache, e.Payload);
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {ConsentChanges.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                cache.Clear(); // anything cached before LISTEN took effect may have missed its notification
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or System.IO.IOException)
            {
                cache.Clear();
                LogListenFailed(logger, e);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consent change notifications interrupted; the cache was cleared and the listener reconnects")]
    private static partial void LogListenFailed(ILogger logger, Exception exception);
}
