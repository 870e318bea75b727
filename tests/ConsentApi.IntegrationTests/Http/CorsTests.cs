using System.Net;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Http;

/// <summary>An API that allows one front-end origin.</summary>
public sealed class OneOriginFixture : ApiFixture
{
    public const string Origin = "https://app.example.com";

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Cors:AllowedOrigins:0"] = Origin,
    };
}

/// <summary>Browsers may call from the configured origins only.</summary>
public sealed class CorsTests(OneOriginFixture fixture) : ApiTest(fixture), IClassFixture<OneOriginFixture>
{
    private const string Path = "/api/v1/customers/c-1/consents";

    [Fact]
    public async Task Preflight_FromTheAllowedOrigin_AllowsTheMethodAndTheKeyHeader()
    {
        var response = await Anonymous.SendAsync(Preflight(OneOriginFixture.Origin));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(OneOriginFixture.Origin, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.Contains("POST", string.Join(",", response.Headers.GetValues("Access-Control-Allow-Methods")), StringComparison.Ordinal);
        Assert.Contains("x-api-key", string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant(),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preflight_FromAnotherOrigin_IsNotAllowed()
    {
        var response = await Anonymous.SendAsync(Preflight("https://evil.example.net"));

        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Answer_ToTheAllowedOrigin_ExposesTheRateLimitHeaders()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Path);
        request.Headers.Add("Origin", OneOriginFixture.Origin);
        var response = await Admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(OneOriginFixture.Origin, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.Contains("RateLimit-Remaining", string.Join(",", response.Headers.GetValues("Access-Control-Expose-Headers")),
            StringComparison.OrdinalIgnoreCase);
    }

    private static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, Path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "content-type,x-api-key");
        return request;
    }
}

/// <summary>Without configured origins, no answer allows any origin.</summary>
public sealed class NoCorsTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Answer_ToAnyOrigin_CarriesNoCorsHeaders()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/customers/c-1/consents");
        request.Headers.Add("Origin", "https://app.example.com");
        var response = await Admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
