using Npgsql;

namespace ConsentApi.Consents;

/// <summary>
/// Sends the outbox: claims the oldest rows, NOTIFYs every node of what they changed (many changes
/// per payload) and deletes them, in one short transaction. Woken by this node's own commits
/// (<see cref="ConsentOutbox"/>) and, whatever happens, every <see cref="PollInterval"/>, which
/// sends rows left by a node that died between its commit and its dispatch. Runs on every node, cache
/// or not: the rows must leave the table. Rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so
/// dispatchers on several nodes share the work and never wait for one another.
/// </summary>
public sealed partial class OutboxDispatcher(ConsentOutbox outbox, IConfiguration configuration, ILogger<OutboxDispatcher> logger)
    : BackgroundService
{
    public const int BatchSize = 1000;
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The pool defaults of the API's own connections: without them every dispatch began with a DISCARD ALL
        // (its one setting is SET LOCAL, which ends with the transaction).
        var connectionString = Data.DatabaseSetup.WithPoolDefaults(configuration.GetConnectionString("ConsentDb")!);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await DispatchAsync(connectionString, stoppingToken) == BatchSize)
                {
                    // a backlog: go on at once
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                LogDispatchFailed(logger, e); // the rows stay where they are; the next poll sends them
            }

            await outbox.WaitForWorkAsync(PollInterval, stoppingToken);
        }
    }

    /// <summary>Sends and deletes up to <see cref="BatchSize"/> rows; returns how many.</summary>
    internal static async Task<int> DispatchAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Not waiting for this commit's flush is safe: if the server loses it, the rows come back and
        // are sent again — one more eviction of the same entries, which is harmless. Its NOTIFY holds
        // the database-wide notify lock only until this short, unflushed commit.
        await using var claim = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SET LOCAL synchronous_commit = off"),
                // ARRAY(…) claims once. With "id IN (subquery)", and statistics that say the queue is empty,
                // the planner rescans the locking subquery for every row (a nested loop): on a backlog of
                // 5,000 rows one claim took 5 s, growing with the square of the backlog.
                new NpgsqlBatchCommand("""
                    DELETE FROM outbox WHERE id = ANY(ARRAY(
                        SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED))
                    RETURNING topic, customer_id, purpose_key
                    """) { Parameters = { new NpgsqlParameter<int> { TypedValue = BatchSize } } },
            },
        };
        var items = new List<string>();
        await using (var reader = await claim.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                items.Add(ConsentChanges.ItemOf(reader.GetString(0),
                    reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
            }
        }

        if (items.Count == 0)
        {
            return 0; // the transaction wrote nothing; disposing it rolls back
        }

        await using (var notify = new NpgsqlCommand($"SELECT pg_notify('{ConsentChanges.Channel}', p) FROM unnest($1::text[]) AS p",
            connection, transaction))
        {
            notify.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ConsentChanges.Payloads(items).ToArray() });
            await notify.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return items.Count;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending consent change notifications failed; the outbox keeps them and the next poll retries")]
    private static partial void LogDispatchFailed(ILogger logger, Exception exception);
}
