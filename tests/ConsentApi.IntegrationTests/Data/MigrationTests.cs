using System.Net;
using ConsentApi.Auth;
using ConsentApi.Data;
using ConsentApi.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ConsentApi.IntegrationTests.Data;

/// <summary>
/// The start-up migrations on a database of each test's own, created empty (no fixture: the
/// point is what happens before any API has migrated it).
/// </summary>
public sealed class MigrationTests : IAsyncLifetime
{
    private readonly string _database = "consentapi_migrate_" + Guid.NewGuid().ToString("N")[..12];
    private string _server = "";
    private string _connectionString = "";

    public async Task InitializeAsync()
    {
        _server = await TestDatabaseServer.ConnectionStringAsync();
        await ExecuteAsync(_server, $"CREATE DATABASE {_database}");
        _connectionString = new NpgsqlConnectionStringBuilder(_server) { Database = _database }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        using (var pooled = new NpgsqlConnection(_connectionString))
        {
            NpgsqlConnection.ClearPool(pooled);
        }

        await ExecuteAsync(_server, $"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
    }

    [Fact]
    public async Task MigrateAsync_TwiceConcurrentlyOnAFreshDatabase_AppliesEachMigrationOnce()
    {
        await using var first = NewContext();
        await using var second = NewContext();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        await Task.WhenAll(
            Task.Run(() => DatabaseSetup.MigrateAsync(first, NullLogger.Instance, timeout.Token)),
            Task.Run(() => DatabaseSetup.MigrateAsync(second, NullLogger.Instance, timeout.Token)));

        var migrations = first.Database.GetMigrations().ToList();
        Assert.NotEmpty(migrations);
        Assert.Equal(migrations, await HistoryAsync());
        Assert.Empty(await second.Database.GetPendingMigrationsAsync());
        var tables = ModelTables(first);
        Assert.Equal(tables, await ExistingAsync(tables));
    }

    [Fact]
    public async Task MigrateAsync_OnAMigratedDatabase_AppliesNothingAndSucceeds()
    {
        await using (var db = NewContext())
        {
            await DatabaseSetup.MigrateAsync(db, NullLogger.Instance, CancellationToken.None);
            // A row that re-running a migration (dropping or re-creating its table) would lose or trip over.
            db.ApiKeys.Add(new ApiKey
            {
                Id = Guid.NewGuid(), Name = "survivor", Role = ApiKeyRole.Service,
                KeyHash = new string('a', 64), Prefix = "cak_surv", CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        var history = await HistoryAsync();
        await using var again = NewContext();
        Assert.Empty(await again.Database.GetPendingMigrationsAsync());

        await DatabaseSetup.MigrateAsync(again, NullLogger.Instance, CancellationToken.None);

        Assert.Equal(history, await HistoryAsync());
        Assert.Equal(1, await again.ApiKeys.CountAsync(k => k.Name == "survivor"));
    }

    [Fact]
    public async Task TwoApiNodes_StartingTogetherOnAFreshDatabase_BothStartAndServe()
    {
        var settings = new Dictionary<string, string?>();
        var starts = Enumerable.Range(0, 2)
            .Select(_ => Task.Run(() => ApiFixture.StartApi(_connectionString, settings, TimeProvider.System)))
            .ToList();
        try
        {
            foreach (var node in await Task.WhenAll(starts))
            {
                using var client = node.CreateClient();
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/purposes")).StatusCode);
            }

            await using var db = NewContext();
            Assert.Equal(db.Database.GetMigrations().ToList(), await HistoryAsync());
        }
        finally
        {
            foreach (var start in starts.Where(s => s.IsCompletedSuccessfully))
            {
                await (await start).DisposeAsync();
            }
        }
    }

    private ConsentDbContext NewContext() => new(new DbContextOptionsBuilder<ConsentDbContext>()
        .UseNpgsql(_connectionString)
        .UseSnakeCaseNamingConvention()
        .Options);

    private static List<string> ModelTables(ConsentDbContext db) =>
        db.Model.GetEntityTypes().Select(e => e.GetTableName()).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>The applied migrations, in order, one row each (a migration applied twice appears twice).</summary>
    private async Task<List<string>> HistoryAsync()
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""SELECT "migration_id" FROM "__EFMigrationsHistory" ORDER BY 1""", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<string>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    private async Task<List<string>> ExistingAsync(IReadOnlyList<string> tables)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1) ORDER BY tablename COLLATE \"C\"", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = tables.ToArray() });
        await using var reader = await command.ExecuteReaderAsync();
        var found = new List<string>();
        while (await reader.ReadAsync())
        {
            found.Add(reader.GetString(0));
        }

        return found;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
