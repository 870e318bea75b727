using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;
using ConsentApi.Lifecycle;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentApi.IntegrationTests.Customers;

/// <summary>
/// The customer's rights: the Customer 360 (GDPR Art. 15), the portable export (Art. 20) and erasure
/// (Art. 17). Each test uses customer ids of its own, and purposes it changes have keys of their own,
/// so no node cache of an earlier test can answer for it.
/// </summary>
public sealed class CustomerRightsTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    // ---- Customer 360 ------------------------------------------------------------------------

    [Fact]
    public async Task Customer360_ShowsEachPurposesNoticeConsentRecordsAndTheHistoryAndDeletions()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await CreatePurposeAsync("offers", p =>
        {
            p["name"] = "Offers";
            p["description"] = "We send you partner offers.";
            p["recipients"] = new JsonArray(new JsonObject { ["name"] = "Partner Co", ["thirdParty"] = true });
            p["retentionDays"] = 90;
        });
        await SaveOkAsync(customer, Decision("newsletter", true), Decision("offers", true));
        var first = await ReadJsonAsync(await CollectAsync(customer, "newsletter", "a@example.com"));
        var second = await ReadJsonAsync(await CollectAsync(customer, "newsletter", "b@example.com"));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "offers", "c@example.com")).StatusCode);
        await SaveOkAsync(customer, Decision("offers", false, version: null));

        // The collection cached the offers grant on this node; the revocation's notification evicts it.
        var view = await EventuallyAsync(() => Customer360Async(customer),
            v => v["purposes"]!.AsArray().All(p => p!["consent"]!["status"]!.GetValue<string>() != "granted" || p["notice"]!["key"]!.GetValue<string>() != "offers"));

        Assert.Equal(customer, view["customerId"]!.GetValue<string>());
        Assert.NotNull(view["generatedAt"]);
        var purposes = view["purposes"]!.AsArray();
        Assert.Equal(["newsletter", "offers"], purposes.Select(p => p!["notice"]!["key"]!.GetValue<string>()));

        var newsletter = purposes[0]!;
        Assert.Equal("Newsletter", newsletter["notice"]!["name"]!.GetValue<string>());
        Assert.Equal("We email you our news weekly.", newsletter["notice"]!["description"]!.GetValue<string>());
        Assert.Equal(365, newsletter["notice"]!["retentionDays"]!.GetValue<int>());
        Assert.Equal(1, newsletter["notice"]!["version"]!.GetValue<int>());
        Assert.Equal("Mailer Ltd", Assert.Single(newsletter["notice"]!["recipients"]!.AsArray())!["name"]!.GetValue<string>());
        Assert.Equal("email", Assert.Single(newsletter["notice"]!["dataCategories"]!.AsArray())!["key"]!.GetValue<string>());
        Assert.Equal("active", newsletter["purposeStatus"]!.GetValue<string>());
        var consent = newsletter["consent"]!;
        Assert.Equal("granted", consent["status"]!.GetValue<string>());
        Assert.True(consent["active"]!.GetValue<bool>());
        Assert.Equal(consent["grantedAt"]!.GetValue<DateTimeOffset>().AddDays(395), consent["expiresAt"]!.GetValue<DateTimeOffset>());
        var records = newsletter["records"]!.AsArray();
        Assert.Equal([first["id"]!.GetValue<Guid>(), second["id"]!.GetValue<Guid>()], records.Select(r => r!["id"]!.GetValue<Guid>()));
        foreach (var record in records)
        {
            Assert.Equal("newsletter", record!["purpose"]!.GetValue<string>());
            Assert.Equal(1, record["purposeVersion"]!.GetValue<int>());
            Assert.Equal(["email"], record["fields"]!.AsArray().Select(f => f!.GetValue<string>()));
            Assert.Equal(record["collectedAt"]!.GetValue<DateTimeOffset>().AddDays(365), record["expiresAt"]!.GetValue<DateTimeOffset>());
            Assert.Null(record["values"]); // the 360 names the fields, it does not show the values
        }

        var offers = purposes[1]!;
        Assert.Equal("Offers", offers["notice"]!["name"]!.GetValue<string>());
        Assert.Equal("We send you partner offers.", offers["notice"]!["description"]!.GetValue<string>());
        Assert.Equal("Partner Co", Assert.Single(offers["notice"]!["recipients"]!.AsArray())!["name"]!.GetValue<string>());
        Assert.Equal(90, offers["notice"]!["retentionDays"]!.GetValue<int>());
        Assert.Equal("revoked", offers["consent"]!["status"]!.GetValue<string>());
        Assert.False(offers["consent"]!["active"]!.GetValue<bool>());
        Assert.Null(offers["consent"]!["expiresAt"]);
        Assert.Empty(offers["records"]!.AsArray()); // onRevoke delete took it

        var history = view["history"]!.AsArray();
        Assert.Equal([3L, 2L, 1L], history.Select(e => e!["sequence"]!.GetValue<long>()));
        Assert.Equal(["revoked", "granted", "granted"], history.Select(e => e!["decision"]!.GetValue<string>()));
        Assert.Equal("offers", history[0]!["purposeKey"]!.GetValue<string>());

        var deletion = Assert.Single(view["deletions"]!.AsArray())!;
        Assert.Equal("offers", deletion["purpose"]!.GetValue<string>());
        Assert.Equal(1, deletion["recordCount"]!.GetValue<int>());
        Assert.Equal("revocation", deletion["reason"]!.GetValue<string>());
        Assert.Empty(view["breaches"]!.AsArray());
    }

    [Fact]
    public async Task Customer360_DeletionsAreNewestFirst()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p => p["retentionDays"] = 30);
        await CreatePurposeAsync("offers");
        await SaveOkAsync(customer, Decision("newsletter", true), Decision("offers", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "offers", "o@example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "n@example.com")).StatusCode);
        await SaveOkAsync(customer, Decision("offers", false, version: null)); // deletion 1: revocation
        Fixture.Clock.Advance(TimeSpan.FromDays(31));
        using (var scope = Fixture.Factory.Services.CreateScope())
        {
            await scope.ServiceProvider.GetRequiredService<LifecycleSweeper>().SweepOnceAsync(CancellationToken.None); // deletion 2: retention
        }

        var deletions = (await Customer360Async(customer))["deletions"]!.AsArray();

        Assert.Equal(["retention", "revocation"], deletions.Select(d => d!["reason"]!.GetValue<string>()));
        Assert.True(deletions[0]!["deletedAt"]!.GetValue<DateTimeOffset>() > deletions[1]!["deletedAt"]!.GetValue<DateTimeOffset>());
    }

    [Fact]
    public async Task Customer360_UnknownCustomer_Is200WithEveryActivePurposeAtNoneAndNoHistory()
    {
        await CreatePurposeAsync();
        await CreatePurposeAsync("offers");
        await CreatePurposeAsync("legacy-unknown");
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/legacy-unknown")).StatusCode);
        var customer = NewCustomer();

        var response = await Admin.GetAsync($"/api/v1/customers/{customer}/360");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var view = await ReadJsonAsync(response);
        Assert.Equal(customer, view["customerId"]!.GetValue<string>());
        var purposes = view["purposes"]!.AsArray();
        Assert.Equal(["newsletter", "offers"], purposes.Select(p => p!["notice"]!["key"]!.GetValue<string>()));
        Assert.All(purposes, p =>
        {
            Assert.Equal("none", p!["consent"]!["status"]!.GetValue<string>());
            Assert.Equal("active", p["purposeStatus"]!.GetValue<string>());
            Assert.Empty(p["records"]!.AsArray());
        });
        Assert.Empty(view["history"]!.AsArray());
        Assert.Empty(view["deletions"]!.AsArray());
        Assert.Empty(view["breaches"]!.AsArray());
    }

    [Fact]
    public async Task Customer360_IncludesARetiredPurposeTheCustomerDecidedOn_AsRetired()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await CreatePurposeAsync("legacy-decided");
        await CreatePurposeAsync("legacy-untouched");
        await SaveOkAsync(customer, Decision("legacy-decided", true));
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/legacy-decided")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/legacy-untouched")).StatusCode);

        var view = await EventuallyAsync(() => Customer360Async(customer),
            v => v["purposes"]!.AsArray().Any(p => p!["purposeStatus"]!.GetValue<string>() == "retired"));

        var purposes = view["purposes"]!.AsArray();
        Assert.Equal(["legacy-decided", "newsletter"], purposes.Select(p => p!["notice"]!["key"]!.GetValue<string>()));
        var retired = purposes[0]!;
        Assert.Equal("retired", retired["purposeStatus"]!.GetValue<string>());
        Assert.False(retired["consent"]!["active"]!.GetValue<bool>());
        Assert.Equal("Newsletter", retired["notice"]!["name"]!.GetValue<string>());
        Assert.Single(view["history"]!.AsArray());
    }

    [Fact]
    public async Task Customer360_WithAServiceKey_Is403_AndWithoutAKey_Is401()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();

        await AssertProblemAsync(await (await ServiceAsync()).GetAsync($"/api/v1/customers/{customer}/360"), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await Anonymous.GetAsync($"/api/v1/customers/{customer}/360"), HttpStatusCode.Unauthorized, "unauthorized");
    }

    // ---- Export ------------------------------------------------------------------------------

    [Fact]
    public async Task Export_IsAJsonAttachment_InTheExportFormat()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));

        var response = await Admin.GetAsync($"/api/v1/customers/{customer}/export");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var disposition = response.Content.Headers.ContentDisposition;
        Assert.NotNull(disposition);
        Assert.Equal("attachment", disposition.DispositionType);
        var fileName = disposition.FileName?.Trim('"');
        Assert.NotNull(fileName);
        Assert.EndsWith(".json", fileName, StringComparison.Ordinal);
        Assert.Contains(customer, fileName, StringComparison.Ordinal);
        var export = await ReadJsonAsync(response);
        Assert.Equal("consentapi-export/1", export["format"]!.GetValue<string>());
        Assert.Equal("https://w3id.org/dpv#", export["dpvNamespace"]!.GetValue<string>());
        Assert.Equal(customer, export["customer"]!["customerId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Export_CustomerIdWithUnsafeCharacters_GivesASafeFileName()
    {
        await CreatePurposeAsync();
        var customer = "c \"x\" ü;" + Guid.NewGuid().ToString("N")[..8];
        await SaveOkAsync(customer, Decision("newsletter", true));

        var response = await Admin.GetAsync($"/api/v1/customers/{Uri.EscapeDataString(customer)}/export");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var fileName = response.Content.Headers.ContentDisposition!.FileName!.Trim('"');
        Assert.Matches("^[A-Za-z0-9._-]+\\.json$", fileName);
        Assert.Equal(customer, (await ReadJsonAsync(response))["customer"]!["customerId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Export_HoldsTheDecryptedValuesAsCollected()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p => p["dataCategories"] = JsonNode.Parse("""
            [ { "key": "email", "description": "Your email address", "sensitive": false },
              { "key": "name", "description": "Your name", "sensitive": false } ]
            """));
        await SaveOkAsync(customer, Decision("newsletter", true));
        var first = await ReadJsonAsync(await (await ServiceAsync()).PostAsJsonAsync($"/api/v1/customers/{customer}/data/newsletter",
            new { fields = new Dictionary<string, string> { ["email"] = "zoë@example.com", ["name"] = "Zoë \"Z\" Ångström\nline 2" } }));
        var second = await ReadJsonAsync(await CollectAsync(customer, "newsletter", "other@example.com"));

        var export = (await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{customer}/export"))!;

        var data = export["data"]!.AsArray().ToDictionary(d => d!["id"]!.GetValue<Guid>());
        Assert.Equal(2, data.Count);
        var one = data[first["id"]!.GetValue<Guid>()]!;
        Assert.Equal("newsletter", one["purpose"]!.GetValue<string>());
        Assert.Equal(1, one["purposeVersion"]!.GetValue<int>());
        Assert.Equal("zoë@example.com", one["fields"]!["email"]!.GetValue<string>());
        Assert.Equal("Zoë \"Z\" Ångström\nline 2", one["fields"]!["name"]!.GetValue<string>());
        Assert.Equal(first["expiresAt"]!.GetValue<DateTimeOffset>(), one["expiresAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(first["collectedAt"]!.GetValue<DateTimeOffset>(), one["collectedAt"]!.GetValue<DateTimeOffset>());
        var two = data[second["id"]!.GetValue<Guid>()]!;
        Assert.Equal("other@example.com", two["fields"]!["email"]!.GetValue<string>());
        Assert.Single(two["fields"]!.AsObject());
    }

    [Fact]
    public async Task Export_HoldsEveryReceipt()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await CreatePurposeAsync("offers");
        var saves = new List<JsonObject>
        {
            await SaveOkAsync(customer, Decision("newsletter", true), Decision("offers", true)),
            await SaveOkAsync(customer, Decision("offers", false, version: null)),
            await SaveOkAsync(customer, Decision("newsletter", false, version: null)),
        };
        await SaveOkAsync(NewCustomer(), Decision("newsletter", true)); // another customer's receipt stays out

        var export = (await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{customer}/export"))!;

        var receipts = export["receipts"]!.AsArray();
        Assert.Equal(saves.Count, receipts.Count);
        Assert.Equal(saves.Select(s => s["receiptId"]!.GetValue<Guid>()).Order(), receipts.Select(r => r!["receiptId"]!.GetValue<Guid>()).Order());
        var firstReceipt = receipts.Single(r => r!["receiptId"]!.GetValue<Guid>() == saves[0]["receiptId"]!.GetValue<Guid>())!;
        Assert.Equal(saves[0]["decisions"]!.ToJsonString(), firstReceipt["decisions"]!.ToJsonString());
        Assert.Equal(4, export["customer"]!["history"]!.AsArray().Count); // four decisions in three saves
    }

    [Fact]
    public async Task Export_MapsEachConsentStatusToItsDpvTerm()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync("dpv-given");
        await CreatePurposeAsync("dpv-withdrawn");
        await CreatePurposeAsync("dpv-expired", p => p["consentLifetimeDays"] = 10);
        await CreatePurposeAsync("dpv-invalidated");
        await CreatePurposeAsync("dpv-unknown");
        await SaveOkAsync(customer, Decision("dpv-given", true), Decision("dpv-withdrawn", true), Decision("dpv-expired", true),
            Decision("dpv-invalidated", true));
        await SaveOkAsync(customer, Decision("dpv-withdrawn", false, version: null));
        using (var request = new HttpRequestMessage(HttpMethod.Put, "/api/v1/purposes/dpv-invalidated")
        {
            Content = JsonContent.Create(PurposeBody("dpv-invalidated", b =>
            {
                b.Remove("key");
                b["requiresReconsent"] = true;
                b["description"] = "We email you our news daily.";
            })),
        })
        {
            request.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
            Assert.Equal(HttpStatusCode.OK, (await Admin.SendAsync(request)).StatusCode);
        }

        Fixture.Clock.Advance(TimeSpan.FromDays(11));

        var export = (await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/customers/{customer}/export"))!;

        var statuses = export["dpvStatuses"]!.AsArray()
            .ToDictionary(s => s!["purpose"]!.GetValue<string>(), s => s!["status"]!.GetValue<string>());
        Assert.Equal(new Dictionary<string, string>
        {
            ["dpv-given"] = "dpv:ConsentGiven",
            ["dpv-withdrawn"] = "dpv:ConsentWithdrawn",
            ["dpv-expired"] = "dpv:ConsentExpired",
            ["dpv-invalidated"] = "dpv:ConsentInvalidated",
            ["dpv-unknown"] = "dpv:ConsentUnknown",
        }, statuses);
        var consents = export["customer"]!["purposes"]!.AsArray()
            .ToDictionary(p => p!["notice"]!["key"]!.GetValue<string>(), p => p!["consent"]!["status"]!.GetValue<string>());
        Assert.Equal("outdated", consents["dpv-invalidated"]);
        Assert.Equal("expired", consents["dpv-expired"]);
    }

    [Fact]
    public async Task Export_WithAServiceKey_Is403()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));

        var response = await (await ServiceAsync()).GetAsync($"/api/v1/customers/{customer}/export");

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Null(response.Content.Headers.ContentDisposition);
    }

    // ---- Erasure -----------------------------------------------------------------------------

    [Fact]
    public async Task Erase_DeletesEveryRecordAndScrubsEvidence_AndLeavesOtherCustomersAlone()
    {
        var customer = NewCustomer();
        var other = NewCustomer();
        await CreatePurposeAsync();
        await CreatePurposeAsync("offers", p => p["onRevoke"] = "retain");
        foreach (var c in new[] { customer, other })
        {
            await SaveWithUserAgentAsync(c, Decision("newsletter", true), Decision("offers", true));
            Assert.Equal(HttpStatusCode.Created, (await CollectAsync(c, "newsletter", "a@example.com")).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await CollectAsync(c, "offers", "b@example.com")).StatusCode);
        }

        Assert.Equal(2, await Fixture.ScalarAsync<long>(
            "SELECT count(*) FROM consent_evidence WHERE customer_id = $1 AND ip_address IS NOT NULL AND user_agent IS NOT NULL", customer));

        var response = await Admin.DeleteAsync($"/api/v1/customers/{customer}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", customer));
        Assert.Equal(0, await Fixture.ScalarAsync<long>(
            "SELECT count(*) FROM consent_evidence WHERE customer_id = $1 AND (ip_address IS NOT NULL OR user_agent IS NOT NULL)", customer));
        Assert.True(await Fixture.ScalarAsync<long>("SELECT count(*) FROM consent_evidence WHERE customer_id = $1", customer) >= 2);
        Assert.Equal(2, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", other));
        Assert.Equal(2, await Fixture.ScalarAsync<long>(
            "SELECT count(*) FROM consent_evidence WHERE customer_id = $1 AND ip_address IS NOT NULL AND user_agent = 'RightsTest/1.0'", other));
        Assert.Equal(2, (await EventsAsync(other)).Count);
    }

    [Fact]
    public async Task Erase_AppendsASystemRevocationForEveryActivePurpose_AndTheLedgerStillVerifies()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await CreatePurposeAsync("offers");
        await CreatePurposeAsync("survey");
        await CreatePurposeAsync("analytics", p =>
        {
            p["consentModel"] = "opt-out";
            p["legalBasis"] = "legitimate-interests";
        });
        await SaveOkAsync(customer, Decision("newsletter", true), Decision("offers", true));
        await SaveOkAsync(customer, Decision("offers", false, version: null));

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        var events = await EventsAsync(customer);
        Assert.Equal(5, events.Count);
        var added = events.Take(2).ToList(); // newest first
        Assert.Equal(["analytics", "newsletter"], added.Select(e => e!["purposeKey"]!.GetValue<string>()).Order());
        Assert.All(added, e =>
        {
            Assert.Equal("revoked", e!["decision"]!.GetValue<string>());
            Assert.Equal("system", e["source"]!.GetValue<string>());
        });
        var verify = await VerifyAsync(customer);
        Assert.True(verify["valid"]!.GetValue<bool>());
        Assert.Equal(5, verify["events"]!.GetValue<long>());
    }

    [Fact]
    public async Task Erase_KeepsEventsAndReceipts()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        var receipt = await SaveOkAsync(customer, Decision("newsletter", true));

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        var kept = await Admin.GetAsync($"/api/v1/customers/{customer}/receipts/{receipt["receiptId"]!.GetValue<Guid>()}");
        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        Assert.Equal(receipt["decisions"]!.ToJsonString(), (await ReadJsonAsync(kept))["decisions"]!.ToJsonString());
        Assert.Equal(2, await Fixture.ScalarAsync<long>("SELECT count(*) FROM receipts WHERE customer_id = $1", customer));
        var events = await EventsAsync(customer);
        Assert.Equal(receipt["decisions"]![0]!["eventId"]!.GetValue<Guid>(), events[^1]!["id"]!.GetValue<Guid>());
    }

    [Fact]
    public async Task Erase_PreviouslyGrantedPurposeIsRevoked()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.True((await StateAsync(customer, "newsletter"))["active"]!.GetValue<bool>()); // now cached on this node

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        var state = await EventuallyAsync(() => StateAsync(customer, "newsletter"), s => s["status"]!.GetValue<string>() == "revoked");
        Assert.Equal("revoked", state["status"]!.GetValue<string>());
        Assert.False(state["active"]!.GetValue<bool>());
        Assert.Equal("revoked", await Fixture.ScalarAsync<string>(
            "SELECT decision FROM consent_states WHERE customer_id = $1 AND purpose_key = 'newsletter'", customer));
    }

    [Fact]
    public async Task Erase_LaterCollectionIsRefusedUntilANewGrant()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        var refused = await AssertProblemAsync(await CollectAsync(customer, "newsletter", "b@example.com"),
            HttpStatusCode.Forbidden, "consent-required");
        Assert.Equal("revoked", refused["consentStatus"]!.GetValue<string>());
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", customer));

        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectEventuallyAsync(customer, "newsletter", "c@example.com")).StatusCode);
        Assert.Equal(1, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", customer));
    }

    [Fact]
    public async Task Erase_Twice_Answers204BothTimes_AndTheSecondWritesNothing()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);
        var before = await Fixture.RowCountsAsync();
        var events = (await EventsAsync(customer)).Count;
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        Assert.Equal(events, (await EventsAsync(customer)).Count);
        Assert.Equal(before, await Fixture.RowCountsAsync());
        Assert.True((await VerifyAsync(customer))["valid"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Erase_UnknownCustomer_Is204AndRecordsNoDecision()
    {
        await CreatePurposeAsync();
        var customer = NewCustomer();

        var response = await Admin.DeleteAsync($"/api/v1/customers/{customer}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await EventsAsync(customer));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM receipts WHERE customer_id = $1", customer));
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM deletion_log WHERE customer_id = $1", customer));
    }

    [Fact]
    public async Task Erase_LogsErasureDeletionsPerPurpose_VisibleInThe360()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(); // onRevoke delete
        await CreatePurposeAsync("offers", p => p["onRevoke"] = "retain");
        await SaveOkAsync(customer, Decision("newsletter", true), Decision("offers", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "b@example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "offers", "c@example.com")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        var view = await Customer360Async(customer);
        var deletions = view["deletions"]!.AsArray();
        Assert.All(deletions, d => Assert.Equal("erasure", d!["reason"]!.GetValue<string>()));
        Assert.Equal(new Dictionary<string, int> { ["newsletter"] = 2, ["offers"] = 1 },
            deletions.ToDictionary(d => d!["purpose"]!.GetValue<string>(), d => d!["recordCount"]!.GetValue<int>()));
        Assert.All(view["purposes"]!.AsArray(), p => Assert.Empty(p!["records"]!.AsArray()));
    }

    [Fact]
    public async Task Erase_DeletesDataUnderARetiredPurposeToo()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync("legacy-erase");
        await SaveOkAsync(customer, Decision("legacy-erase", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "legacy-erase", "a@example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/v1/purposes/legacy-erase")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", customer));
        Assert.Equal("erasure", await Fixture.ScalarAsync<string>(
            "SELECT reason FROM deletion_log WHERE customer_id = $1 AND purpose_key = 'legacy-erase'", customer));
    }

    [Fact]
    public async Task Erase_DoesNotRevokeAnExpiredGrant()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Fixture.Clock.Advance(TimeSpan.FromDays(396));

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        Assert.Equal(["granted"], (await EventsAsync(customer)).Select(e => e!["decision"]!.GetValue<string>()));
        Assert.Equal("expired", (await StateAsync(customer, "newsletter"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Erase_DeletesTheCustomersIdempotencyRecords()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        var service = await ServiceAsync();
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/customers/{customer}/consents")
        {
            Content = JsonContent.Create(new { decisions = new[] { Decision("newsletter", true) }, source = "web", collectionPoint = "signup-form" }),
        })
        {
            request.Headers.Add("Idempotency-Key", "erase-me-1");
            Assert.Equal(HttpStatusCode.Created, (await service.SendAsync(request)).StatusCode);
        }

        Assert.Equal(1, await Fixture.ScalarAsync<long>("SELECT count(*) FROM idempotency_records WHERE customer_id = $1", customer));

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/customers/{customer}")).StatusCode);

        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM idempotency_records WHERE customer_id = $1", customer));
    }

    [Fact]
    public async Task EraseDuringARetentionSweep_LogsEveryRecordExactlyOnce()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync(change: p =>
        {
            p["retentionDays"] = 30;
            p["onRevoke"] = "retain"; // erasure's revocation keeps them: its own bulk delete must handle (and log) the records
        });
        await SaveOkAsync(customer, Decision("newsletter", true));
        for (var i = 0; i < 15; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", $"r{i}@example.com")).StatusCode);
        }

        Fixture.Clock.Advance(TimeSpan.FromDays(31));

        // Hold the sweeper inside its transaction, after it deleted the expired rows and before it commits:
        // a table lock that its deletion-log insert waits for. The erasure then runs while those deletes are in flight.
        await using var gate = await Fixture.OpenAsync();
        await using var gateTransaction = await gate.BeginTransactionAsync();
        await using (var lockLog = new Npgsql.NpgsqlCommand("LOCK TABLE deletion_log IN SHARE MODE", gate, gateTransaction))
        {
            await lockLog.ExecuteNonQueryAsync();
        }

        using var scope = Fixture.Factory.Services.CreateScope();
        var sweep = Task.Run(() => scope.ServiceProvider.GetRequiredService<LifecycleSweeper>().SweepOnceAsync(CancellationToken.None));
        await WaitForBlockedSessionsAsync(1, sweep);
        var erase = Admin.DeleteAsync($"/api/v1/customers/{customer}");
        await WaitForBlockedSessionsAsync(2, erase);
        await gateTransaction.CommitAsync();

        var swept = await sweep;
        Assert.Equal(HttpStatusCode.NoContent, (await erase).StatusCode);

        Assert.Equal(15, swept.DeletedRecords);
        Assert.Equal(0, await Fixture.ScalarAsync<long>("SELECT count(*) FROM data_records WHERE customer_id = $1", customer));
        Assert.Equal(15, await Fixture.ScalarAsync<long>("SELECT sum(record_count) FROM deletion_log WHERE customer_id = $1", customer));
    }

    /// <summary>Waits until <paramref name="count"/> sessions of this database wait for a lock (bounded; fails if the task ends first).</summary>
    private async Task WaitForBlockedSessionsAsync(int count, Task running)
    {
        var waited = Stopwatch.StartNew();
        while (await Fixture.ScalarAsync<long>("""
                   SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE NOT l.granted AND a.datname = current_database()
                   """) < count)
        {
            Assert.False(running.IsCompleted, "the operation finished instead of waiting for the lock");
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), $"fewer than {count} sessions blocked after 10 s");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Erase_WithAServiceKey_Is403AndChangesNothing()
    {
        var customer = NewCustomer();
        await CreatePurposeAsync();
        await SaveOkAsync(customer, Decision("newsletter", true));
        Assert.Equal(HttpStatusCode.Created, (await CollectAsync(customer, "newsletter", "a@example.com")).StatusCode);
        var before = await Fixture.RowCountsAsync();

        var response = await (await ServiceAsync()).DeleteAsync($"/api/v1/customers/{customer}");

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(before, await Fixture.RowCountsAsync());
        await AssertProblemAsync(await Anonymous.DeleteAsync($"/api/v1/customers/{customer}"), HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal(before, await Fixture.RowCountsAsync());
    }

    // ---- Helpers -----------------------------------------------------------------------------

    private static string NewCustomer() => "c-" + Guid.NewGuid().ToString("N")[..12];

    private async Task<HttpResponseMessage> CollectAsync(string customerId, string purpose, string email) =>
        await (await ServiceAsync()).PostAsJsonAsync($"/api/v1/customers/{Uri.EscapeDataString(customerId)}/data/{purpose}",
            new { fields = new { email } });

    /// <summary>
    /// Collection right after a grant that follows a refused collection: the node's consent cache may
    /// still hold the refusal until the grant's notification lands (bounded by MaxStalenessMs).
    /// </summary>
    private async Task<HttpResponseMessage> CollectEventuallyAsync(string customerId, string purpose, string email)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var response = await CollectAsync(customerId, purpose, email);
            if (response.StatusCode != HttpStatusCode.Forbidden || waited.Elapsed > TimeSpan.FromSeconds(3))
            {
                return response;
            }

            await Task.Delay(20);
        }
    }

    private static async Task<JsonObject> EventuallyAsync(Func<Task<JsonObject>> read, Func<JsonObject, bool> done)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (done(value) || waited.Elapsed > TimeSpan.FromSeconds(3))
            {
                return value;
            }

            await Task.Delay(20);
        }
    }

    private async Task SaveWithUserAgentAsync(string customerId, params object[] decisions)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/customers/{customerId}/consents")
        {
            Content = JsonContent.Create(new { decisions, source = "web", collectionPoint = "signup-form" }),
        };
        request.Headers.TryAddWithoutValidation("User-Agent", "RightsTest/1.0");
        Assert.Equal(HttpStatusCode.Created, (await (await ServiceAsync()).SendAsync(request)).StatusCode);
    }

    private async Task<JsonObject> StateAsync(string customerId, string purpose) =>
        (await (await ServiceAsync()).GetFromJsonAsync<JsonObject>($"/api/v1/customers/{customerId}/consents/{purpose}"))!;
}
