using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Consents;

/// <summary>An API whose controller is configured, as the receipts name it.</summary>
public sealed class ControllerConfiguredFixture : ApiFixture
{
    public const string Name = "Example Shop Ltd";
    public const string Contact = "Data Protection Officer";
    public const string Email = "privacy@example.com";
    public const string Phone = "+44 20 7946 0000";
    public const string Address = "1 High Street, London";
    public const string Jurisdiction = "GB";
    public const string PolicyUrl = "https://example.com/privacy";
    public const string Language = "en-GB";

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Controller:Name"] = Name,
        ["Controller:Contact"] = Contact,
        ["Controller:Email"] = Email,
        ["Controller:Phone"] = Phone,
        ["Controller:Address"] = Address,
        ["Controller:Jurisdiction"] = Jurisdiction,
        ["Controller:PolicyUrl"] = PolicyUrl,
        ["Controller:Language"] = Language,
    };
}

/// <summary>GET /customers/{id}/receipts/{receiptId} in the Kantara Consent Receipt v1.1 format.</summary>
public sealed class KantaraReceiptTests(ControllerConfiguredFixture fixture) : ApiTest(fixture), IClassFixture<ControllerConfiguredFixture>
{
    private const string Customer = "c-42";
    private const string KantaraMediaType = "application/vnd.kantara.consent-receipt+json";

    [Fact]
    public async Task Kantara_ViaFormatQuery_FillsTheHeaderAndControllerFromTheReceiptAndConfiguration()
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var response = await Admin.GetAsync(ReceiptPath(receipt) + "?format=kantara");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var cr = await ReadJsonAsync(response);
        Assert.Equal("KI-CR-v1.1.0", cr["version"]!.GetValue<string>());
        Assert.Equal(ControllerConfiguredFixture.Jurisdiction, cr["jurisdiction"]!.GetValue<string>());
        var issuedAt = DateTimeOffset.Parse(receipt["issuedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        Assert.Equal(issuedAt.ToUnixTimeSeconds(), cr["consentTimestamp"]!.GetValue<long>());
        Assert.Equal(System.Text.Json.JsonValueKind.Number, cr["consentTimestamp"]!.GetValueKind());
        Assert.Equal("signup-form", cr["collectionMethod"]!.GetValue<string>());
        Assert.Equal(receipt["receiptId"]!.GetValue<string>(), cr["consentReceiptID"]!.GetValue<string>());
        Assert.True(cr["publicKey"] is null, $"publicKey must be omitted or null: {cr.ToJsonString()}");
        Assert.Equal(ControllerConfiguredFixture.Language, cr["language"]!.GetValue<string>());
        Assert.Equal(Customer, cr["piiPrincipalId"]!.GetValue<string>());
        Assert.Equal(ControllerConfiguredFixture.PolicyUrl, cr["policyUrl"]!.GetValue<string>());

        var controller = Assert.Single(cr["piiControllers"]!.AsArray())!;
        Assert.Equal(ControllerConfiguredFixture.Name, controller["piiController"]!.GetValue<string>());
        Assert.False(controller["onBehalf"]!.GetValue<bool>());
        Assert.Equal(ControllerConfiguredFixture.Contact, controller["contact"]!.GetValue<string>());
        Assert.Equal(ControllerConfiguredFixture.Address, controller["address"]!.GetValue<string>());
        Assert.Equal(ControllerConfiguredFixture.Email, controller["email"]!.GetValue<string>());
        Assert.Equal(ControllerConfiguredFixture.Phone, controller["phone"]!.GetValue<string>());

        var service = Assert.Single(cr["services"]!.AsArray())!;
        Assert.Equal(ControllerConfiguredFixture.Name, service["service"]!.GetValue<string>());
        var purpose = Assert.Single(service["purposes"]!.AsArray())!;
        Assert.Equal("Newsletter: We email you our news weekly.", purpose["purpose"]!.GetValue<string>());
        Assert.Equal(["consent"], Strings(purpose["purposeCategory"]));
        Assert.Equal("EXPLICIT", purpose["consentType"]!.GetValue<string>());
        Assert.True(purpose["primaryPurpose"]!.GetValue<bool>());
        Assert.Equal(["Your email address"], Strings(purpose["piiCategory"]));
        Assert.True(purpose["thirdPartyDisclosure"]!.GetValue<bool>());
        Assert.Equal("Mailer Ltd", purpose["thirdPartyName"]!.GetValue<string>());
        Assert.False(cr["sensitive"]!.GetValue<bool>());
        Assert.Empty(cr["spiCat"]!.AsArray());
    }

    [Fact]
    public async Task Kantara_ViaAcceptHeader_AnswersTheKantaraReceiptAsThatMediaType_AndVariesOnAccept()
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var response = await GetWithAcceptAsync(ReceiptPath(receipt), KantaraMediaType);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(KantaraMediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Accept", response.Headers.Vary);
        var cr = await ReadJsonAsync(response);
        Assert.Equal("KI-CR-v1.1.0", cr["version"]!.GetValue<string>());
        Assert.Equal(receipt["receiptId"]!.GetValue<string>(), cr["consentReceiptID"]!.GetValue<string>());
    }

    [Fact]
    public async Task Kantara_AcceptAmongOthers_AnswersTheKantaraReceipt()
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var response = await GetWithAcceptAsync(ReceiptPath(receipt), "application/json;q=0.5, " + KantaraMediaType);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("KI-CR-v1.1.0", (await ReadJsonAsync(response))["version"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("application/json", null)]
    [InlineData(KantaraMediaType + ";q=0", null)]
    [InlineData(KantaraMediaType, "consentapi")]
    [InlineData(null, "consentapi")]
    public async Task Receipt_WithoutAskingForKantara_AnswersTheApisOwnReceipt(string? accept, string? format)
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));
        var path = ReceiptPath(receipt) + (format is null ? "" : "?format=" + format);

        var response = await GetWithAcceptAsync(path, accept);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.True(JsonNode.DeepEquals(receipt, body), $"Saved {receipt.ToJsonString()} but read {body.ToJsonString()}");
    }

    [Fact]
    public async Task Kantara_FormatQuery_WinsOverAccept()
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var response = await GetWithAcceptAsync(ReceiptPath(receipt) + "?format=kantara", "application/json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("KI-CR-v1.1.0", (await ReadJsonAsync(response))["version"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("xml")]
    [InlineData("")]
    [InlineData("KANTARA")]
    [InlineData("kantara-v2")]
    public async Task Receipt_WithAnUnknownFormat_Returns400NamingFormat(string format)
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var response = await Admin.GetAsync(ReceiptPath(receipt) + "?format=" + Uri.EscapeDataString(format));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, "format");
    }

    [Fact]
    public async Task Kantara_OfAnUnknownReceipt_Returns404()
    {
        var response = await Admin.GetAsync($"/api/v1/customers/{Customer}/receipts/{Guid.NewGuid()}?format=kantara");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Kantara_ForAServiceKey_Returns403()
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var response = await (await ServiceAsync()).GetAsync(ReceiptPath(receipt) + "?format=kantara");

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Kantara_DescribesTheVersionTheCustomerSaw_NotALaterOne()
    {
        await CreatePurposeAsync("newsletter");
        var v1Receipt = await SaveOkAsync(Customer, Decision("newsletter", true, 1));
        var update = await PutPurposeAsync("newsletter", "\"1\"", b =>
        {
            b["name"] = "Weekly digest";
            b["description"] = "We email you a digest.";
            b["recipients"] = JsonNode.Parse("""[ { "name": "Post Corp", "thirdParty": true }, { "name": "Ad Network", "thirdParty": true } ]""");
            b["dataCategories"] = JsonNode.Parse("""[ { "key": "email", "description": "Email", "sensitive": false }, { "key": "name", "description": "Your name", "sensitive": false } ]""");
            b["retentionDays"] = 30;
        });
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        var v2Receipt = await SaveOkAsync("c-43", Decision("newsletter", true, 2));

        var v1 = Assert.Single(Purposes(await KantaraAsync(v1Receipt)));
        var v2 = Assert.Single(Purposes(await KantaraAsync(v2Receipt)));

        Assert.Equal("Newsletter: We email you our news weekly.", v1["purpose"]!.GetValue<string>());
        Assert.Equal("Mailer Ltd", v1["thirdPartyName"]!.GetValue<string>());
        Assert.Equal(["Your email address"], Strings(v1["piiCategory"]));
        Assert.Contains("365 days", v1["purposeTermination"]!.GetValue<string>(), StringComparison.Ordinal);

        Assert.Equal("Weekly digest: We email you a digest.", v2["purpose"]!.GetValue<string>());
        Assert.Equal("Post Corp, Ad Network", v2["thirdPartyName"]!.GetValue<string>());
        Assert.Equal(["Email", "Your name"], Strings(v2["piiCategory"]));
        Assert.Contains("30 days", v2["purposeTermination"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kantara_SensitiveCategories_SetSensitiveAndListThemInSpiCat()
    {
        await CreatePurposeAsync("health-tips", b => b["dataCategories"] = JsonNode.Parse("""
            [ { "key": "email", "description": "Your email address", "sensitive": false },
              { "key": "health", "description": "Your health conditions", "sensitive": true } ]
            """));
        await CreatePurposeAsync("fitness", b => b["dataCategories"] = JsonNode.Parse("""
            [ { "key": "health", "description": "Your health conditions", "sensitive": true },
              { "key": "religion", "description": "Your religious beliefs", "sensitive": true } ]
            """));
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("health-tips", true), Decision("fitness", true), Decision("newsletter", true));

        var cr = await KantaraAsync(receipt);

        Assert.True(cr["sensitive"]!.GetValue<bool>());
        Assert.Equal(["Your health conditions", "Your religious beliefs"], Strings(cr["spiCat"]));
        Assert.Equal(3, Purposes(cr).Count);
        Assert.Equal(["Your email address", "Your health conditions"], Strings(Purposes(cr)[0]["piiCategory"]));
    }

    [Fact]
    public async Task Kantara_WithoutSensitiveCategories_IsNotSensitive()
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var cr = await KantaraAsync(receipt);

        Assert.False(cr["sensitive"]!.GetValue<bool>());
        Assert.Empty(cr["spiCat"]!.AsArray());
    }

    [Fact]
    public async Task Kantara_ThirdPartyDisclosure_NamesOnlyTheThirdPartyRecipients()
    {
        await CreatePurposeAsync("shared", b => b["recipients"] = JsonNode.Parse("""
            [ { "name": "Our Support Team", "thirdParty": false },
              { "name": "Mailer Ltd", "thirdParty": true },
              { "name": "Courier plc", "thirdParty": true } ]
            """));
        await CreatePurposeAsync("internal", b => b["recipients"] = JsonNode.Parse("""[ { "name": "Our Support Team", "thirdParty": false } ]"""));
        await CreatePurposeAsync("no-recipients", b => b["recipients"] = new JsonArray());
        var receipt = await SaveOkAsync(Customer, Decision("shared", true), Decision("internal", true), Decision("no-recipients", true));

        var purposes = Purposes(await KantaraAsync(receipt));

        Assert.True(purposes[0]["thirdPartyDisclosure"]!.GetValue<bool>());
        Assert.Equal("Mailer Ltd, Courier plc", purposes[0]["thirdPartyName"]!.GetValue<string>());
        Assert.False(purposes[1]["thirdPartyDisclosure"]!.GetValue<bool>());
        Assert.Equal("", purposes[1]["thirdPartyName"]!.GetValue<string>());
        Assert.False(purposes[2]["thirdPartyDisclosure"]!.GetValue<bool>());
        Assert.Equal("", purposes[2]["thirdPartyName"]!.GetValue<string>());
    }

    [Fact]
    public async Task Kantara_PurposeTermination_StatesTheLifetimeOrUntilWithdrawn_AndTheRetention()
    {
        await CreatePurposeAsync("newsletter"); // 395-day lifetime, 365-day retention
        await CreatePurposeAsync("forever", b =>
        {
            b["consentLifetimeDays"] = null;
            b["retentionDays"] = 90;
        });
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true), Decision("forever", true));

        var purposes = Purposes(await KantaraAsync(receipt));

        var withLifetime = purposes[0]["purposeTermination"]!.GetValue<string>();
        Assert.StartsWith("Consent expires 395 days after it is given; withdraw it at any time.", withLifetime, StringComparison.Ordinal);
        Assert.Contains("kept for 365 days", withLifetime, StringComparison.Ordinal);
        var withoutLifetime = purposes[1]["purposeTermination"]!.GetValue<string>();
        Assert.StartsWith("Until withdrawn.", withoutLifetime, StringComparison.Ordinal);
        Assert.Contains("kept for 90 days", withoutLifetime, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kantara_Withdrawal_IsListed_AndSaysWhenConsentWasWithdrawn()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        await SaveOkAsync(Customer, Decision("newsletter", true));
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", false), Decision("analytics", true));
        var issuedAt = DateTimeOffset.Parse(receipt["issuedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture);

        var purposes = Purposes(await KantaraAsync(receipt));

        Assert.Equal(2, purposes.Count);
        var expected = $"Consent withdrawn at {issuedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}.";
        Assert.Equal(expected, purposes[0]["purposeTermination"]!.GetValue<string>());
        Assert.Equal("Newsletter: We email you our news weekly.", purposes[0]["purpose"]!.GetValue<string>());
        Assert.StartsWith("Consent expires", purposes[1]["purposeTermination"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kantara_ConsentTypeAndCategory_FollowTheModelAndLegalBasis()
    {
        await CreatePurposeAsync("newsletter"); // opt-in, consent
        await CreatePurposeAsync("analytics", b =>
        {
            b["consentModel"] = "opt-out";
            b["legalBasis"] = "legitimate-interests";
        });
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true), Decision("analytics", true));

        var purposes = Purposes(await KantaraAsync(receipt));

        Assert.Equal("EXPLICIT", purposes[0]["consentType"]!.GetValue<string>());
        Assert.Equal(["consent"], Strings(purposes[0]["purposeCategory"]));
        Assert.Equal("IMPLIED", purposes[1]["consentType"]!.GetValue<string>());
        Assert.Equal(["legitimate interests"], Strings(purposes[1]["purposeCategory"]));
    }

    [Fact]
    public async Task Kantara_WithoutCollectionPoint_UsesTheSourceAsCollectionMethod()
    {
        await CreatePurposeAsync("newsletter");
        var saved = await (await ServiceAsync()).PostAsJsonAsync($"/api/v1/customers/{Customer}/consents",
            new { decisions = new[] { Decision("newsletter", true) }, source = "mobile" });
        Assert.Equal(HttpStatusCode.Created, saved.StatusCode);

        var cr = await KantaraAsync(await ReadJsonAsync(saved));

        Assert.Equal("mobile", cr["collectionMethod"]!.GetValue<string>());
    }

    [Fact]
    public async Task Kantara_ForACustomerIdThatNeedsEscaping_NamesTheCustomer()
    {
        const string customerId = "shop:c 42-ü";
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync(customerId, Decision("newsletter", true));

        var cr = await KantaraAsync(receipt);

        Assert.Equal(customerId, cr["piiPrincipalId"]!.GetValue<string>());
    }

    private async Task<JsonObject> KantaraAsync(JsonObject receipt)
    {
        var response = await Admin.GetAsync(ReceiptPath(receipt) + "?format=kantara");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ReadJsonAsync(response);
    }

    private async Task<HttpResponseMessage> GetWithAcceptAsync(string path, string? accept)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        return await Admin.SendAsync(request);
    }

    private async Task<HttpResponseMessage> PutPurposeAsync(string key, string ifMatch, Action<JsonObject> change)
    {
        var body = PurposeBody(key);
        body.Remove("key");
        change(body);
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/purposes/{key}") { Content = JsonContent.Create(body) };
        request.Headers.IfMatch.Add(new EntityTagHeaderValue(ifMatch));
        return await Admin.SendAsync(request);
    }

    private static string ReceiptPath(JsonObject receipt) =>
        $"/api/v1/customers/{Uri.EscapeDataString(receipt["customerId"]!.GetValue<string>())}/receipts/{receipt["receiptId"]!.GetValue<string>()}";

    private static List<JsonNode> Purposes(JsonObject cr) =>
        Assert.Single(cr["services"]!.AsArray())!["purposes"]!.AsArray().Select(p => p!).ToList();

    private static List<string> Strings(JsonNode? array) => array!.AsArray().Select(s => s!.GetValue<string>()).ToList();
}

/// <summary>The Kantara receipt of an API whose controller is not configured.</summary>
public sealed class KantaraReceiptUnconfiguredTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Kantara_WithoutControllerSettings_SaysTheControllerIsUnconfigured_AndInventsNothing()
    {
        await CreatePurposeAsync("newsletter");
        var receipt = await SaveOkAsync("c-42", Decision("newsletter", true));

        var response = await Admin.GetAsync($"/api/v1/customers/c-42/receipts/{receipt["receiptId"]!.GetValue<string>()}?format=kantara");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cr = await ReadJsonAsync(response);
        const string placeholder = "ConsentApi controller (set Controller:Name)";
        var controller = Assert.Single(cr["piiControllers"]!.AsArray())!;
        Assert.Equal(placeholder, controller["piiController"]!.GetValue<string>());
        Assert.Equal(placeholder, Assert.Single(cr["services"]!.AsArray())!["service"]!.GetValue<string>());
        Assert.Equal("en", cr["language"]!.GetValue<string>());
        Assert.Equal("", cr["jurisdiction"]!.GetValue<string>());
        Assert.Equal("", cr["policyUrl"]!.GetValue<string>());
        Assert.Equal("", controller["email"]!.GetValue<string>());
        Assert.Equal("KI-CR-v1.1.0", cr["version"]!.GetValue<string>());
    }
}
