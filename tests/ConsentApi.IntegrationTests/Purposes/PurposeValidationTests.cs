using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Purposes;

/// <summary>
/// What POST and PUT /purposes refuse: every bad notice is a 400 naming the field at fault, and
/// nothing is written. Raw JSON values in the data below: <c>null</c> (the C# null) omits the field.
/// </summary>
public sealed class PurposeValidationTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const string Sensitive = """{ "key": "health", "description": "Your health conditions", "sensitive": true }""";
    private const string Plain = """{ "key": "email", "description": "Your email address", "sensitive": false }""";

    // ---- The two rules that protect people ----

    [Fact]
    public async Task Create_AutomatedDecisionsWithSensitiveCategory_Returns400NamingAutomatedDecisions()
    {
        var body = PurposeBody("profiling", b =>
        {
            b["dataCategories"] = JsonNode.Parse($"[{Plain}, {Sensitive}]");
            b["automatedDecisions"] = true;
        });

        await AssertCreateRefusedAsync(body, "automatedDecisions");
    }

    [Fact]
    public async Task Create_SensitiveCategoryWithOptOut_Returns400NamingConsentModel()
    {
        var body = PurposeBody("wellbeing", b =>
        {
            b["dataCategories"] = JsonNode.Parse($"[{Sensitive}]");
            b["consentModel"] = "opt-out";
        });

        await AssertCreateRefusedAsync(body, "consentModel");
    }

    [Fact]
    public async Task Create_BreakingBothProtectiveRules_NamesBothFields()
    {
        var body = PurposeBody("wellbeing", b =>
        {
            b["dataCategories"] = JsonNode.Parse($"[{Sensitive}]");
            b["consentModel"] = "opt-out";
            b["automatedDecisions"] = true;
        });

        var problem = await AssertCreateRefusedAsync(body, "consentModel");
        Assert.True(problem["errors"]!.AsObject().ContainsKey("automatedDecisions"), problem.ToJsonString());
    }

    [Fact]
    public async Task Create_SensitiveCategoryOptInWithoutAutomatedDecisions_IsAccepted()
    {
        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody("wellbeing", b =>
        {
            b["dataCategories"] = JsonNode.Parse($"[{Sensitive}]");
            b["consentModel"] = "opt-in";
            b["automatedDecisions"] = false;
        }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.True(body["dataCategories"]![0]!["sensitive"]!.GetValue<bool>());
        Assert.Equal("opt-in", body["consentModel"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_OptOutWithAutomatedDecisionsAndNoSensitiveCategory_IsAccepted()
    {
        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", PurposeBody("ads", b =>
        {
            b["consentModel"] = "opt-out";
            b["automatedDecisions"] = true;
        }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Update_AddingSensitiveCategoryToOptOutPurpose_Returns400NamingConsentModel_AndKeepsTheVersion()
    {
        await CreatePurposeAsync("ads", b => b["consentModel"] = "opt-out");

        var body = NoticeOf(PurposeBody("ads", b =>
        {
            b["consentModel"] = "opt-out";
            b["dataCategories"] = JsonNode.Parse($"[{Plain}, {Sensitive}]");
        }));

        await AssertUpdateRefusedAsync("ads", body, "consentModel");
    }

    [Fact]
    public async Task Update_EnablingAutomatedDecisionsOnSensitivePurpose_Returns400NamingAutomatedDecisions_AndKeepsTheVersion()
    {
        await CreatePurposeAsync("wellbeing", b => b["dataCategories"] = JsonNode.Parse($"[{Sensitive}]"));

        var body = NoticeOf(PurposeBody("wellbeing", b =>
        {
            b["dataCategories"] = JsonNode.Parse($"[{Sensitive}]");
            b["automatedDecisions"] = true;
        }));

        await AssertUpdateRefusedAsync("wellbeing", body, "automatedDecisions");
    }

    // ---- Key ----

    public static TheoryData<string?> BadKeys => new()
    {
        null,
        "null",
        "\"\"",
        "\"Newsletter\"",
        "\"a\"",
        Quote(new string('a', 65)),
        "\"news letter\"",
        "\" newsletter\"",
        "\"-newsletter\"",
        "\"news_letter\"",
        "\"news/letter\"",
        "\"caf\u00e9\"",
        "42",
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Create_WithBadKey_Returns400NamingKey(string? rawKey) =>
        await AssertCreateRefusedAsync(With("key", rawKey), "key");

    // ---- Texts ----

    public static TheoryData<string?> BadNames => new()
    {
        null,
        "null",
        "\"\"",
        Quote(new string('n', 201)),
        "\"News\\u0000letter\"",
        "\"News\\u0007letter\"",
        "\"News\\nletter\"",
        "42",
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task Create_WithBadName_Returns400NamingName(string? rawName) =>
        await AssertCreateRefusedAsync(With("name", rawName), "name");

    public static TheoryData<string?> BadDescriptions => new()
    {
        null,
        "\"\"",
        Quote(new string('d', 4001)),
        "\"We email you\\u0000 our news.\"",
        "\"We email you\\u001b[31m our news.\"",
    };

    [Theory]
    [MemberData(nameof(BadDescriptions))]
    public async Task Create_WithBadDescription_Returns400NamingDescription(string? rawDescription) =>
        await AssertCreateRefusedAsync(With("description", rawDescription), "description");

    // ---- Numbers, enums and types ----

    [Theory]
    [InlineData("retentionDays", null)]
    [InlineData("retentionDays", "0")]
    [InlineData("retentionDays", "-1")]
    [InlineData("retentionDays", "36501")]
    [InlineData("retentionDays", "1.5")]
    [InlineData("retentionDays", "\"365\"")]
    [InlineData("retentionDays", "99999999999")]
    [InlineData("consentLifetimeDays", "0")]
    [InlineData("consentLifetimeDays", "-30")]
    [InlineData("consentLifetimeDays", "3651")]
    public async Task Create_WithNumberOutOfRangeOrOfWrongType_Returns400NamingTheField(string field, string? raw) =>
        await AssertCreateRefusedAsync(With(field, raw), field);

    [Theory]
    [InlineData("legalBasis", null)]
    [InlineData("legalBasis", "\"bogus\"")]
    [InlineData("legalBasis", "\"legitimate_interests\"")]
    [InlineData("legalBasis", "0")]
    [InlineData("consentModel", null)]
    [InlineData("consentModel", "\"maybe\"")]
    [InlineData("consentModel", "\"opt_in\"")]
    [InlineData("consentModel", "1")]
    [InlineData("onRevoke", "\"archive\"")]
    [InlineData("onRevoke", "0")]
    [InlineData("honorsGpc", "\"yes\"")]
    [InlineData("automatedDecisions", "1")]
    public async Task Create_WithValueNotAllowedForTheField_Returns400NamingTheField(string field, string? raw) =>
        await AssertCreateRefusedAsync(With(field, raw), field);

    [Theory]
    [InlineData("colour", "\"red\"")]
    [InlineData("version", "2")]
    [InlineData("status", "\"retired\"")]
    [InlineData("requiresReconsent", "true")]
    public async Task Create_WithUnknownField_Returns400NamingTheField(string field, string raw) =>
        await AssertCreateRefusedAsync(With(field, raw), field);

    [Theory]
    [InlineData("{ \"key\": \"newsletter\", ")]
    [InlineData("[]")]
    [InlineData("\"newsletter\"")]
    public async Task Create_WithMalformedBody_Returns400NamingBody(string raw)
    {
        var response = await Admin.PostAsync("/api/v1/purposes", Json(raw));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "body");
        Assert.All(await Fixture.RowCountsAsync(), table => Assert.Equal(0, table.Value));
    }

    // ---- Data categories ----

    public static TheoryData<string?, string> BadCategories => new()
    {
        { null, "dataCategories" },
        { "null", "dataCategories" },
        { "[]", "dataCategories" },
        { Categories(101), "dataCategories" },
        { $"[{Plain}, {Plain}]", "dataCategories" },
        { "[null]", "dataCategories[0]" },
        { """[{ "key": "1email", "description": "d", "sensitive": false }]""", "dataCategories[0].key" },
        { """[{ "key": "e mail", "description": "d", "sensitive": false }]""", "dataCategories[0].key" },
        { """[{ "key": "", "description": "d", "sensitive": false }]""", "dataCategories[0].key" },
        { $$"""[{ "key": "{{new string('k', 65)}}", "description": "d", "sensitive": false }]""", "dataCategories[0].key" },
        { """[{ "description": "d", "sensitive": false }]""", "dataCategories[0].key" },
        { """[{ "key": "email", "description": "Your email address" }]""", "dataCategories[0].sensitive" },
        { $$"""[{{Plain}}, { "key": "phone", "description": "Your phone", "sensitive": null }]""", "dataCategories[1].sensitive" },
        { """[{ "key": "email", "description": "d", "sensitive": "no" }]""", "dataCategories[0].sensitive" },
        { """[{ "key": "email", "sensitive": false }]""", "dataCategories[0].description" },
        { $$"""[{ "key": "email", "description": "{{new string('d', 1001)}}", "sensitive": false }]""", "dataCategories[0].description" },
        { """[{ "key": "email", "description": "d", "sensitive": false, "colour": "red" }]""", "dataCategories[0].colour" },
        { """{ "key": "email" }""", "dataCategories" },
    };

    [Theory]
    [MemberData(nameof(BadCategories))]
    public async Task Create_WithBadDataCategories_Returns400NamingTheCategoryField(string? rawCategories, string field) =>
        await AssertCreateRefusedAsync(With("dataCategories", rawCategories), field);

    // ---- Recipients ----

    public static TheoryData<string, string> BadRecipients => new()
    {
        { Recipients(51), "recipients" },
        { "[null]", "recipients[0]" },
        { """[{ "name": "Mailer Ltd" }]""", "recipients[0].thirdParty" },
        { """[{ "thirdParty": true }]""", "recipients[0].name" },
        { """[{ "name": "", "thirdParty": true }]""", "recipients[0].name" },
        { $$"""[{ "name": "{{new string('r', 201)}}", "thirdParty": true }]""", "recipients[0].name" },
        { """[{ "name": "Mailer\u0000Ltd", "thirdParty": true }]""", "recipients[0].name" },
        { """{ "name": "Mailer Ltd", "thirdParty": true }""", "recipients" },
    };

    [Theory]
    [MemberData(nameof(BadRecipients))]
    public async Task Create_WithBadRecipients_Returns400NamingTheRecipientField(string rawRecipients, string field) =>
        await AssertCreateRefusedAsync(With("recipients", rawRecipients), field);

    // ---- What is just inside the limits is accepted ----

    public static TheoryData<string, string> ValuesAtTheLimits => new()
    {
        { "key", "\"ab\"" },
        { "key", Quote(new string('k', 64)) },
        { "key", "\"1st-party-data\"" },
        { "name", Quote(new string('n', 200)) },
        { "description", Quote(new string('d', 4000)) },
        { "description", "\"Line one.\\r\\nLine two.\\tTabbed.\"" },
        { "retentionDays", "1" },
        { "retentionDays", "36500" },
        { "consentLifetimeDays", "1" },
        { "consentLifetimeDays", "3650" },
        { "consentLifetimeDays", "null" },
        { "dataCategories", Categories(100) },
        { "recipients", Recipients(50) },
        { "recipients", "[]" },
        { "recipients", "null" },
    };

    [Theory]
    [MemberData(nameof(ValuesAtTheLimits))]
    public async Task Create_WithValueJustInsideTheLimits_IsAccepted(string field, string raw)
    {
        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", With(field, raw));

        Assert.True(response.StatusCode == HttpStatusCode.Created,
            $"{field} = {raw[..Math.Min(raw.Length, 80)]}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(1L, (await Fixture.RowCountsAsync())["purposes"]);
    }

    // ---- PUT validates the notice the same way ----

    [Theory]
    [InlineData("name", "\"\"", "name")]
    [InlineData("retentionDays", "0", "retentionDays")]
    [InlineData("dataCategories", "[]", "dataCategories")]
    [InlineData("legalBasis", "\"bogus\"", "legalBasis")]
    [InlineData("requiresReconsent", "\"yes\"", "requiresReconsent")]
    [InlineData("colour", "\"red\"", "colour")]
    public async Task Update_WithInvalidNotice_Returns400NamingTheField_AndKeepsTheVersion(string field, string raw, string expected)
    {
        await CreatePurposeAsync();
        var body = NoticeOf(PurposeBody());
        body[field] = JsonNode.Parse(raw);

        await AssertUpdateRefusedAsync("newsletter", body, expected);
    }

    // ---- helpers ----

    /// <summary>A valid create body with <paramref name="field"/> set to <paramref name="rawJson"/>, or removed when it is null.</summary>
    private static JsonObject With(string field, string? rawJson) => PurposeBody(change: b =>
    {
        if (rawJson is null)
        {
            b.Remove(field);
        }
        else
        {
            b[field] = JsonNode.Parse(rawJson);
        }
    });

    private static JsonObject NoticeOf(JsonObject createBody)
    {
        createBody.Remove("key");
        return createBody;
    }

    private async Task<JsonObject> AssertCreateRefusedAsync(JsonObject body, string field)
    {
        var before = await Fixture.RowCountsAsync();

        var response = await Admin.PostAsJsonAsync("/api/v1/purposes", body);

        var problem = await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Equal(before, await Fixture.RowCountsAsync());
        return problem;
    }

    private async Task AssertUpdateRefusedAsync(string key, JsonObject body, string field)
    {
        var before = await Fixture.RowCountsAsync();
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/purposes/{key}") { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("If-Match", "\"1\"");

        var response = await Admin.SendAsync(request);

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Equal(before, await Fixture.RowCountsAsync());
        var current = await Anonymous.GetFromJsonAsync<JsonObject>($"/api/v1/purposes/{key}");
        Assert.Equal(1, current!["version"]!.GetValue<int>());
    }

    private static string Quote(string text) => $"\"{text}\"";

    private static string Categories(int count) => new JsonArray(Enumerable.Range(0, count)
        .Select(i => (JsonNode)new JsonObject { ["key"] = $"field{i}", ["description"] = $"Field {i}", ["sensitive"] = false })
        .ToArray()).ToJsonString();

    private static string Recipients(int count) => new JsonArray(Enumerable.Range(0, count)
        .Select(i => (JsonNode)new JsonObject { ["name"] = $"Recipient {i}", ["thirdParty"] = i % 2 == 0 })
        .ToArray()).ToJsonString();
}
