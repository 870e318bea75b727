using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace ConsentApi.Data;

public static partial class DatabaseSetup
{
    public static WebApplicationBuilder AddConsentDatabase(this WebApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString("ConsentDb");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                "ConnectionStrings:ConsentDb is not set (environment: ConnectionStrings__ConsentDb). scripts/run.sh sets it for a local database.");
        }

        builder.Services.AddDbContextPool<ConsentDbContext>(options => options
            .UseNpgsql(WithPoolDefaults(connectionString))
            .UseSnakeCaseNamingConvention()
            // A failed command surfaces as an exception: handled ones (a unique violation that answers
            // 409, the history table a fresh database lacks) are not errors, unhandled ones are logged
            // once by the exception handler.
            .ConfigureWarnings(w => w.Log((RelationalEventId.CommandError, LogLevel.Debug))));
        return builder;
    }

    /// <summary>
    /// Pool settings for the request path, unless the connection string says otherwise. Statements the
    /// API runs over and over (the consent check, the save's statements) are prepared on the server once
    /// per connection instead of parsed and planned every time (<c>Max Auto Prepare=0</c> turns that off,
    /// e.g. behind PgBouncer older than 1.21). And a connection going back to the pool is not reset:
    /// with prepared statements Npgsql cannot reset with one <c>DISCARD ALL</c> and sends seven
    /// statements instead, on every open; nothing here leaves session state on a pooled connection
    /// (LISTEN and the migration lock use connections of their own, settings are <c>SET LOCAL</c>).
    /// </summary>
    internal static string WithPoolDefaults(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!Mentions(connectionString, "Max Auto Prepare", "MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 50;
        }

        if (!Mentions(connectionString, "No Reset On Close", "NoResetOnClose"))
        {
            builder.NoResetOnClose = true;
        }

        return builder.ConnectionString;
    }

    private static bool Mentions(string connectionString, params string[] keys) =>
        keys.Any(k => connectionString.Contains(k, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Applies pending migrations when <c>Database:ApplyMigrationsOnStartup</c> is true. Nodes that
    /// start together take turns on a PostgreSQL advisory lock, so only one migrates; the others
    /// then find nothing pending. A failed migration throws and stops the start.
    /// </summary>
    public static async Task MigrateDatabaseAsync(this WebApplication app)
    {
        if (!app.Configuration.GetValue<bool>("Database:ApplyMigrationsOnStartup"))
        {
            return;
        }

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ConsentDbContext>();
        var logger = scope.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("ConsentApi.Migrations");
        await MigrateAsync(db, logger, app.Lifetime.ApplicationStopping);
    }

    // Any fixed 64-bit number: "ConsentApi" in ASCII, so it is recognisable in pg_locks.
    private const long MigrationLockKey = 0x436F6E73656E74;

    internal static async Task MigrateAsync(ConsentDbContext db, ILogger logger, CancellationToken cancellationToken)
    {
        var strategy = db.Database.CreateExecutionStrategy();
        await strategy.ExecuteAsync(async () =>
        {
            // A session-level lock on a connection of our own (never pooled: the lock must end with it),
            // held across the migration transactions.
            await using var connection = new NpgsqlConnection(
                new NpgsqlConnectionStringBuilder(db.Database.GetConnectionString()) { Pooling = false }.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({MigrationLockKey})", connection))
            {
                await take.ExecuteNonQueryAsync(cancellationToken);
            }

            try
            {
                var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
                if (pending.Count > 0)
                {
                    LogMigrating(logger, pending.Count, pending);
                    await db.Database.MigrateAsync(cancellationToken);
                }
            }
            finally
            {
                await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({MigrationLockKey})", connection);
                await release.ExecuteNonQueryAsync(CancellationToken.None);
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying {Count} migration(s): {Migrations}")]
    private static partial void LogMigrating(ILogger logger, int count, IReadOnlyList<string> migrations);
}
