using ConsentApi.Auth;
using ConsentApi.Data;
using ConsentApi.Http;
using ConsentApi.Purposes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ConsentApi.Consents;

/// <summary>The consent ledger of one customer: save decisions, read state, history, receipts, proof.</summary>
public static class ConsentEndpoints
{
    public static RouteGroupBuilder MapConsents(this RouteGroupBuilder customers)
    {
        var group = customers.MapGroup("").WithTags("Consents");
        group.MapPost("/consents", Save).RequireAuthorization(Roles.ServicePolicy).WithValidation().WithName("SaveConsents");
        group.MapGet("/consents", List).RequireAuthorization(Roles.ServicePolicy).WithName("ListConsents");
        group.MapGet("/consents/{purpose}", Get).RequireAuthorization(Roles.ServicePolicy).WithName("GetConsent");
        group.MapGet("/consent-events", Events).RequireAuthorization(Roles.AdminPolicy).WithName("ListConsentEvents");
        group.MapGet("/receipts/{receiptId:guid}", GetReceipt).RequireAuthorization(Roles.AdminPolicy).WithName("GetReceipt");
        group.MapGet("/ledger/verify", Verify).RequireAuthorization(Roles.AdminPolicy).WithName("VerifyLedger");
        return group;
    }

    /// <summary>Save a customer's decisions; answers the receipt.</summary>
    /// <remarks>
    /// All decisions are committed together or not at all: a 2xx answer means they are in the ledger.
    /// An unknown or retired purpose, or an unknown version, refuses the whole save with 422 naming
    /// the decision. Send an <c>Idempotency-Key</c> to retry safely: the same key and body answer the
    /// first receipt again (with <c>Idempotent-Replayed: true</c>) and append nothing.
    /// </remarks>
    /// <param name="customerId">The business's own id for the customer (at most 128 characters).</param>
    /// <param name="idempotencyKey">Any unique string (at most 255 characters), e.g. a UUID; reuse it only to retry the same request.</param>
    public static async Task<Results<Created<ReceiptResponse>, ValidationProblem>> Save(string customerId,
        SaveConsentsRequest request, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        GroupCommit groupCommit, HttpContext http)
    {
        if (idempotencyKey is not null && (idempotencyKey.Length is 0 or > ConsentLedger.IdempotencyKeyMaxLength
                                           || ValidationRules.HasControlCharacters(idempotencyKey)))
        {
            return Problems.Validation("Idempotency-Key", $"'Idempotency-Key' must be 1–{ConsentLedger.IdempotencyKeyMaxLength} printable characters.");
        }

        var (receipt, replayed) = await groupCommit.SaveAsync(new QueuedSave(customerId, request, RequestSignals.From(http).Evidence, idempotencyKey));
        if (replayed)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }

        return TypedResults.Created($"/api/v1/customers/{Uri.EscapeDataString(customerId)}/receipts/{receipt.ReceiptId}", receipt);
    }

    /// <summary>The customer's current consent for every active purpose.</summary>
    /// <remarks>A customer with no decisions is not an error: every purpose answers <c>none</c>. <c>Sec-GPC: 1</c> is honoured for opt-out purposes that honour GPC.</remarks>
    /// <param name="customerId">The business's own id for the customer.</param>
    /// <param name="cursor">From the previous page's <c>nextCursor</c>.</param>
    /// <param name="limit">Page size, 1–500 (default 50).</param>
    public static async Task<Results<Ok<ListResponse<ConsentStateResponse>>, ValidationProblem>> List(string customerId,
        ConsentDbContext db, ConsentChecker checker, HttpContext http, CancellationToken cancellationToken,
        [FromQuery] string? cursor = null, [FromQuery] int? limit = null)
    {
        var (take, after, problem) = Paging.Read(cursor, limit);
        if (problem is not null)
        {
            return problem;
        }

        var purposes = db.Purposes.AsNoTracking().Where(p => p.Status == PurposeStatus.Active);
        if (after is not null)
        {
            purposes = purposes.Where(p => string.Compare(p.Key, after) > 0);
        }

        var keys = await purposes.OrderBy(p => p.Key).Take(take + 1).Select(p => p.Key).ToListAsync(cancellationToken);
        var page = keys.Take(take).Select(key => (customerId, key)).ToList();
        var checks = await checker.CheckManyAsync(page, RequestSignals.From(http), cancellationToken);
        var items = checks.Where(c => c.Terms is not null)
            .Select(c => ToResponse(customerId, c.Terms!, c.State, c.Verdict!.Value)).ToList();
        var next = keys.Count > take ? Paging.Encode(page[^1].key) : null;
        return TypedResults.Ok(new ListResponse<ConsentStateResponse>(items, next));
    }

    /// <summary>The customer's consent for one purpose, with <c>active</c> and the reason.</summary>
    /// <remarks>Ask this before collecting. <c>Sec-GPC: 1</c> is honoured for opt-out purposes that honour GPC.</remarks>
    /// <param name="customerId">The business's own id for the customer.</param>
    /// <param name="purpose">The purpose key.</param>
    public static async Task<Results<Ok<ConsentStateResponse>, ProblemHttpResult>> Get(string customerId, string purpose,
        ConsentChecker checker, HttpContext http, CancellationToken cancellationToken)
    {
        var check = await checker.CheckAsync(customerId, purpose, RequestSignals.From(http), cancellationToken);
        if (check.Terms is null)
        {
            return Problems.NotFound($"There is no purpose '{PurposeEndpoints.Shorten(purpose)}'.");
        }

        return TypedResults.Ok(ToResponse(customerId, check.Terms, check.State, check.Verdict!.Value));
    }

    /// <summary>The customer's consent ledger, newest first.</summary>
    /// <param name="customerId">The business's own id for the customer.</param>
    /// <param name="cursor">From the previous page's <c>nextCursor</c>.</param>
    /// <param name="limit">Page size, 1–500 (default 50).</param>
    public static async Task<Results<Ok<ListResponse<ConsentEventResponse>>, ValidationProblem>> Events(string customerId,
        ConsentDbContext db, CancellationToken cancellationToken, [FromQuery] string? cursor = null, [FromQuery] int? limit = null)
    {
        var (take, after, problem) = Paging.Read(cursor, limit, p => long.TryParse(p, out _));
        if (problem is not null)
        {
            return problem;
        }

        var query = db.ConsentEvents.AsNoTracking().Where(e => e.CustomerId == customerId);
        if (after is not null)
        {
            var before = long.Parse(after, System.Globalization.CultureInfo.InvariantCulture);
            query = query.Where(e => e.Seq < before);
        }

        var page = await query.OrderByDescending(e => e.Seq).Take(take + 1).ToListAsync(cancellationToken);
        var items = page.Take(take).Select(ConsentEventResponse.From).ToList();
        var next = page.Count > take ? Paging.Encode(items[^1].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)) : null;
        return TypedResults.Ok(new ListResponse<ConsentEventResponse>(items, next));
    }

    /// <summary>A receipt, as it was issued.</summary>
    /// <remarks>
    /// Answers this API's receipt by default. <c>?format=kantara</c>, or
    /// <c>Accept: application/vnd.kantara.consent-receipt+json</c>, answers it in the Kantara Consent
    /// Receipt v1.1 format (<c>KI-CR-v1.1.0</c>): the controller and jurisdiction from the
    /// <c>Controller</c> settings, and one purpose per decision described from the exact version the
    /// customer saw (data categories, sensitive categories, third-party recipients, lifetime and
    /// retention; a withdrawal says when it was withdrawn). <c>?format=</c> wins over <c>Accept</c>;
    /// <c>?format=consentapi</c> asks for this API's shape. The Kantara receipt is sent as
    /// <c>application/vnd.kantara.consent-receipt+json</c> when asked for by <c>Accept</c>, as
    /// <c>application/json</c> when asked for by <c>?format=kantara</c>; every answer carries <c>Vary: Accept</c>.
    /// </remarks>
    /// <param name="customerId">The business's own id for the customer.</param>
    /// <param name="receiptId">The receipt id from the save's answer.</param>
    /// <param name="format"><c>consentapi</c> (the default) or <c>kantara</c>.</param>
    public static async Task<Results<Ok<ReceiptResponse>, JsonHttpResult<KantaraReceipt>, ProblemHttpResult, ValidationProblem>> GetReceipt(
        string customerId, Guid receiptId, ConsentLedger ledger, ConsentDbContext db, IOptions<ControllerSettings> controller,
        HttpContext http, CancellationToken cancellationToken, [FromQuery] string? format = null)
    {
        if (format is not (null or ConsentApiFormat or KantaraFormat))
        {
            return Problems.Validation("format", $"'format' must be '{ConsentApiFormat}' or '{KantaraFormat}'.");
        }

        http.Response.Headers.Append("Vary", "Accept");
        var receipt = await ledger.ReadReceiptAsync(customerId, receiptId, cancellationToken);
        if (receipt is null)
        {
            return Problems.NotFound($"The customer has no receipt {receiptId}.");
        }

        var kantara = format == KantaraFormat;
        if (!kantara && (format is not null || !AcceptsKantara(http.Request)))
        {
            return TypedResults.Ok(receipt);
        }

        var keys = receipt.Decisions.Select(d => d.Purpose).Distinct().ToList();
        var numbers = receipt.Decisions.Select(d => d.PurposeVersion).Distinct().ToList();
        var versions = await db.PurposeVersions.AsNoTracking()
            .Where(v => keys.Contains(v.PurposeKey) && numbers.Contains(v.Version))
            .ToDictionaryAsync(v => (v.PurposeKey, v.Version), cancellationToken);
        // Asked for by media type, the answer is of that type; asked for by ?format=, plain JSON.
        return TypedResults.Json(KantaraReceipt.From(receipt, versions, controller.Value),
            contentType: kantara ? "application/json; charset=utf-8" : KantaraReceipt.MediaType);
    }

    private const string ConsentApiFormat = "consentapi";
    private const string KantaraFormat = "kantara";

    private static bool AcceptsKantara(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(a =>
            a.MediaType.Equals(KantaraReceipt.MediaType, StringComparison.OrdinalIgnoreCase) && a.Quality is not 0);

    /// <summary>Recompute the customer's hash chain and say whether the ledger is intact.</summary>
    /// <remarks>Any edited, reordered or deleted event makes it answer <c>valid: false</c> with the first event that does not verify.</remarks>
    /// <param name="customerId">The business's own id for the customer.</param>
    public static async Task<Ok<LedgerVerification>> Verify(string customerId, ConsentDbContext db, CancellationToken cancellationToken)
    {
        var verifier = new ChainVerifier();
        await foreach (var e in db.ConsentEvents.AsNoTracking().Where(e => e.CustomerId == customerId)
                           .OrderBy(e => e.Seq).AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            verifier.Add(e);
            if (verifier.Broken)
            {
                break;
            }
        }

        var head = await db.LedgerHeads.AsNoTracking().FirstOrDefaultAsync(h => h.CustomerId == customerId, cancellationToken);
        verifier.CheckHead(head);
        return TypedResults.Ok(new LedgerVerification { Valid = !verifier.Broken, Events = verifier.Count, BrokenAt = verifier.BrokenAt });
    }

    internal static ConsentStateResponse ToResponse(string customerId, PurposeTerms terms, ConsentState? state, ConsentVerdict verdict) =>
        new()
        {
            CustomerId = customerId,
            Purpose = terms.Key,
            Status = verdict.Status,
            Active = verdict.Active,
            Reason = verdict.Reason,
            PurposeVersion = state?.PurposeVersion,
            CurrentVersion = terms.CurrentVersion,
            DecisionNeeded = verdict.Status is ConsentStatus.None or ConsentStatus.Expired or ConsentStatus.Outdated,
            GrantedAt = state?.Decision is Decision.Granted or Decision.Expired ? state.DecidedAt : null,
            RevokedAt = state?.Decision == Decision.Revoked ? state.DecidedAt : null,
            ExpiresAt = state?.Decision is Decision.Granted or Decision.Expired ? state.ExpiresAt : null,
        };
}
