using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Consents;

/// <summary>
/// Global Privacy Control: the first <c>Sec-GPC: 1</c> for a purpose that honours it is recorded as a
/// <c>gpc</c> revocation and overrides an earlier grant; an explicit grant made after it stands, and
/// later signals do not undo it. Only the exact value "1" is a signal.
/// </summary>
public sealed class GpcTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private Task<JsonObject> CreateGpcPurposeAsync(string key = "ads", string model = "opt-out") => CreatePurposeAsync(key, p =>
    {
        p["consentModel"] = model;
        p["honorsGpc"] = true;
        p["legalBasis"] = model == "opt-out" ? "legitimate-interests" : "consent";
    });

    private async Task<JsonObject> CheckAsync(string customerId, string purpose, string? gpc = "1")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/customers/{customerId}/consents/{purpose}");
        if (gpc is not null)
        {
            request.Headers.Add("Sec-GPC", gpc);
        }

        var response = await (await ServiceAsync()).SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ReadJsonAsync(response);
    }

    [Fact]
    public async Task FirstSignal_IsRecordedAsAGpcRevocationInTheLedger()
    {
        await CreateGpcPurposeAsync();

        var state = await CheckAsync("c-1", "ads");

        Assert.Equal("revoked", state["status"]!.GetValue<string>());
        var e = Assert.Single(await EventsAsync("c-1"))!;
        Assert.Equal("revoked", e["decision"]!.GetValue<string>());
        Assert.Equal("gpc", e["source"]!.GetValue<string>());
        var verify = await Admin.GetFromJsonAsync<JsonObject>("/api/v1/customers/c-1/ledger/verify");
        Assert.True(verify!["valid"]!.GetValue<bool>());
    }

    [Fact]
    public async Task FirstSignal_OverridesAnEarlierGrant()
    {
        await CreateGpcPurposeAsync("ads", "opt-in");
        await SaveOkAsync("c-1", Decision("ads", true));

        var state = await CheckAsync("c-1", "ads");

        Assert.Equal("revoked", state["status"]!.GetValue<string>());
        Assert.False(state["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task GrantAfterTheSignal_Stands_AndLaterSignalsDoNotUndoIt()
    {
        await CreateGpcPurposeAsync();
        await CheckAsync("c-1", "ads");
        await SaveOkAsync("c-1", Decision("ads", true));

        var again = await CheckAsync("c-1", "ads");
        var third = await CheckAsync("c-1", "ads");

        Assert.True(again["active"]!.GetValue<bool>());
        Assert.True(third["active"]!.GetValue<bool>());
        Assert.Equal(2, (await EventsAsync("c-1")).Count); // the gpc revocation and the grant, nothing more
    }

    [Fact]
    public async Task RepeatedOrConcurrentSignals_AreRecordedOnce()
    {
        await CreateGpcPurposeAsync();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => CheckAsync("c-1", "ads")));

        Assert.Single(await EventsAsync("c-1"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("true")]
    [InlineData(null)]
    public async Task OtherValues_AreNoSignal(string? value)
    {
        await CreateGpcPurposeAsync();

        var state = await CheckAsync("c-1", "ads", value);

        Assert.True(state["active"]!.GetValue<bool>());
        Assert.Empty(await EventsAsync("c-1"));
    }

    [Fact]
    public async Task PurposeNotHonouringGpc_RecordsNothing()
    {
        await CreatePurposeAsync("ads", p => { p["consentModel"] = "opt-out"; p["legalBasis"] = "legitimate-interests"; });

        var state = await CheckAsync("c-1", "ads");

        Assert.True(state["active"]!.GetValue<bool>());
        Assert.Empty(await EventsAsync("c-1"));
    }

    [Fact]
    public async Task BatchChecksAndCollection_HonourTheSignalTheSameWay()
    {
        await CreateGpcPurposeAsync();
        var service = await ServiceAsync();
        using var batch = new HttpRequestMessage(HttpMethod.Post, "/api/v1/consent-checks")
        {
            Content = JsonContent.Create(new { checks = new[] { new { customerId = "c-1", purpose = "ads" } } }),
        };
        batch.Headers.Add("Sec-GPC", "1");
        using var collect = new HttpRequestMessage(HttpMethod.Post, "/api/v1/customers/c-2/data/ads")
        {
            Content = JsonContent.Create(new { fields = new { email = "b@example.com" } }),
        };
        collect.Headers.Add("Sec-GPC", "1");

        var checks = await ReadJsonAsync(await service.SendAsync(batch));
        var collected = await service.SendAsync(collect);

        Assert.Equal("revoked", checks["results"]![0]!["status"]!.GetValue<string>());
        Assert.Equal("gpc", (await EventsAsync("c-1"))[0]!["source"]!.GetValue<string>());
        await AssertProblemAsync(collected, HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal("gpc", (await EventsAsync("c-2"))[0]!["source"]!.GetValue<string>());
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records"));
    }
}
