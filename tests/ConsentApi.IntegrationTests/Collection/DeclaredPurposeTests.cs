using ConsentApi.Consents;
using ConsentApi.Data;
using ConsentApi.IntegrationTests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.IntegrationTests.Collection;

/// <summary>An endpoint that declares a purpose that does not exist stops the start, naming it.</summary>
public sealed class DeclaredPurposeTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private static Endpoint Declaring(string name, string? purpose) =>
        new(_ => Task.CompletedTask, new EndpointMetadataCollection(new RequiresConsentMetadata(purpose)), name);

    private ConsentDbContext Db() => new(new DbContextOptionsBuilder<ConsentDbContext>()
        .UseNpgsql(Fixture.ConnectionString).UseSnakeCaseNamingConvention().Options);

    [Fact]
    public async Task StartUpCheck_FailsNamingTheEndpointAndTheMissingPurpose()
    {
        await CreatePurposeAsync("newsletter");
        await using var db = Db();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ConsentEnforcement.CheckDeclaredPurposesAsync(
            [Declaring("signup", "newsletter"), Declaring("tracking", "analytics")], db, CancellationToken.None));

        Assert.Contains("tracking", error.Message, StringComparison.Ordinal);
        Assert.Contains("'analytics'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'newsletter'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartUpCheck_PassesWhenEveryDeclaredPurposeExists_AndIgnoresRoutePurposes()
    {
        await CreatePurposeAsync("newsletter");
        await using var db = Db();

        var error = await Record.ExceptionAsync(() => ConsentEnforcement.CheckDeclaredPurposesAsync(
            [Declaring("signup", "newsletter"), Declaring("collect", purpose: null)], db, CancellationToken.None));

        Assert.Null(error);
    }
}
