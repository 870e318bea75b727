using ConsentApi.Auth;
using ConsentApi.Consents;
using ConsentApi.Data;
using ConsentApi.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Collection;

/// <summary>Consent-conditioned data collection, and what is held.</summary>
public static class CollectionEndpoints
{
    public static RouteGroupBuilder MapCollection(this RouteGroupBuilder customers)
    {
        var group = customers.MapGroup("").WithTags("Data collection");
        group.MapPost("/data/{purpose}", Collect).RequireAuthorization(Roles.ServicePolicy).RequiresConsent()
            .WithValidation().WithName("CollectData");
        group.MapGet("/data", List).RequireAuthorization(Roles.AdminPolicy).WithName("ListData");
        return group;
    }

    /// <summary>Store data collected under a purpose; refused unless the customer's consent is active.</summary>
    /// <remarks>
    /// Only fields the purpose's current version declares are accepted: any other field refuses the
    /// whole record (422 <c>undeclared-fields</c>). Without active consent: 403 <c>consent-required</c>,
    /// naming how to obtain it. Sensitive categories need an explicit grant of a version that declares
    /// them. Consent is re-checked inside the storing transaction, so a collection racing a revocation
    /// either commits before it or is refused. Values are encrypted at rest and not echoed back.
    /// </remarks>
    /// <param name="customerId">The business's own id for the customer.</param>
    /// <param name="purpose">The purpose the data is collected for.</param>
    public static async Task<Results<Created<DataRecordResponse>, ProblemHttpResult>> Collect(string customerId, string purpose, CollectDataRequest request,
        DataCollector collector, HttpContext http, CancellationToken cancellationToken)
    {
        try
        {
            var record = await collector.CollectAsync(customerId, purpose, request.Fields!, ConsentRules.HasGpcSignal(http.Request), cancellationToken);
            return TypedResults.Created($"/api/v1/customers/{Uri.EscapeDataString(customerId)}/data", DataRecordResponse.From(record));
        }
        catch (ConsentRequiredException refused)
        {
            return refused.ToResult();
        }
    }

    /// <summary>The data records held about a customer, with purpose and expiry (not the values).</summary>
    /// <param name="customerId">The business's own id for the customer.</param>
    /// <param name="cursor">From the previous page's <c>nextCursor</c>.</param>
    /// <param name="limit">Page size, 1–500 (default 50).</param>
    public static async Task<Results<Ok<ListResponse<DataRecordResponse>>, ValidationProblem>> List(string customerId,
        ConsentDbContext db, TimeProvider clock, CancellationToken cancellationToken, [FromQuery] string? cursor = null, [FromQuery] int? limit = null)
    {
        var (take, after, problem) = Paging.Read(cursor, limit, p => Guid.TryParse(p, out _));
        if (problem is not null)
        {
            return problem;
        }

        var now = clock.UtcNow(); // records past expiry are gone for everyone even before the sweeper deletes them
        var query = db.DataRecords.AsNoTracking().Where(r => r.CustomerId == customerId && r.ExpiresAt > now);
        if (after is not null)
        {
            var last = Guid.Parse(after);
            query = query.Where(r => r.Id.CompareTo(last) > 0);
        }

        var page = await query.OrderBy(r => r.Id).Take(take + 1).ToListAsync(cancellationToken);
        var items = page.Take(take).Select(DataRecordResponse.From).ToList();
        var next = page.Count > take ? Paging.Encode(items[^1].Id.ToString()) : null;
        return TypedResults.Ok(new ListResponse<DataRecordResponse>(items, next));
    }
}
