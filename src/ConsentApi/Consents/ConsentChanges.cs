using Npgsql;

namespace ConsentApi.Consents;

/// <summary>
/// How nodes learn that consent changed: a PostgreSQL NOTIFY on <see cref="Channel"/>, sent by
/// <see cref="OutboxDispatcher"/> for the outbox rows that changing transactions wrote (never by the
/// changing transaction itself: a NOTIFY inside it takes a database-wide lock until its commit is
/// flushed, so notifying transactions commit one at a time). A payload names many changes: items
/// separated by U+001E, each <c>s␟customer␟purpose</c> (a consent state) or <c>p␟purpose</c> (a
/// purpose's terms), fields separated by U+001F — neither can occur in a customer id or purpose key.
/// </summary>
public static class ConsentChanges
{
    public const string Channel = "consent_changed";

    /// <summary>PostgreSQL refuses a payload of 8,000 bytes or more.</summary>
    internal const int MaxPayloadBytes = 7999;

    private const char Separator = '\u001f';
    private const char ItemSeparator = '\u001e';

    /// <summary>Understood by no node, so every node clears its cache (see <see cref="Apply"/>).</summary>
    private const string ClearEverything = "*";

    /// <summary>What an outbox row means to the caches.</summary>
    internal static string ItemOf(string topic, string? customerId, string? purposeKey) => topic switch
    {
        OutboxTopics.ConsentGranted or OutboxTopics.ConsentRevoked or OutboxTopics.ConsentExpired
            when customerId is not null && purposeKey is not null => $"s{Separator}{customerId}{Separator}{purposeKey}",
        OutboxTopics.PurposeChanged when purposeKey is not null => $"p{Separator}{purposeKey}",
        // A topic this node does not know may be a change written by a newer node: forget everything rather than nothing.
        _ => ClearEverything,
    };

    /// <summary>The items packed into as few payloads as fit under <see cref="MaxPayloadBytes"/>, each item once.</summary>
    internal static List<string> Payloads(IEnumerable<string> items)
    {
        var payloads = new List<string>();
        var current = new System.Text.StringBuilder();
        var bytes = 0;
        foreach (var item in items.Distinct(StringComparer.Ordinal))
        {
            var size = System.Text.Encoding.UTF8.GetByteCount(item);
            if (current.Length > 0 && bytes + 1 + size > MaxPayloadBytes)
            {
                payloads.Add(current.ToString());
                current.Clear();
                bytes = 0;
            }

            if (current.Length > 0)
            {
                current.Append(ItemSeparator);
                bytes++;
            }

            current.Append(item);
            bytes += size;
        }

        if (current.Length > 0)
        {
            payloads.Add(current.ToString());
        }

        return payloads;
    }

    /// <summary>Evicts what a payload names; an item not understood clears the whole cache (the safe answer).</summary>
    internal static void Apply(ConsentCache cache, string payload)
    {
        foreach (var item in payload.Split(ItemSeparator))
        {
            switch (item.Split(Separator))
            {
                case ["s", var customerId, var purposeKey]:
                    cache.Evict(customerId, purposeKey);
                    break;
                case ["p", var purposeKey]:
                    cache.EvictPurpose(purposeKey);
                    break;
                default:
                    cache.Clear();
                    return;
            }
        }
    }
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
