using System.Text.Json;
using ConsentApi.Auth;
using ConsentApi.Collection;
using ConsentApi.Consents;
using ConsentApi.Data;
using ConsentApi.Purposes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Customers;

/// <summary>The customer's rights: see everything held (Art. 15), take it (Art. 20), erase it (Art. 17).</summary>
public static class CustomerEndpoints
{
    /// <summary>The most items any list of the 360 or the export holds (published in the OpenAPI document).</summary>
    public const int MaxItems = 100_000;

    public static RouteGroupBuilder MapCustomerRights(this RouteGroupBuilder customers)
    {
        var group = customers.MapGroup("").WithTags("Customers");
        group.MapGet("/360", Get360).RequireAuthorization(Roles.AdminPolicy).WithName("GetCustomer360");
        group.MapGet("/export", Export).RequireAuthorization(Roles.AdminPolicy).WithName("ExportCustomer");
        group.MapDelete("/", Erase).RequireAuthorization(Roles.AdminPolicy).WithName("EraseCustomer");
        return group;
    }

    /// <summary>Customer 360: every purpose with its notice, the consent and its expiry, the data held with expiry, the history, the deletion log, breaches.</summary>
    /// <param name="customerId">The business's own id for the customer.</param>
    public static async Task<Ok<Customer360Response>> Get360(string customerId, ConsentDbContext db, ConsentChecker checker,
        TimeProvider clock, CancellationToken cancellationToken) =>
        TypedResults.Ok((await LoadAsync(customerId, db, checker, clock, cancellationToken)).View);

    /// <summary>Download everything held about the customer as JSON (GDPR Art. 20).</summary>
    /// <remarks>The Customer 360, the data values themselves (decrypted), every receipt, and each consent status in the W3C DPV vocabulary.</remarks>
    /// <param name="customerId">The business's own id for the customer.</param>
    public static async Task<Ok<CustomerExport>> Export(string customerId, ConsentDbContext db, ConsentChecker checker,
        FieldEncryption encryption, TimeProvider clock, HttpContext http, CancellationToken cancellationToken)
    {
        var (view, records, events) = await LoadAsync(customerId, db, checker, clock, cancellationToken);
        // Every receipt, rebuilt from the events already read (one query, not one per receipt).
        var byReceipt = events.GroupBy(e => e.ReceiptId).ToDictionary(g => g.Key, g => g.OrderBy(e => e.Seq).ToList());
        var receipts = (await db.Receipts.AsNoTracking().Where(r => r.CustomerId == customerId)
                .OrderBy(r => r.IssuedAt).Take(MaxItems).ToListAsync(cancellationToken))
            .Select(r => new ReceiptResponse
            {
                ReceiptId = r.Id, CustomerId = r.CustomerId, IssuedAt = r.IssuedAt, Source = r.Source, CollectionPoint = r.CollectionPoint,
                Decisions = byReceipt.GetValueOrDefault(r.Id, []).Select(ReceiptDecision.From).ToList(),
            }).ToList();

        var export = new CustomerExport
        {
            Format = "consentapi-export/1",
            DpvNamespace = "https://w3id.org/dpv#",
            Customer = view,
            DpvStatuses = view.Purposes.Select(p => new DpvStatus { Purpose = p.Notice.Key, Status = CustomerExport.Dpv(p.Consent.Status) }).ToList(),
            Data = records.Select(r => new ExportedRecord
            {
                Id = r.Id, Purpose = r.PurposeKey, PurposeVersion = r.PurposeVersion, CollectedAt = r.CollectedAt, ExpiresAt = r.ExpiresAt,
                Fields = JsonSerializer.Deserialize<Dictionary<string, string>>(
                    encryption.Decrypt(r.KeyId, r.Ciphertext, FieldEncryption.AssociatedData(r.CustomerId, r.PurposeKey, r.Id)))!,
            }).ToList(),
            Receipts = receipts,
        };
        var fileName = new string(customerId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"consentapi-export-{fileName}.json\"";
        return TypedResults.Ok(export);
    }

    /// <summary>Erase the customer (GDPR Art. 17).</summary>
    /// <remarks>
    /// Every data record is deleted and the evidence (IP address, user agent) of every decision scrubbed; every
    /// active consent gets a <c>system</c> revocation, so a later collection needs a new consent. The hashed
    /// events and receipts stay as the minimal proof, and the chain still verifies. Idempotent; erasing a
    /// customer who never existed is not an error.
    /// </remarks>
    /// <param name="customerId">The business's own id for the customer.</param>
    public static async Task<NoContent> Erase(string customerId, CustomerErasure erasure, CancellationToken cancellationToken)
    {
        await erasure.EraseAsync(customerId, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<(Customer360Response View, List<DataRecord> Records, List<ConsentEvent> Events)> LoadAsync(string customerId, ConsentDbContext db,
        ConsentChecker checker, TimeProvider clock, CancellationToken cancellationToken)
    {
        var now = clock.UtcNow();
        // Records past expiry are gone for the customer even before the sweeper deletes them.
        var records = await db.DataRecords.AsNoTracking()
            .Where(r => r.CustomerId == customerId && r.ExpiresAt > now)
            .OrderBy(r => r.CollectedAt).Take(MaxItems).ToListAsync(cancellationToken);
        var decided = await db.ConsentStates.AsNoTracking().Where(s => s.CustomerId == customerId)
            .Select(s => s.PurposeKey).ToListAsync(cancellationToken);
        var concerned = decided.Concat(records.Select(r => r.PurposeKey)).Distinct().ToList();
        var purposes = await db.Purposes.AsNoTracking()
            .Where(p => p.Status == PurposeStatus.Active || concerned.Contains(p.Key))
            .OrderBy(p => p.Key).Take(MaxItems)
            .Select(p => new { Purpose = p, Current = p.Versions.Single(v => v.Version == p.CurrentVersion) })
            .ToListAsync(cancellationToken);
        var checks = await checker.CheckManyAsync(purposes.Select(p => (customerId, p.Purpose.Key)).ToList(),
            new RequestSignals(false, new Evidence(null, null)), cancellationToken, useCache: false);

        var events = await db.ConsentEvents.AsNoTracking().Where(e => e.CustomerId == customerId)
            .OrderByDescending(e => e.Seq).Take(MaxItems).ToListAsync(cancellationToken);
        var deletions = await db.DeletionLog.AsNoTracking().Where(d => d.CustomerId == customerId)
            .OrderByDescending(d => d.DeletedAt).Take(MaxItems).ToListAsync(cancellationToken);

        var view = new Customer360Response
        {
            CustomerId = customerId,
            GeneratedAt = now,
            Purposes = purposes.Zip(checks, (p, check) => new CustomerPurposeView
            {
                Notice = PurposeVersionResponse.From(p.Current),
                PurposeStatus = p.Purpose.Status,
                Consent = ConsentEndpoints.ToResponse(customerId, check.Terms!, check.State, check.Verdict!.Value),
                Records = records.Where(r => r.PurposeKey == p.Purpose.Key).Select(DataRecordResponse.From).ToList(),
            }).ToList(),
            History = events.Select(ConsentEventResponse.From).ToList(),
            Deletions = deletions.Select(DeletionResponse.From).ToList(),
            Breaches = [],
        };
        return (view, records, events);
    }
}
