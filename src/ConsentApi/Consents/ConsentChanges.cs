using ConsentApi.Data;
using Microsoft.EntityFrameworkCore;
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
