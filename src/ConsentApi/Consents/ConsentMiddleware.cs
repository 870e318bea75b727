using ConsentApi.Http;

namespace ConsentApi.Consents;

/// <summary>Endpoint metadata: this endpoint collects data for a purpose, for the customer in a route value.</summary>
/// <param name="Purpose">The purpose key; null to take it from the <c>{purpose}</c> route value.</param>
/// <param name="CustomerRouteValue">The route value that holds the customer id.</param>
public sealed record RequiresConsentMetadata(string? Purpose, string CustomerRouteValue = "customerId");

public static class ConsentEnforcement
{
    /// <summary>Refuse the request (403 consent-required) unless the customer's consent for <paramref name="purpose"/> is active.</summary>
    public static TBuilder RequiresConsent<TBuilder>(this TBuilder builder, string? purpose = null, string customerRouteValue = "customerId")
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiresConsentMetadata(purpose, customerRouteValue));

    /// <summary>
    /// The consent middleware: for an endpoint that declares a purpose, it resolves the customer and
    /// the purpose and answers 403 <c>consent-required</c> before the endpoint runs when consent is
    /// not active. It is the fast refusal; ConsentApi's own collection re-checks inside its
    /// transaction, because a check and a later write can race a revocation.
    /// </summary>
    public static IApplicationBuilder UseConsentEnforcement(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var metadata = context.GetEndpoint()?.Metadata.GetMetadata<RequiresConsentMetadata>();
        if (metadata is null)
        {
            await next(context);
            return;
        }

        var customerId = context.GetRouteValue(metadata.CustomerRouteValue) as string;
        var purpose = metadata.Purpose ?? context.GetRouteValue("purpose") as string;
        if (string.IsNullOrEmpty(customerId) || ValidationRules.CheckCustomerId(customerId) is not null || string.IsNullOrEmpty(purpose))
        {
            await next(context); // the endpoint's own validation answers the bad request
            return;
        }

        var checker = context.RequestServices.GetRequiredService<ConsentChecker>();
        var check = await checker.CheckAsync(customerId, purpose, RequestSignals.From(context), context.RequestAborted);
        if (check.Terms is null)
        {
            await Problems.NotFound($"There is no purpose '{Purposes.PurposeEndpoints.Shorten(purpose)}'.").ExecuteAsync(context);
            return;
        }

        if (!check.Verdict!.Value.Active)
        {
            await ConsentRequired(customerId, check.Terms, check.Verdict.Value).ExecuteAsync(context);
            return;
        }

        await next(context);
    });

    /// <summary>
    /// An endpoint that declares a purpose that does not exist is a start-up error, not a runtime
    /// surprise: the start fails naming the endpoints and purposes. (Route-value purposes are
    /// checked per request.) Create the purpose first, then deploy the code that collects for it.
    /// </summary>
    public static async Task CheckDeclaredPurposesAsync(this WebApplication app)
    {
        var endpoints = ((IEndpointRouteBuilder)app).DataSources.SelectMany(source => source.Endpoints);
        await using var scope = app.Services.CreateAsyncScope();
        await CheckDeclaredPurposesAsync(endpoints, scope.ServiceProvider.GetRequiredService<Data.ConsentDbContext>(),
            app.Lifetime.ApplicationStopping);
    }

    internal static async Task CheckDeclaredPurposesAsync(IEnumerable<Endpoint> endpoints, Data.ConsentDbContext db,
        CancellationToken cancellationToken)
    {
        var declared = endpoints
            .Select(e => (Endpoint: e.DisplayName ?? "(unnamed)", e.Metadata.GetMetadata<RequiresConsentMetadata>()?.Purpose))
            .Where(d => d.Purpose is not null)
            .ToList();
        if (declared.Count == 0)
        {
            return;
        }

        var keys = declared.Select(d => d.Purpose!).Distinct().ToList();
        var existing = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(
            db.Purposes.Where(p => keys.Contains(p.Key)).Select(p => p.Key), cancellationToken);
        var missing = declared.Where(d => !existing.Contains(d.Purpose!)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException("Endpoints require consent for purposes that do not exist: "
                + string.Join("; ", missing.Select(m => $"{m.Endpoint} → '{m.Purpose}'"))
                + ". Create the purposes (POST /api/v1/purposes) before starting code that collects for them.");
        }
    }

    /// <summary>The 403 that names the purpose, the customer's status and how to obtain consent.</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult ConsentRequired(string customerId, PurposeTerms terms, ConsentVerdict verdict) =>
        terms.Status == Purposes.PurposeStatus.Retired
            // No consent can be obtained for a retired purpose: the request refers to something unusable.
            ? Problems.Unprocessable(new Dictionary<string, string[]> { ["purpose"] = [$"The purpose '{terms.Key}' is retired."] },
                "Nothing may be collected for a retired purpose.")
            : TypedResults.Problem(
            detail: $"No active consent for '{terms.Key}': {verdict.Reason}",
            statusCode: StatusCodes.Status403Forbidden,
            title: "Consent required",
            type: ProblemTypes.ConsentRequired,
            extensions: new Dictionary<string, object?>
            {
                ["purpose"] = terms.Key,
                ["consentStatus"] = Data.KebabCase.Name(verdict.Status),
                ["currentVersion"] = terms.CurrentVersion,
                ["obtainConsent"] = new
                {
                    method = "POST",
                    href = $"/api/v1/customers/{Uri.EscapeDataString(customerId)}/consents",
                    body = new { decisions = new[] { new { purpose = terms.Key, granted = true, purposeVersion = terms.CurrentVersion } } },
                    notice = $"/api/v1/purposes/{terms.Key}",
                },
            });
}
