using DotNet.Testcontainers.Configurations;
using Testcontainers.PostgreSql;

namespace ConsentApi.IntegrationTests.Infrastructure;

/// <summary>
/// The PostgreSQL server the tests run against, found in this order: the connection string in
/// CONSENTAPI_TEST_DB; else a Testcontainers PostgreSQL when a Docker engine is reachable; else
/// the run fails at once with a message that says how to provide one. Never a fake database.
/// </summary>
public static class TestDatabaseServer
{
    public const string EnvironmentVariable = "CONSENTAPI_TEST_DB";

    private static readonly Lazy<Task<string>> Server = new(FindAsync);

    /// <summary>A connection string to a server on which the tests may create and drop databases.</summary>
    public static Task<string> ConnectionStringAsync() => Server.Value;

    private static async Task<string> FindAsync()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        if (TestcontainersSettings.OS.DockerEndpointAuthConfig is not null)
        {
            try
            {
                var container = new PostgreSqlBuilder("postgres:15-alpine").Build();
                await container.StartAsync();
                return container.GetConnectionString(); // Testcontainers' reaper removes it when the run ends
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidOperationException(NoDatabaseMessage + $" (Docker was found but the container did not start: {e.Message})", e);
            }
        }

        throw new InvalidOperationException(NoDatabaseMessage);
    }

    private const string NoDatabaseMessage =
        "No PostgreSQL for the integration tests. Run them with scripts/test.sh (it starts a local PostgreSQL), " +
        "or set " + EnvironmentVariable + " to a connection string (e.g. \"Host=127.0.0.1;Port=5432;Username=postgres;Password=…\") " +
        "of a server where the tests may create databases, or make a Docker engine reachable for Testcontainers.";
}
