using System.Net;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Consents;

/// <summary>
/// A save and a change of its purpose never interleave (docs/ledger-and-hash-chain.md): each race holds
/// one side open in a transaction of the test's own, taking the lock that side takes, waits until the
/// API's side is seen blocked on it in <c>pg_stat_activity</c>, then commits.
/// </summary>
public sealed class SaveAndPurposeChangeTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Save_WhileARetirementCommits_WaitsForIt_AndIsRefused()
    {
        await CreatePurposeAsync();
        await using var transaction = await HoldAsync(PurposeChangeLock("newsletter"),
            "UPDATE purposes SET status = 'retired', updated_at = now() WHERE key = 'newsletter'");

        var save = SaveAsync("c-7", Decision("newsletter", true));
        await AssertBlockedAsync("%pg_advisory_xact_lock_shared%", "advisory");
        Assert.False(save.IsCompleted);
        await transaction.CommitAsync();

        var response = await save;
        await AssertFieldProblemAsync(response, HttpStatusCode.UnprocessableEntity, "decisions[0].purpose");
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_events WHERE customer_id = 'c-7'"));
    }

    [Fact]
    public async Task Retirement_WhileASaveIsInFlight_WaitsForTheSave()
    {
        await CreatePurposeAsync();
        await using var transaction = await HoldAsync(SaveInFlightLock("newsletter"));

        var retire = Admin.DeleteAsync("/api/v1/purposes/newsletter");
        await AssertBlockedAsync("%pg_advisory_xact_lock(%", "advisory");
        Assert.False(retire.IsCompleted);
        Assert.Equal("active", await Fixture.ScalarAsync<string>("SELECT status FROM purposes WHERE key = 'newsletter'"));
        await transaction.CommitAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await retire).StatusCode);
        Assert.Equal("retired", await Fixture.ScalarAsync<string>("SELECT status FROM purposes WHERE key = 'newsletter'"));
    }

    [Fact]
    public async Task NewVersion_WhileASaveIsInFlight_WaitsForTheSave()
    {
        await CreatePurposeAsync();
        await using var transaction = await HoldAsync(SaveInFlightLock("newsletter"));

        var update = PutPurposeAsync("newsletter", "\"1\"", UpdateBody(b => b["description"] = "Now also on Sundays."));
        await AssertBlockedAsync("%pg_advisory_xact_lock(%", "advisory");
        Assert.False(update.IsCompleted);
        Assert.Equal(1, await Fixture.ScalarAsync<int>("SELECT current_version FROM purposes WHERE key = 'newsletter'"));
        await transaction.CommitAsync();

        var response = await update;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, (await ReadJsonAsync(response))["version"]!.GetValue<int>());
    }
}
