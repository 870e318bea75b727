using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Collection;

public sealed class CollectionTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private async Task<HttpResponseMessage> CollectAsync(string customerId, string purpose, object fields, bool gpc = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/customers/{customerId}/data/{purpose}")
        {
            Content = JsonContent.Create(new { fields }),
        };
        if (gpc)
        {
            request.Headers.Add("Sec-GPC", "1");
        }

        return await (await ServiceAsync()).SendAsync(request);
    }

    private Task<long> RecordCountAsync(string customerId) =>
        Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", customerId);

    [Fact]
    public async Task Collect_WithActiveGrant_StoresAnEncryptedRecordThatExpiresWithRetention()
    {
        await CreatePurposeAsync();
        await SaveOkAsync("c-42", Decision("newsletter", true));

        var response = await CollectAsync("c-42", "newsletter", new { email = "alice@example.com" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var record = await ReadJsonAsync(response);
        Assert.Equal("newsletter", record["purpose"]!.GetValue<string>());
        var collectedAt = record["collectedAt"]!.GetValue<DateTimeOffset>();
        Assert.Equal(collectedAt.AddDays(365), record["expiresAt"]!.GetValue<DateTimeOffset>());
        var stored = await Fixture.ScalarAsync<string>("SELECT encode(ciphertext, 'escape') FROM data_records WHERE customer_id = 'c-42'");
        Assert.DoesNotContain("alice@example.com", stored, StringComparison.Ordinal);

        var held = await Admin.GetFromJsonAsync<JsonObject>("/api/v1/customers/c-42/data");
        var item = Assert.Single(held!["items"]!.AsArray())!;
        Assert.Equal(["email"], item["fields"]!.AsArray().Select(f => f!.GetValue<string>()));
    }

    [Fact]
    public async Task Collect_WithoutConsent_Is403NamingThePurposeStatusAndHowToObtainIt_AndStoresNothing()
    {
        await CreatePurposeAsync();

        var response = await CollectAsync("c-42", "newsletter", new { email = "alice@example.com" });

        var problem = await AssertProblemAsync(response, HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal("newsletter", problem["purpose"]!.GetValue<string>());
        Assert.Equal("none", problem["consentStatus"]!.GetValue<string>());
        Assert.Equal("/api/v1/customers/c-42/consents", problem["obtainConsent"]!["href"]!.GetValue<string>());
        Assert.Equal(0, await RecordCountAsync("c-42"));
    }

    [Fact]
    public async Task Collect_AfterRevocation_IsRefused()
    {
        await CreatePurposeAsync();
        await SaveOkAsync("c-42", Decision("newsletter", true));
        await SaveOkAsync("c-42", Decision("newsletter", false));

        var problem = await AssertProblemAsync(await CollectAsync("c-42", "newsletter", new { email = "a@example.com" }),
            HttpStatusCode.Forbidden, "consent-required");

        Assert.Equal("revoked", problem["consentStatus"]!.GetValue<string>());
    }

    [Fact]
    public async Task Collect_UndeclaredField_RefusesTheWholeRecordListingTheFields()
    {
        await CreatePurposeAsync();
        await SaveOkAsync("c-42", Decision("newsletter", true));

        var response = await CollectAsync("c-42", "newsletter", new { email = "a@example.com", phone = "123", birthday = "1990-01-01" });

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "undeclared-fields");
        var errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey("fields.phone"));
        Assert.True(errors.ContainsKey("fields.birthday"));
        Assert.False(errors.ContainsKey("fields.email"));
        Assert.Equal(0, await RecordCountAsync("c-42"));
    }

    [Fact]
    public async Task Collect_UnknownPurpose_Is404()
    {
        var response = await CollectAsync("c-42", "nope", new { email = "a@example.com" });

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Theory]
    [InlineData("""{"fields": {"email": 42}}""", "fields.email")]
    [InlineData("""{"fields": {}}""", "fields")]
    [InlineData("""{"other": 1}""", "other")]
    public async Task Collect_BadBody_Is400NamingTheField(string body, string field)
    {
        await CreatePurposeAsync();
        await SaveOkAsync("c-42", Decision("newsletter", true));

        var response = await (await ServiceAsync()).PostAsync("/api/v1/customers/c-42/data/newsletter", Json(body));

        await AssertFieldProblemAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Equal(0, await RecordCountAsync("c-42"));
    }

    [Fact]
    public async Task Revoke_WithDeletePolicy_RemovesCollectedDataInTheSameSave()
    {
        await CreatePurposeAsync();
        await SaveOkAsync("c-42", Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync("c-42", "newsletter", new { email = "a@example.com" })).StatusCode);

        await SaveOkAsync("c-42", Decision("newsletter", false, version: null));

        Assert.Equal(0, await RecordCountAsync("c-42"));
    }

    [Fact]
    public async Task Revoke_WithRetainPolicy_KeepsCollectedData()
    {
        await CreatePurposeAsync(change: p => p["onRevoke"] = "retain");
        await SaveOkAsync("c-42", Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync("c-42", "newsletter", new { email = "a@example.com" })).StatusCode);

        await SaveOkAsync("c-42", Decision("newsletter", false));

        Assert.Equal(1, await RecordCountAsync("c-42"));
    }

    [Fact]
    public async Task Collect_OptOutWithoutDecision_IsAllowed_ButNotUnderAnHonouredGpcSignal()
    {
        await CreatePurposeAsync("analytics", p =>
        {
            p["consentModel"] = "opt-out";
            p["honorsGpc"] = true;
            p["legalBasis"] = "legitimate-interests";
        });

        Assert.Equal(HttpStatusCode.Created, (await CollectAsync("c-42", "analytics", new { email = "a@example.com" })).StatusCode);
        await AssertProblemAsync(await CollectAsync("c-43", "analytics", new { email = "b@example.com" }, gpc: true),
            HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal(0, await RecordCountAsync("c-43"));
    }

    [Fact]
    public async Task Collect_SensitiveField_NeedsAGrantOfAVersionThatDeclaresIt()
    {
        await CreatePurposeAsync("health", p => p["dataCategories"] = new JsonArray(
            new JsonObject { ["key"] = "email", ["description"] = "Email", ["sensitive"] = false }));
        await SaveOkAsync("c-42", Decision("health", true, version: 1));
        // Version 2 adds a sensitive category without asking for re-consent: the v1 grant still counts,
        // but it never covered the sensitive data.
        var v2 = PurposeBody("health", p => p["dataCategories"] = new JsonArray(
            new JsonObject { ["key"] = "email", ["description"] = "Email", ["sensitive"] = false },
            new JsonObject { ["key"] = "condition", ["description"] = "A health condition", ["sensitive"] = true }));
        v2.Remove("key");
        using var put = new HttpRequestMessage(HttpMethod.Put, "/api/v1/purposes/health") { Content = JsonContent.Create(v2) };
        put.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        Assert.Equal(HttpStatusCode.OK, (await Admin.SendAsync(put)).StatusCode);

        Assert.Equal(HttpStatusCode.Created, (await CollectAsync("c-42", "health", new { email = "a@example.com" })).StatusCode);
        var refused = await CollectAsync("c-42", "health", new { condition = "asthma" });
        await AssertFieldProblemAsync(refused, HttpStatusCode.Forbidden, "fields.condition", "consent-required");

        await SaveOkAsync("c-42", Decision("health", true, version: 2));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync("c-42", "health", new { condition = "asthma" })).StatusCode);
    }

    [Fact]
    public async Task Collect_FieldAddedByALaterVersionWithoutReconsent_IsNotCoveredByTheOlderGrant()
    {
        await CreatePurposeAsync();
        await SaveOkAsync("c-42", Decision("newsletter", true, version: 1));
        var v2 = PurposeBody(change: p => ((JsonArray)p["dataCategories"]!).Add(
            new JsonObject { ["key"] = "phone", ["description"] = "Your phone number", ["sensitive"] = false }));
        v2.Remove("key");
        using var put = new HttpRequestMessage(HttpMethod.Put, "/api/v1/purposes/newsletter") { Content = JsonContent.Create(v2) };
        put.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        Assert.Equal(HttpStatusCode.OK, (await Admin.SendAsync(put)).StatusCode);

        var email = await CollectAsync("c-42", "newsletter", new { email = "a@example.com" });
        var phone = await CollectAsync("c-42", "newsletter", new { phone = "+44 20 7946 0000" });

        Assert.Equal(HttpStatusCode.Created, email.StatusCode);
        Assert.Equal(1, (await ReadJsonAsync(email))["purposeVersion"]!.GetValue<int>()); // stamped with the notice agreed to
        await AssertFieldProblemAsync(phone, HttpStatusCode.Forbidden, "fields.phone", "consent-required");
    }

    [Fact]
    public async Task Collect_ForARetiredPurpose_Is422WithoutARecipeForConsent()
    {
        await CreatePurposeAsync();
        await SaveOkAsync("c-42", Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/newsletter")).StatusCode);

        var problem = await AssertFieldProblemAsync(await CollectAsync("c-42", "newsletter", new { email = "a@example.com" }),
            HttpStatusCode.UnprocessableEntity, "purpose");

        Assert.Null(problem["obtainConsent"]);
        Assert.Equal(0, await RecordCountAsync("c-42"));
    }

    [Fact]
    public async Task ListData_NeedsAdmin()
    {
        var response = await (await ServiceAsync()).GetAsync("/api/v1/customers/c-42/data");

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
    }

    /// <summary>
    /// Invariant 3: collections racing a revocation either commit before it or are refused. With
    /// onRevoke: retain nothing is deleted, so every stored record must predate the revocation.
    /// </summary>
    [Theory]
    [InlineData("retain")]
    [InlineData("delete")]
    public async Task Collect_RacingARevocation_NeverCommitsAfterIt(string onRevoke)
    {
        await CreatePurposeAsync(change: p => p["onRevoke"] = onRevoke);
        var service = await ServiceAsync();
        for (var round = 0; round < 8; round++)
        {
            var customer = $"race-{round}";
            await SaveOkAsync(customer, Decision("newsletter", true));

            var collections = Enumerable.Range(0, 12).Select(i => Task.Run(() => CollectAsync(customer, "newsletter", new { email = $"{i}@example.com" }))).ToList();
            var revocation = Task.Run(() => SaveOkAsync(customer, Decision("newsletter", false)));
            var answers = await Task.WhenAll(collections);
            await revocation;

            Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Forbidden }));
            var revokedAt = await Fixture.ScalarAsync<DateTime>(
                "SELECT occurred_at FROM consent_events WHERE customer_id = $1 AND decision = 'revoked'", customer);
            var later = await Fixture.ScalarAsync<long>(
                "SELECT count(*) FROM data_records WHERE customer_id = $1 AND collected_at >= $2", customer, revokedAt);
            Assert.Equal(0, later);
            if (onRevoke == "delete")
            {
                Assert.Equal(0, await RecordCountAsync(customer));
            }

            Assert.Equal(HttpStatusCode.Forbidden, (await CollectAsync(customer, "newsletter", new { email = "late@example.com" })).StatusCode);
        }

        Assert.NotNull(service);
    }
}
