using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Http;

/// <summary>
/// Invariant 7: bad input gets a 4xx problem naming the field at fault, never a 5xx, never a
/// partial write. Each case is sent with a credential that would be allowed to write, against a
/// database where the same request with a good body would write.
/// </summary>
public sealed class BadInputTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    /// <summary>A refused request: the answer expected and the body (or no body) to send.</summary>
    /// <param name="Field">The key expected in <c>errors</c>; null when the request has no single field at fault (malformed JSON).</param>
    private sealed record BadRequestCase(HttpStatusCode Status, string? Field, Func<HttpContent?> Content, string CustomerId = "c-1");

    private const string ValidDecision = """{ "purpose": "newsletter", "granted": true, "purposeVersion": 1 }""";

    private static string Save(string decisions = $"[{ValidDecision}]", string rest = """, "source": "web", "collectionPoint": "signup-form" """) =>
        $$"""{ "decisions": {{decisions}}{{rest}} }""";

    private static string Nested(int depth) => new string('[', depth) + new string(']', depth);

    private static StringContent Raw(string body, string mediaType = "application/json") => new(body, Encoding.UTF8, mediaType);

    private static BadRequestCase Bad(string body, string? field, HttpStatusCode status = HttpStatusCode.BadRequest) =>
        new(status, field, () => Raw(body));

    private static readonly Dictionary<string, BadRequestCase> ConsentCases = new()
    {
        ["truncated JSON"] = Bad("""{ "decisions": [ { "purpose": "newsletter", "granted": true""", null),
        ["trailing garbage"] = Bad(Save() + " }{ nope", null),
        ["bare string"] = Bad("\"hello\"", "body"),
        ["array instead of object"] = Bad("[" + Save() + "]", "body"),
        ["granted is a string"] = Bad(Save("""[{ "purpose": "newsletter", "granted": "yes", "purposeVersion": 1 }]"""), "decisions[0].granted"),
        ["purposeVersion is a string"] = Bad(Save("""[{ "purpose": "newsletter", "granted": true, "purposeVersion": "1" }]"""), "decisions[0].purposeVersion"),
        ["purposeVersion is a fraction"] = Bad(Save("""[{ "purpose": "newsletter", "granted": true, "purposeVersion": 1.5 }]"""), "decisions[0].purposeVersion"),
        ["purposeVersion is zero"] = Bad(Save("""[{ "purpose": "newsletter", "granted": true, "purposeVersion": 0 }]"""), "decisions[0].purposeVersion"),
        ["decisions is an object"] = Bad(Save("{}"), "decisions"),
        ["source is a number"] = Bad(Save(rest: """, "source": 0"""), "source"),
        ["source is one the API records itself"] = Bad(Save(rest: """, "source": "system" """), "source"),
        ["unknown top-level field"] = Bad(Save(rest: """, "source": "web", "admin": true"""), "admin"),
        ["unknown nested field"] = Bad(Save("""[{ "purpose": "newsletter", "granted": true, "purposeVersion": 1, "forced": true }]"""), "decisions[0].forced"),
        ["decisions missing"] = Bad("""{ "source": "web" }""", "decisions"),
        ["source missing"] = Bad(Save(rest: ""), "source"),
        ["granted missing"] = Bad(Save("""[{ "purpose": "newsletter", "purposeVersion": 1 }]"""), "decisions[0].granted"),
        ["purpose missing"] = Bad(Save("""[{ "granted": true, "purposeVersion": 1 }]"""), "decisions[0].purpose"),
        ["grant without purposeVersion"] = Bad(Save("""[{ "purpose": "newsletter", "granted": true }]"""), "decisions[0].purposeVersion"),
        ["decisions null"] = Bad(Save("null"), "decisions"),
        ["source null"] = Bad(Save(rest: """, "source": null"""), "source"),
        ["granted null"] = Bad(Save("""[{ "purpose": "newsletter", "granted": null, "purposeVersion": 1 }]"""), "decisions[0].granted"),
        ["decision null"] = Bad(Save("[null]"), "decisions[0]"),
        ["decisions empty"] = Bad(Save("[]"), "decisions"),
        ["101 decisions"] = Bad(Save("[" + string.Join(", ", Enumerable.Range(0, 101).Select(i =>
            $$"""{ "purpose": "purpose-{{i}}", "granted": false }""")) + "]"), "decisions"),
        ["duplicate purpose"] = Bad(Save($"[{ValidDecision}, {ValidDecision}]"), "decisions"),
        ["collectionPoint with NUL"] = Bad(Save(rest: """, "source": "web", "collectionPoint": "signup\u0000form" """), "collectionPoint"),
        ["collectionPoint with a lone surrogate"] = Bad(Save(rest: """, "source": "web", "collectionPoint": "signup\ud800form" """), "collectionPoint"),
        ["collectionPoint over 128 characters"] = Bad(Save(rest: $$""", "source": "web", "collectionPoint": "{{new string('p', 129)}}" """), "collectionPoint"),
        ["10,000-character purpose key"] = Bad(Save($$"""[{ "purpose": "{{new string('a', 10_000)}}", "granted": true, "purposeVersion": 1 }]"""), "decisions[0].purpose"),
        ["invalid UTF-8"] = new(HttpStatusCode.BadRequest, null, () => new ByteArrayContent([.. """{ "decisions": [], "source": "we"""u8, 0xFF, 0xFE, .. "\" }"u8])
        {
            Headers = { ContentType = new("application/json") },
        }),
        ["100 levels of nesting"] = Bad(Save(rest: $$""", "source": "web", "collectionPoint": {{Nested(100)}}"""), null),
        ["100 levels of nesting at the root"] = Bad(Nested(100), null),
        ["customer id over 128 characters"] = new(HttpStatusCode.BadRequest, "customerId", () => Raw(Save()), new string('c', 129)),
        ["customer id with a control character"] = new(HttpStatusCode.BadRequest, "customerId", () => Raw(Save()), "c\u0001-1"),
        ["customer id with surrounding white space"] = new(HttpStatusCode.BadRequest, "customerId", () => Raw(Save()), " c-1"),
        ["body over 256 KiB"] = new(HttpStatusCode.RequestEntityTooLarge, "body",
            () => Raw(Save(rest: $$""", "source": "web", "collectionPoint": "{{new string('x', 300 * 1024)}}" """))),
        ["text/plain body"] = new(HttpStatusCode.UnsupportedMediaType, "Content-Type", () => Raw(Save(), "text/plain")),
        ["no body"] = new(HttpStatusCode.BadRequest, "body", () => null),
    };

    private static string Purpose(Action<JsonObject> change) => PurposeBody(change: change).ToJsonString();

    private static readonly Dictionary<string, BadRequestCase> PurposeCases = new()
    {
        ["truncated JSON"] = Bad(PurposeBody().ToJsonString()[..40], null),
        ["array instead of object"] = Bad("[" + PurposeBody().ToJsonString() + "]", "body"),
        ["retentionDays is a string"] = Bad(Purpose(p => p["retentionDays"] = "365"), "retentionDays"),
        ["sensitive is a string"] = Bad(Purpose(p => p["dataCategories"]![0]!["sensitive"] = "no"), "dataCategories[0].sensitive"),
        ["legalBasis is a number"] = Bad(Purpose(p => p["legalBasis"] = 1), "legalBasis"),
        ["consentModel is not an allowed value"] = Bad(Purpose(p => p["consentModel"] = "maybe"), "consentModel"),
        ["unknown top-level field"] = Bad(Purpose(p => p["status"] = "retired"), "status"),
        ["unknown nested field"] = Bad(Purpose(p => p["dataCategories"]![0]!["encrypted"] = true), "dataCategories[0].encrypted"),
        ["key missing"] = Bad(Purpose(p => p.Remove("key")), "key"),
        ["name null"] = Bad(Purpose(p => p["name"] = null), "name"),
        ["dataCategories empty"] = Bad(Purpose(p => p["dataCategories"] = new JsonArray()), "dataCategories"),
        ["10,000-character key"] = Bad(Purpose(p => p["key"] = new string('a', 10_000)), "key"),
        ["name over 200 characters"] = Bad(Purpose(p => p["name"] = new string('n', 201)), "name"),
        ["name with NUL"] = Bad(Purpose(p => p["name"] = "News\u0000letter"), "name"),
        ["100 levels of nesting"] = Bad(PurposeBody(change: p => p.Remove("recipients")).ToJsonString()[..^1] + $$""", "recipients": {{Nested(100)}} }""", null),
        ["body over 256 KiB"] = new(HttpStatusCode.RequestEntityTooLarge, "body", () => Raw(Purpose(p => p["description"] = new string('d', 300 * 1024)))),
        ["text/plain body"] = new(HttpStatusCode.UnsupportedMediaType, "Content-Type", () => Raw(PurposeBody().ToJsonString(), "text/plain")),
        ["no body"] = new(HttpStatusCode.BadRequest, "body", () => null),
    };

    public static TheoryData<string> ConsentCaseNames => new(ConsentCases.Keys);
    public static TheoryData<string> PurposeCaseNames => new(PurposeCases.Keys);

    [Theory]
    [MemberData(nameof(ConsentCaseNames))]
    public async Task SaveConsents_WithBadInput_IsRefusedWithProblem_AndWritesNothing(string name)
    {
        var bad = ConsentCases[name];
        await CreatePurposeAsync("newsletter");
        var service = await ServiceAsync();

        await AssertRefusedAsync(bad, () => service.PostAsync(
            $"/api/v1/customers/{Uri.EscapeDataString(bad.CustomerId)}/consents", bad.Content()));
    }

    [Theory]
    [MemberData(nameof(PurposeCaseNames))]
    public async Task CreatePurpose_WithBadInput_IsRefusedWithProblem_AndWritesNothing(string name)
    {
        var bad = PurposeCases[name];

        await AssertRefusedAsync(bad, () => Admin.PostAsync("/api/v1/purposes", bad.Content()));
    }

    [Fact]
    public async Task SaveConsents_GoodBody_IsAccepted_SoTheRefusalsAboveAreAboutTheirInput()
    {
        await CreatePurposeAsync("newsletter");
        var service = await ServiceAsync();

        var response = await service.PostAsync("/api/v1/customers/c-1/consents", Raw(Save()));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task SaveConsents_WithWrongMethod_Is405ForAServiceAllowedOnTheRoute()
    {
        var service = await ServiceAsync();

        var response = await service.PatchAsync("/api/v1/customers/c-1/consents", Raw(Save()));

        // Not 403: the service may use this route; what is wrong is the method.
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task SaveConsents_SqlLookingCustomerId_IsAPlainId()
    {
        const string customerId = "x'; DROP TABLE consent_events;--";
        await CreatePurposeAsync("newsletter");

        var receipt = await SaveOkAsync(customerId, Decision("newsletter", true));

        Assert.Equal(customerId, receipt["customerId"]!.GetValue<string>());
        Assert.Equal("consent_events", await Fixture.ScalarAsync<string>("SELECT to_regclass('public.consent_events')::text"));
        Assert.Equal(1L, await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_events WHERE customer_id = $1", customerId));
        var state = await (await ServiceAsync()).GetFromJsonAsync<JsonObject>(
            $"/api/v1/customers/{Uri.EscapeDataString(customerId)}/consents/newsletter");
        Assert.Equal("granted", state!["status"]!.GetValue<string>());
        Assert.Equal(customerId, state["customerId"]!.GetValue<string>());
    }

    private async Task AssertRefusedAsync(BadRequestCase bad, Func<Task<HttpResponseMessage>> send)
    {
        var before = await Fixture.RowCountsAsync();

        using var response = await send();

        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"Expected a 4xx, got {(int)response.StatusCode}: {body}");
        var problem = bad.Field is null
            ? await AssertProblemAsync(response, bad.Status, "validation-failed")
            : await AssertFieldProblemAsync(response, bad.Status, bad.Field);
        Assert.True(problem["errors"] is JsonObject { Count: > 0 }, $"Expected errors naming the fault, got: {body}");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }
}
