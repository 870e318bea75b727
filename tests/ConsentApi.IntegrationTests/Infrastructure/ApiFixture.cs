using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace ConsentApi.IntegrationTests.Infrastructure;

/// <summary>
/// One running API (real Kestrel on a loopback port) over one database of its own, shared by the
/// tests of a class. The database is created for the fixture and built by the API's own start-up
/// migrations; <see cref="ResetAsync"/> empties it before each test.
/// </summary>
public class ApiFixture : IAsyncLifetime
{
    public const string AdminKey = "test-bootstrap-admin-key-0123456789abcdef";

    private ConsentApiFactory? _factory;
    private string? _serverConnectionString;

    public string DatabaseName { get; } = "consentapi_test_" + Guid.NewGuid().ToString("N")[..12];
    public string ConnectionString { get; private set; } = "";

    /// <summary>Settings for the API under test; subclasses change them (e.g. a tight rate limit).</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>();

    /// <summary>Services added to the API under test; subclasses add them (e.g. a log sink that keeps what it is sent).</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    /// <summary>
    /// The API's clock. It starts at the real time and moves 1 ms per reading; tests move it on
    /// (<c>Clock.Advance(TimeSpan.FromDays(400))</c>) instead of sleeping.
    /// </summary>
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow) { AutoAdvanceAmount = TimeSpan.FromMilliseconds(1) };

    public ConsentApiFactory Factory => _factory ?? throw new InvalidOperationException("The fixture is not started.");

    public async Task InitializeAsync()
    {
        _serverConnectionString = await TestDatabaseServer.ConnectionStringAsync();
        await using (var server = new NpgsqlConnection(_serverConnectionString))
        {
            await server.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {DatabaseName}", server);
            await create.ExecuteNonQueryAsync();
        }

        ConnectionString = new NpgsqlConnectionStringBuilder(_serverConnectionString) { Database = DatabaseName }.ConnectionString;
        _factory = StartApi(ConnectionString, Settings, Clock, ConfigureServices);
    }

    /// <summary>Starts another API process-alike on the same database (for multi-node tests).</summary>
    public static ConsentApiFactory StartApi(string connectionString, IReadOnlyDictionary<string, string?> settings, TimeProvider clock,
        Action<IServiceCollection>? services = null)
    {
        var factory = new ConsentApiFactory(connectionString, settings, clock, services);
        factory.UseKestrel(0);
        factory.StartServer();
        return factory;
    }

    public HttpClient CreateClient(string? apiKey = null)
    {
        var client = Factory.CreateClient();
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        return client;
    }

    /// <summary>Empties every table (the schema and its migrations stay), so each test starts clean.</summary>
    public async Task ResetAsync()
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("""
            DO $$ DECLARE tables text;
            BEGIN
              SELECT string_agg(format('%I', tablename), ', ') INTO tables
              FROM pg_tables WHERE schemaname = 'public' AND tablename <> '__EFMigrationsHistory';
              EXECUTE 'TRUNCATE ' || tables || ' CASCADE';
            END $$;
            """, connection);
        await command.ExecuteNonQueryAsync();

        // TRUNCATE sends no change notification: forget what the node cached from the previous test.
        Factory.Services.GetRequiredService<ConsentApi.Consents.ConsentCache>().Clear();
    }

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public async Task<T?> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)Convert.ChangeType(result, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Row counts of every table: equal snapshots before and after a refused request mean nothing was written.</summary>
    public async Task<Dictionary<string, long>> RowCountsAsync()
    {
        // The outbox is a queue that the nodes' dispatchers empty within milliseconds of a commit: wait
        // for it, so that snapshots compare what is kept (a row that never leaves still shows).
        await OutboxDrainedAsync();
        await using var connection = await OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '__EFMigrationsHistory' ORDER BY 1", connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var counts = new Dictionary<string, long>();
        foreach (var table in tables)
        {
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM \"{table}\"", connection);
            counts[table] = (long)(await count.ExecuteScalarAsync())!;
        }

        return counts;
    }

    /// <summary>Waits (at most 10 s) until no outbox row is left; true when none is.</summary>
    public async Task<bool> OutboxDrainedAsync()
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (await ScalarAsync<long>("SELECT count(*) FROM outbox") > 0)
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(10))
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_serverConnectionString is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var server = new NpgsqlConnection(_serverConnectionString);
            await server.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {DatabaseName} WITH (FORCE)", server);
            await drop.ExecuteNonQueryAsync();
        }
    }
}

/// <summary>The API as users run it, configured for a test database.</summary>
public sealed class ConsentApiFactory(string connectionString, IReadOnlyDictionary<string, string?> settings, TimeProvider clock,
    Action<IServiceCollection>? services = null)
    : WebApplicationFactory<Program>
{
    public static readonly string EncryptionKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:ConsentDb", connectionString);
        builder.UseSetting("Database:ApplyMigrationsOnStartup", "true");
        builder.UseSetting("Auth:BootstrapAdminKey", ApiFixture.AdminKey);
        builder.UseSetting("RateLimiting:PermitLimit", "100000");
        builder.UseSetting("Serilog:MinimumLevel:Default", "Warning");
        builder.UseSetting("Encryption:Keys:test1", EncryptionKey);
        builder.UseSetting("Encryption:ActiveKeyId", "test1");
        builder.UseSetting("Retention:SweepIntervalSeconds", "0"); // tests sweep explicitly, on their own clock
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(collection =>
        {
            collection.AddSingleton(clock);
            services?.Invoke(collection);
        });
    }
}
