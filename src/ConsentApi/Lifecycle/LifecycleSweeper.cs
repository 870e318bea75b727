using ConsentApi.Consents;
using ConsentApi.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace ConsentApi.Lifecycle;

/// <summary>
/// The time dimension: grants that outlived their lifetime get their <c>system</c> expiry event, and
/// data records past <c>expiresAt</c> are deleted, each deletion written to the customer's deletion
/// log. Safe with several nodes sweeping at once: records are claimed with <c>FOR UPDATE SKIP
/// LOCKED</c> (each deleted by exactly one sweeper), expiries are re-checked under the ledger lock.
/// </summary>
public sealed class LifecycleSweeper(ConsentDbContext db, ConsentLedger ledger, TimeProvider clock)
{
    public const int BatchSize = 1000;
    public const int MaxExpiriesPerSweep = 10 * BatchSize;

    public sealed record SweepResult(int ExpiredConsents, int DeletedRecords);

    public async Task<SweepResult> SweepOnceAsync(CancellationToken cancellationToken)
    {
        // Retention first: invariant 6 bounds how long data outlives its expiry. Expiry events only make
        // the ledger say what every check already answers, so a backlog of them may take a few ticks.
        var deleted = 0;
        int batch;
        do
        {
            batch = await DeleteExpiredRecordsAsync(cancellationToken);
            deleted += batch;
        }
        while (batch == BatchSize);

        var expired = await ExpireConsentsAsync(cancellationToken);
        return new SweepResult(expired, deleted);
    }

    private async Task<int> ExpireConsentsAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow();
        var count = 0;
        while (true)
        {
            var due = await db.ConsentStates.AsNoTracking()
                .Where(s => s.Decision == Decision.Granted && s.ExpiresAt <= now)
                .OrderBy(s => s.ExpiresAt).Take(BatchSize)
                .Select(s => new { s.CustomerId, s.PurposeKey })
                .ToListAsync(cancellationToken);
            var recorded = 0;
            foreach (var state in due)
            {
                recorded += await ledger.RecordExpiryAsync(state.CustomerId, state.PurposeKey, cancellationToken) ? 1 : 0;
                db.ChangeTracker.Clear();
            }

            count += recorded;
            if (due.Count < BatchSize || recorded == 0 || count >= MaxExpiriesPerSweep)
            {
                return count;
            }
        }
    }

    /// <summary>Deletes one batch of expired records and logs them, in one transaction.</summary>
    private async Task<int> DeleteExpiredRecordsAsync(CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await using var command = new NpgsqlCommand("""
            WITH doomed AS (
                SELECT customer_id, id FROM data_records
                WHERE expires_at <= $1
                ORDER BY expires_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED)
            DELETE FROM data_records r USING doomed d
            WHERE r.customer_id = d.customer_id AND r.id = d.id
            RETURNING r.customer_id, r.purpose_key
            """, connection, (NpgsqlTransaction)transaction.GetDbTransaction());
        command.Parameters.Add(new NpgsqlParameter { Value = clock.UtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = BatchSize });

        var deleted = new List<(string CustomerId, string PurposeKey)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                deleted.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        foreach (var group in deleted.GroupBy(d => d))
        {
            ledger.LogDeletion(group.Key.CustomerId, group.Key.PurposeKey, group.Count(), DeletionReason.Retention);
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(CancellationToken.None);
        return deleted.Count;
    }
}

/// <summary>Runs the sweeper every <c>Retention:SweepIntervalSeconds</c> (default 60; 0 turns it off).</summary>
public sealed partial class LifecycleSweepService(IServiceScopeFactory scopes, IConfiguration configuration, TimeProvider clock,
    ILogger<LifecycleSweepService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seconds = configuration.GetValue("Retention:SweepIntervalSeconds", 60);
        if (seconds <= 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds), clock);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var result = await scope.ServiceProvider.GetRequiredService<LifecycleSweeper>().SweepOnceAsync(stoppingToken);
                if (result.ExpiredConsents + result.DeletedRecords > 0)
                {
                    LogSwept(logger, result.ExpiredConsents, result.DeletedRecords);
                }
            }
            catch (Exception e) when (e is NpgsqlException or DbUpdateException or InvalidOperationException or TimeoutException)
            {
                LogSweepFailed(logger, e); // the next tick tries again; the bound is one interval late at worst
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).AsTask().ContinueWith(t => !t.IsCanceled && t.Result, TaskScheduler.Default));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lifecycle sweep: {Expired} consent(s) expired, {Deleted} data record(s) deleted")]
    private static partial void LogSwept(ILogger logger, int expired, int deleted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lifecycle sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
