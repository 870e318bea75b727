using Npgsql;

namespace ConsentApi.Benchmarks;

/// <summary>
/// The baselines, measured in the same run as the API: a constant (what Kestrel and minimal APIs cost on
/// this machine), a raw Npgsql primary-key lookup, and a raw Npgsql single-row durable insert (what the
/// database costs). Each is the least the API's matching scenario could possibly cost.
/// </summary>
internal static class BaselineServer
{
    private const int Rows = 100_000;

    public static async Task<int> RunAsync(string urls, string connectionString)
    {
        // synchronous_commit on: every insert waits for its WAL flush, like the API's saves.
        var connection = new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c synchronous_commit=on" };
        await using var dataSource = NpgsqlDataSource.Create(connection.ConnectionString);
        await PrepareAsync(dataSource);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls);
        var app = builder.Build();

        app.MapGet("/const", () => "ok");

        app.MapGet("/raw-lookup", async (long id) =>
        {
            await using var command = dataSource.CreateCommand("SELECT payload FROM bench_rows WHERE id = $1");
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
            return await command.ExecuteScalarAsync() is string payload ? Results.Text(payload) : Results.NotFound();
        });

        app.MapPost("/raw-insert", async () =>
        {
            await using var command = dataSource.CreateCommand("INSERT INTO bench_inserts (payload) VALUES ($1)");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "a consent decision, more or less" });
            await command.ExecuteNonQueryAsync();
            return Results.Created();
        });

        await app.RunAsync();
        return 0;
    }

    private static async Task PrepareAsync(NpgsqlDataSource dataSource)
    {
        await using (var create = dataSource.CreateCommand(
            "CREATE TABLE IF NOT EXISTS bench_rows (id bigint PRIMARY KEY, payload text NOT NULL);" +
            "CREATE TABLE IF NOT EXISTS bench_inserts (id bigserial PRIMARY KEY, payload text NOT NULL);"))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using (var fill = dataSource.CreateCommand(
            "INSERT INTO bench_rows (id, payload) SELECT g, md5(g::text) FROM generate_series(1, $1) AS g ON CONFLICT (id) DO NOTHING"))
        {
            fill.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Rows });
            await fill.ExecuteNonQueryAsync();
        }

        await using var analyze = dataSource.CreateCommand("ANALYZE bench_rows");
        await analyze.ExecuteNonQueryAsync();
    }
}
