using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Purposes;

public sealed class PurposeTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Create_ReturnsVersionOneWithLocationAndETag()
    {
        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody());

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/api/v1/purposes/newsletter", response.Headers.Location?.OriginalString);
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
        var body = await ReadJsonAsync(response);
        Assert.Equal(1, body["version"]!.GetValue<int>());
        Assert.Equal("active", body["status"]!.GetValue<string>());
        Assert.Equal("Mailer Ltd", body["recipients"]![0]!["name"]!.GetValue<string>());
        Assert.NotNull(body["createdAt"]);
        Assert.NotNull(body["updatedAt"]);
    }

    [Fact]
    public async Task Notice_IsPublic_AndListsOnlyActivePurposesUnlessAskedForAll()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/analytics")).StatusCode);

        var active = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes");
        var all = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes?status=all");
        var retired = await Anonymous.GetFromJsonAsync<JsonObject>("/api/v1/purposes/analytics");

        Assert.Equal(["newsletter"], active!["items"]!.AsArray().Select(p => p!["key"]!.GetValue<string>()));
        Assert.Equal(["analytics", "newsletter"], all!["items"]!.AsArray().Select(p => p!["key"]!.GetValue<string>()));
        Assert.Equal("retired", retired!["status"]!.GetValue<string>());
    }
}
