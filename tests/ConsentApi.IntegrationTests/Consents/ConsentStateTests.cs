using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Consents;

/// <summary>GET /customers/{id}/consents[/{purpose}]: status, active, expiry, re-consent, GPC, and the fold of the ledger.</summary>
public sealed class ConsentStateTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const string Customer = "c-42";

    [Fact]
    public async Task List_ForAnUnknownCustomer_AnswersNoneForEveryActivePurpose()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics", OptOut(honorsGpc: false));

        var response = await (await ServiceAsync()).GetAsync("/api/v1/customers/never-seen/consents");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var items = (await ReadJsonAsync(response))["items"]!.AsArray();
        Assert.Equal(["analytics", "newsletter"], items.Select(i => i!["purpose"]!.GetValue<string>()));
        Assert.All(items, i =>
        {
            Assert.Equal("never-seen", i!["customerId"]!.GetValue<string>());
            Assert.Equal("none", i["status"]!.GetValue<string>());
        });
    }

    [Fact]
    public async Task Get_OptInWithoutDecision_IsNotActive()
    {
        await CreatePurposeAsync("newsletter");

        var state = await StateAsync(Customer, "newsletter");

        Assert.Equal("none", state["status"]!.GetValue<string>());
        Assert.False(state["active"]!.GetValue<bool>());
        Assert.True(state["decisionNeeded"]!.GetValue<bool>());
        Assert.Null(state["grantedAt"]);
    }

    [Fact]
    public async Task Get_OptOutWithoutDecision_IsActive()
    {
        await CreatePurposeAsync("analytics", OptOut(honorsGpc: true));

        var state = await StateAsync(Customer, "analytics");

        Assert.Equal("none", state["status"]!.GetValue<string>());
        Assert.True(state["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Get_OptOutHonoringGpc_WithGpcSignal_IsNotActive()
    {
        await CreatePurposeAsync("analytics", OptOut(honorsGpc: true));

        var state = await StateAsync(Customer, "analytics", gpc: "1");

        // The signal is the customer's opt-out: it is recorded as a revocation (GpcTests covers the ledger side).
        Assert.Equal("revoked", state["status"]!.GetValue<string>());
        Assert.False(state["active"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("true")]
    [InlineData("yes")]
    public async Task Get_OptOutHonoringGpc_WithAnotherSecGpcValue_IgnoresIt(string value)
    {
        await CreatePurposeAsync("analytics", OptOut(honorsGpc: true));

        var state = await StateAsync(Customer, "analytics", gpc: value);

        Assert.True(state["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Get_OptOutNotHonoringGpc_WithGpcSignal_StaysActive()
    {
        await CreatePurposeAsync("analytics", OptOut(honorsGpc: false));

        var state = await StateAsync(Customer, "analytics", gpc: "1");

        Assert.True(state["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task List_WithGpcSignal_DeactivatesOnlyOptOutPurposesThatHonorIt()
    {
        await CreatePurposeAsync("ads", OptOut(honorsGpc: true));
        await CreatePurposeAsync("analytics", OptOut(honorsGpc: false));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/customers/{Customer}/consents");
        request.Headers.TryAddWithoutValidation("Sec-GPC", "1");

        var response = await (await ServiceAsync()).SendAsync(request);

        var items = (await ReadJsonAsync(response))["items"]!.AsArray();
        Assert.Equal(
            [("ads", false), ("analytics", true)],
            items.Select(i => (i!["purpose"]!.GetValue<string>(), i["active"]!.GetValue<bool>())));
    }

    [Fact]
    public async Task Get_AfterAGrant_IsActiveUntilGrantedAtPlusTheLifetime()
    {
        await CreatePurposeAsync("newsletter"); // consentLifetimeDays: 395
        var receipt = await SaveOkAsync(Customer, Decision("newsletter", true));

        var state = await StateAsync(Customer, "newsletter");

        Assert.Equal("granted", state["status"]!.GetValue<string>());
        Assert.True(state["active"]!.GetValue<bool>());
        Assert.False(state["decisionNeeded"]!.GetValue<bool>());
        Assert.Equal(1, state["purposeVersion"]!.GetValue<int>());
        var grantedAt = Time(state["grantedAt"]);
        Assert.Equal(Time(receipt["issuedAt"]), grantedAt);
        Assert.Equal(grantedAt.AddDays(395), Time(state["expiresAt"]));
    }

    [Fact]
    public async Task Get_AfterARevocation_IsRevokedAndNotActive()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));
        var revocation = await SaveOkAsync(Customer, Decision("newsletter", false));

        var state = await StateAsync(Customer, "newsletter");

        Assert.Equal("revoked", state["status"]!.GetValue<string>());
        Assert.False(state["active"]!.GetValue<bool>());
        Assert.Equal(Time(revocation["issuedAt"]), Time(state["revokedAt"]));
        Assert.Null(state["expiresAt"]);
    }

    [Fact]
    public async Task Get_AfterTheLifetimePasses_IsExpiredAndAsksAgain()
    {
        await CreatePurposeAsync("newsletter"); // consentLifetimeDays: 395
        await SaveOkAsync(Customer, Decision("newsletter", true));

        Fixture.Clock.Advance(TimeSpan.FromDays(394));
        var before = await StateAsync(Customer, "newsletter");
        Fixture.Clock.Advance(TimeSpan.FromDays(2));
        var after = await StateAsync(Customer, "newsletter");

        Assert.Equal("granted", before["status"]!.GetValue<string>());
        Assert.True(before["active"]!.GetValue<bool>());
        Assert.Equal("expired", after["status"]!.GetValue<string>());
        Assert.False(after["active"]!.GetValue<bool>());
        Assert.True(after["decisionNeeded"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Get_PurposeWithoutLifetime_NeverExpires()
    {
        await CreatePurposeAsync("newsletter", b => b["consentLifetimeDays"] = null);
        await SaveOkAsync(Customer, Decision("newsletter", true));

        Fixture.Clock.Advance(TimeSpan.FromDays(3650));
        var state = await StateAsync(Customer, "newsletter");

        Assert.Equal("granted", state["status"]!.GetValue<string>());
        Assert.True(state["active"]!.GetValue<bool>());
        Assert.Null(state["expiresAt"]);
    }

    [Fact]
    public async Task Get_AfterAVersionThatRequiresReconsent_IsOutdated()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));

        await PutPurposeAsync("newsletter", ifMatch: 1, requiresReconsent: true);
        var state = await StateAsync(Customer, "newsletter");

        Assert.Equal("outdated", state["status"]!.GetValue<string>());
        Assert.False(state["active"]!.GetValue<bool>());
        Assert.True(state["decisionNeeded"]!.GetValue<bool>());
        Assert.Equal(1, state["purposeVersion"]!.GetValue<int>());
        Assert.Equal(2, state["currentVersion"]!.GetValue<int>());
    }

    [Fact]
    public async Task Get_OutdatedThenAGrantOfTheNewVersion_IsGrantedAgain()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));
        await PutPurposeAsync("newsletter", ifMatch: 1, requiresReconsent: true);

        await SaveOkAsync(Customer, Decision("newsletter", true, version: 2));
        var state = await StateAsync(Customer, "newsletter");

        Assert.Equal("granted", state["status"]!.GetValue<string>());
        Assert.True(state["active"]!.GetValue<bool>());
        Assert.Equal(2, state["purposeVersion"]!.GetValue<int>());
    }

    [Fact]
    public async Task Grant_OfAVersionThatNoLongerCounts_Is422NamingTheVersion()
    {
        await CreatePurposeAsync("newsletter");
        await PutPurposeAsync("newsletter", ifMatch: 1, requiresReconsent: true);
        await ServiceAsync(); // its key is issued before the snapshot
        var before = await Fixture.RowCountsAsync();

        var response = await SaveAsync(Customer, Decision("newsletter", true, version: 1));

        await AssertFieldProblemAsync(response, HttpStatusCode.UnprocessableEntity, "decisions[0].purposeVersion");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    [Fact]
    public async Task Get_AfterANewVersionWithoutReconsent_KeepsTheOldGrantActive()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));

        await PutPurposeAsync("newsletter", ifMatch: 1, requiresReconsent: null);
        var state = await StateAsync(Customer, "newsletter");

        Assert.Equal("granted", state["status"]!.GetValue<string>());
        Assert.True(state["active"]!.GetValue<bool>());
        Assert.Equal(1, state["purposeVersion"]!.GetValue<int>());
        Assert.Equal(2, state["currentVersion"]!.GetValue<int>());
    }

    [Fact]
    public async Task Get_RetiredPurpose_IsNotActiveEvenWhenGranted()
    {
        await CreatePurposeAsync("newsletter");
        await SaveOkAsync(Customer, Decision("newsletter", true));

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/newsletter")).StatusCode);
        var state = await StateAsync(Customer, "newsletter");

        Assert.False(state["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task List_LeavesOutRetiredPurposes()
    {
        await CreatePurposeAsync("newsletter");
        await CreatePurposeAsync("analytics");
        await SaveOkAsync(Customer, Decision("newsletter", true), Decision("analytics", true));
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/analytics")).StatusCode);

        var list = await (await ServiceAsync()).GetFromJsonAsync<JsonObject>($"/api/v1/customers/{Customer}/consents");

        Assert.Equal(["newsletter"], list!["items"]!.AsArray().Select(i => i!["purpose"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Get_UnknownPurpose_Returns404()
    {
        var response = await (await ServiceAsync()).GetAsync($"/api/v1/customers/{Customer}/consents/no-such-purpose");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task List_PagesWithLimitAndCursor_VisitingEveryPurposeOnce()
    {
        string[] keys = ["p-a", "p-b", "p-c", "p-d", "p-e"];
        foreach (var key in keys)
        {
            await CreatePurposeAsync(key);
        }

        var service = await ServiceAsync();
        var seen = new List<string>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var url = $"/api/v1/customers/{Customer}/consents?limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = await service.GetFromJsonAsync<JsonObject>(url);
            var items = page!["items"]!.AsArray();
            Assert.InRange(items.Count, 1, 2);
            seen.AddRange(items.Select(i => i!["purpose"]!.GetValue<string>()));
            cursor = page["nextCursor"]?.GetValue<string>();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(keys, seen);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task State_AfterAMixedSequenceOfDecisions_EqualsTheFoldOfTheLedger()
    {
        string[] purposes = ["ads", "analytics", "newsletter"];
        foreach (var key in purposes)
        {
            await CreatePurposeAsync(key);
        }

        // A fixed pseudo-random walk (an LCG, so that a failure reproduces): single and double decisions.
        var x = 12345u;
        uint Next() => x = (x * 1103515245u) + 12345u;
        for (var step = 0; step < 15; step++)
        {
            var first = purposes[(Next() >> 16) % 3];
            var decisions = new List<object> { Decision(first, (Next() >> 16) % 2 == 0) };
            if ((Next() >> 16) % 3 == 0)
            {
                // A revocation may omit the version (the current one is recorded); a grant names it.
                var second = purposes.First(p => p != first);
                var granted = (Next() >> 16) % 2 == 0;
                decisions.Add(Decision(second, granted, version: granted ? 1 : null));
            }

            await SaveOkAsync(Customer, [.. decisions]);
        }

        var events = (await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{Customer}/consent-events?limit=500"))!["items"]!.AsArray();
        Assert.True(events.Count >= 15);
        foreach (var purpose in purposes)
        {
            var state = await StateAsync(Customer, purpose);
            var last = events.FirstOrDefault(e => e!["purposeKey"]!.GetValue<string>() == purpose);
            if (last is null)
            {
                Assert.Equal("none", state["status"]!.GetValue<string>());
                continue;
            }

            Assert.Equal(last["decision"]!.GetValue<string>(), state["status"]!.GetValue<string>());
            Assert.Equal(last["purposeVersion"]!.GetValue<int>(), state["purposeVersion"]!.GetValue<int>());
            var decidedAt = state[last["decision"]!.GetValue<string>() == "granted" ? "grantedAt" : "revokedAt"];
            Assert.Equal(Time(last["occurredAt"]), Time(decidedAt));
        }
    }

    private static Action<JsonObject> OptOut(bool honorsGpc) => b =>
    {
        b["consentModel"] = "opt-out";
        b["honorsGpc"] = honorsGpc;
    };

    private static DateTimeOffset Time(JsonNode? node) =>
        DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture);

    private async Task<JsonObject> StateAsync(string customerId, string purpose, string? gpc = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/customers/{Uri.EscapeDataString(customerId)}/consents/{purpose}");
        if (gpc is not null)
        {
            request.Headers.TryAddWithoutValidation("Sec-GPC", gpc);
        }

        var response = await (await ServiceAsync()).SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var state = await ReadJsonAsync(response);
        Assert.Equal(customerId, state["customerId"]!.GetValue<string>());
        Assert.Equal(purpose, state["purpose"]!.GetValue<string>());
        return state;
    }

    /// <summary>PUTs a changed notice, optionally requiring re-consent; asserts the new version.</summary>
    private async Task PutPurposeAsync(string key, int ifMatch, bool? requiresReconsent)
    {
        var body = PurposeBody(key, b => b["description"] = "We now email you our news daily.");
        body.Remove("key");
        if (requiresReconsent is not null)
        {
            body["requiresReconsent"] = requiresReconsent;
        }

        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/purposes/{key}") { Content = Json(body.ToJsonString()) };
        request.Headers.TryAddWithoutValidation("If-Match", $"\"{ifMatch}\"");
        var response = await Admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(ifMatch + 1, (await ReadJsonAsync(response))["version"]!.GetValue<int>());
    }
}
