using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Collection;

public sealed class ConsentCheckTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Checks_AnswerEachPairInOrder()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics", p => { p["consentModel"] = "opt-out"; p["honorsGpc"] = true; });
        await SaveOkAsync("c-1", Decision("newsletter", true));
        await SaveOkAsync("c-2", Decision("newsletter", false, version: null));

        var response = await (await ServiceAsync()).PostAsJsonAsync("/api/v1/consent-checks", new
        {
            checks = new[]
            {
                new { customerId = "c-1", purpose = "newsletter" },
                new { customerId = "c-2", purpose = "newsletter" },
                new { customerId = "c-3", purpose = "newsletter" },
                new { customerId = "c-3", purpose = "analytics" },
                new { customerId = "c-3", purpose = "nope" },
            },
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await ReadJsonAsync(response))["results"]!.AsArray();
        Assert.Equal(["c-1/newsletter", "c-2/newsletter", "c-3/newsletter", "c-3/analytics", "c-3/nope"],
            results.Select(r => $"{r!["customerId"]}/{r["purpose"]}"));
        Assert.Equal([true, false, false, true, false], results.Select(r => r!["active"]!.GetValue<bool>()));
        Assert.Equal(["granted", "revoked", "none", "none", "unknown-purpose"], results.Select(r => r!["status"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Checks_HonourGpcLikeTheMiddleware()
    {
        await CreatePurposeAsync("analytics", p => { p["consentModel"] = "opt-out"; p["honorsGpc"] = true; });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/consent-checks")
        {
            Content = JsonContent.Create(new { checks = new[] { new { customerId = "c-1", purpose = "analytics" } } }),
        };
        request.Headers.Add("Sec-GPC", "1");

        var results = (await ReadJsonAsync(await (await ServiceAsync()).SendAsync(request)))["results"]!.AsArray();

        Assert.False(results[0]!["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Checks_AcceptAThousandPairs_AndRefuseMore()
    {
        await CreatePurposeAsync();
        var service = await ServiceAsync();
        object Pairs(int n) => new { checks = Enumerable.Range(0, n).Select(i => new { customerId = $"c-{i}", purpose = "newsletter" }) };

        var ok = await service.PostAsJsonAsync("/api/v1/consent-checks", Pairs(1000));
        var tooMany = await service.PostAsJsonAsync("/api/v1/consent-checks", Pairs(1001));

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(1000, (await ReadJsonAsync(ok))["results"]!.AsArray().Count);
        await AssertFieldProblemAsync(tooMany, HttpStatusCode.BadRequest, "checks");
    }

    [Fact]
    public async Task Checks_ForManyCustomers_DoNotRecordAGpcSignal()
    {
        await CreatePurposeAsync("analytics", p => { p["consentModel"] = "opt-out"; p["honorsGpc"] = true; p["legalBasis"] = "legitimate-interests"; });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/consent-checks")
        {
            Content = JsonContent.Create(new { checks = new[] { new { customerId = "c-1", purpose = "analytics" }, new { customerId = "c-2", purpose = "analytics" } } }),
        };
        request.Headers.Add("Sec-GPC", "1");

        var results = (await ReadJsonAsync(await (await ServiceAsync()).SendAsync(request)))["results"]!.AsArray();

        Assert.All(results, r => Assert.False(r!["active"]!.GetValue<bool>())); // judged as opted out…
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_events")); // …but nobody's ledger changed
    }

    [Fact]
    public async Task Checks_RefuseAHostilePurposeNamingIt()
    {
        var response = await (await ServiceAsync()).PostAsync("/api/v1/consent-checks",
            Json("""{"checks":[{"customerId":"c-1","purpose":"news\u0000letter"}]}"""));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "checks[0].purpose");
    }

    [Fact]
    public async Task Checks_RefuseABadCustomerIdNamingIt()
    {
        var response = await (await ServiceAsync()).PostAsJsonAsync("/api/v1/consent-checks",
            new { checks = new[] { new { customerId = new string('x', 129), purpose = "newsletter" } } });

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "checks[0].customerId");
    }
}
