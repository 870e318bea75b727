using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Http;

/// <summary>An API allowing 3 requests per credential per minute.</summary>
public sealed class TightRateLimitFixture : ApiFixture
{
    public static readonly IReadOnlyDictionary<string, string?> TightSettings = new Dictionary<string, string?>
    {
        ["RateLimiting:PermitLimit"] = "3",
        ["RateLimiting:WindowSeconds"] = "60",
    };

    protected override IReadOnlyDictionary<string, string?> Settings => TightSettings;
}

/// <summary>
/// The limiter's windows live in the memory of a node and run on real time, so permits spent by
/// one test (the bootstrap admin's, the anonymous caller's) would still be spent in the next one
/// on a shared node. Each test therefore starts a node of its own, with the fixture's tight
/// settings and on the fixture's database, and uses only that node's clients — never the
/// inherited <c>Admin</c>/<c>ServiceAsync</c>, which talk to the fixture's node.
/// </summary>
public sealed class RateLimitTests(TightRateLimitFixture fixture) : ApiTest(fixture), IClassFixture<TightRateLimitFixture>
{
    private const string Notice = "/api/v1/purposes";

    [Fact]
    public async Task Responses_CarryLimitRemainingAndReset()
    {
        await using var node = StartNode();
        using var anonymous = node.CreateClient();

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            responses.Add(await anonymous.GetAsync(Notice));
        }

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.All(responses, r => Assert.Equal(3, IntHeader(r, "RateLimit-Limit")));
        Assert.Equal([2, 1, 0], responses.Select(r => IntHeader(r, "RateLimit-Remaining")));
        Assert.All(responses, r => Assert.InRange(IntHeader(r, "RateLimit-Reset"), 1, 60));
    }

    [Fact]
    public async Task FourthRequestInWindow_Is429RateLimited_WithRetryAfter()
    {
        await using var node = StartNode();
        using var anonymous = node.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(Notice)).StatusCode);
        }

        var refused = await anonymous.GetAsync(Notice);

        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate-limited");
        var retryAfter = Assert.Single(refused.Headers.GetValues("Retry-After"));
        Assert.True(int.TryParse(retryAfter, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds),
            $"Retry-After must be whole seconds, got '{retryAfter}'.");
        Assert.InRange(seconds, 1, 60);
        Assert.Equal(3, IntHeader(refused, "RateLimit-Limit"));
        Assert.Equal(0, IntHeader(refused, "RateLimit-Remaining"));
    }

    [Fact]
    public async Task RefusedRequest_IsNotProcessed()
    {
        await using var node = StartNode();
        using var admin = node.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Api-Key", ApiFixture.AdminKey);
        foreach (var key in new[] { "one", "two", "three" })
        {
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(Notice, PurposeBody(key))).StatusCode);
        }

        var before = await Fixture.RowCountsAsync();

        var refused = await admin.PostAsJsonAsync(Notice, PurposeBody("four"));

        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate-limited");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Limits_ArePerCredential_AnotherKeyAndTheAnonymousCallerStillGetThrough()
    {
        await using var node = StartNode();
        using var admin = node.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Api-Key", ApiFixture.AdminKey);
        using var first = node.CreateClient();
        first.DefaultRequestHeaders.Add("X-Api-Key", await IssueKeyOnAsync(admin));
        using var second = node.CreateClient();
        second.DefaultRequestHeaders.Add("X-Api-Key", await IssueKeyOnAsync(admin));
        using var anonymous = node.CreateClient();

        // The first key spends its window across different routes: the limit is per credential, not per route.
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/api/v1/customers/c-1/consents")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/api/v1/customers/c-2/consents")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync(Notice)).StatusCode);
        var exhausted = await first.GetAsync("/api/v1/customers/c-3/consents");

        var other = await second.GetAsync("/api/v1/customers/c-1/consents");
        var nobody = await anonymous.GetAsync(Notice);
        var adminAgain = await admin.GetAsync("/api/v1/api-keys");

        await AssertProblemAsync(exhausted, HttpStatusCode.TooManyRequests, "rate-limited");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(2, IntHeader(other, "RateLimit-Remaining"));
        Assert.Equal(HttpStatusCode.OK, nobody.StatusCode);
        Assert.Equal(2, IntHeader(nobody, "RateLimit-Remaining"));
        Assert.Equal(HttpStatusCode.OK, adminAgain.StatusCode); // its third request: two keys issued before
        Assert.Equal(0, IntHeader(adminAgain, "RateLimit-Remaining"));
    }

    [Fact]
    public async Task ExhaustedAnonymousCaller_DoesNotLimitAKey()
    {
        await using var node = StartNode();
        using var anonymous = node.CreateClient();
        using var admin = node.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Api-Key", ApiFixture.AdminKey);
        for (var i = 0; i < 3; i++)
        {
            await anonymous.GetAsync(Notice);
        }

        var refused = await anonymous.GetAsync(Notice);
        var keyed = await admin.GetAsync(Notice);

        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate-limited");
        Assert.Equal(HttpStatusCode.OK, keyed.StatusCode);
        Assert.Equal(2, IntHeader(keyed, "RateLimit-Remaining"));
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_IsNotRateLimited_EvenForAnExhaustedCaller(string path)
    {
        await using var node = StartNode();
        using var anonymous = node.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await anonymous.GetAsync(Notice);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await anonymous.GetAsync(Notice)).StatusCode);

        for (var i = 0; i < 5; i++)
        {
            var health = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.False(health.Headers.Contains("RateLimit-Remaining"), "Health answers carry no rate-limit headers.");
        }
    }

    private ConsentApiFactory StartNode() =>
        ApiFixture.StartApi(Fixture.ConnectionString, TightRateLimitFixture.TightSettings, Fixture.Clock);

    private static async Task<string> IssueKeyOnAsync(HttpClient admin)
    {
        var response = await admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "limited", role = "service" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
    }

    private static int IntHeader(HttpResponseMessage response, string name)
    {
        Assert.True(response.Headers.TryGetValues(name, out var values), $"Missing header {name} on a {(int)response.StatusCode} answer.");
        return int.Parse(Assert.Single(values), NumberStyles.None, CultureInfo.InvariantCulture);
    }
}
