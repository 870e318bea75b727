using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Collection;

/// <summary>
/// Two API nodes on one database. Each keeps a consent cache; a change made through one node reaches
/// the other's cache through PostgreSQL NOTIFY, and in any case within ConsentCache:MaxStalenessMs.
/// Collection never trusts the cache.
/// </summary>
public sealed class MultiNodeTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private ConsentApiFactory? _nodeB;

    private async Task<HttpClient> NodeBAsync(int maxStalenessMs)
    {
        _nodeB = ApiFixture.StartApi(Fixture.ConnectionString,
            new Dictionary<string, string?> { ["ConsentCache:MaxStalenessMs"] = maxStalenessMs.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            Fixture.Clock);
        var client = _nodeB.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", await IssueKeyAsync("service", "node-b"));
        return client;
    }

    private static async Task<bool> ActiveAsync(HttpClient node, string customerId = "c-42") =>
        (await node.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{customerId}/consents/newsletter"))!["active"]!.GetValue<bool>();

    [Fact]
    public async Task RevocationThroughOneNode_ReachesTheOthersCachedChecksByNotification()
    {
        await CreatePurposeAsync();
        var nodeB = await NodeBAsync(maxStalenessMs: 60_000); // only a notification can refresh it in time
        await SaveOkAsync("c-42", Decision("newsletter", true));
        Assert.True(await ActiveAsync(nodeB)); // now cached on node B

        await SaveOkAsync("c-42", Decision("newsletter", false));
        var waited = Stopwatch.StartNew();
        while (await ActiveAsync(nodeB) && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10);
        }

        Assert.False(await ActiveAsync(nodeB));
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), $"node B still answered active after {waited.Elapsed}");
    }

    [Fact]
    public async Task WithoutANotification_TheCacheIsStaleAtMostMaxStaleness()
    {
        await CreatePurposeAsync();
        var nodeB = await NodeBAsync(maxStalenessMs: 2_000);
        await SaveOkAsync("c-42", Decision("newsletter", true));
        Assert.True(await ActiveAsync(nodeB));

        // A change that sends no NOTIFY (as if the notification were lost): only the bound can save us.
        await Fixture.ExecuteAsync("UPDATE consent_states SET decision = 'revoked' WHERE customer_id = 'c-42'");
        var waited = Stopwatch.StartNew();
        var staleAnswers = 0;
        while (await ActiveAsync(nodeB) && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            staleAnswers++;
            await Task.Delay(20);
        }

        Assert.True(staleAnswers > 0, "the cache should have answered from memory at least once");
        Assert.True(waited.Elapsed < TimeSpan.FromMilliseconds(2_000 + 1_500), $"stale for {waited.Elapsed}, bound is 2 s");
    }

    [Fact]
    public async Task RevocationThroughOneNode_RefusesTheOthersCollectionAtOnce()
    {
        await CreatePurposeAsync();
        var nodeB = await NodeBAsync(maxStalenessMs: 60_000);
        await SaveOkAsync("c-42", Decision("newsletter", true));
        var first = await nodeB.PostAsJsonAsync("/api/v1/customers/c-42/data/newsletter", new { fields = new { email = "a@example.com" } });
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        await SaveOkAsync("c-42", Decision("newsletter", false));
        var second = await nodeB.PostAsJsonAsync("/api/v1/customers/c-42/data/newsletter", new { fields = new { email = "b@example.com" } });

        await AssertProblemAsync(second, HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = 'c-42'"));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_nodeB is not null)
        {
            await _nodeB.DisposeAsync();
        }
    }
}
