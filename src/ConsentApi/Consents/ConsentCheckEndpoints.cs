using ConsentApi.Auth;
using ConsentApi.Http;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentApi.Consents;

/// <summary>One (customer, purpose) pair to check.</summary>
public sealed record ConsentCheckRequest
{
    /// <example>c-42</example>
    public string? CustomerId { get; init; }

    /// <example>newsletter</example>
    public string? Purpose { get; init; }
}

/// <summary>Up to 1,000 pairs checked in one call.</summary>
public sealed record ConsentChecksRequest
{
    public IReadOnlyList<ConsentCheckRequest>? Checks { get; init; }
}

public sealed class ConsentCheckValidator : AbstractValidator<ConsentCheckRequest>
{
    public ConsentCheckValidator()
    {
        RuleFor(c => c.CustomerId).NotEmpty().MaximumLength(ValidationRules.CustomerIdMaxLength)
            .Must(id => id is null || ValidationRules.CheckCustomerId(id) is null).WithMessage("'{PropertyName}' is not a customer id.");
        RuleFor(c => c.Purpose).NotEmpty().MaximumLength(64).Matches(ValidationRules.KeyPattern)
            .WithMessage("'{PropertyName}' is not a purpose key.");
    }
}

public sealed class ConsentChecksValidator : AbstractValidator<ConsentChecksRequest>
{
    public const int MaxChecks = 1000;

    public ConsentChecksValidator()
    {
        RuleFor(r => r.Checks).NotNull().Count(1, MaxChecks);
        RuleForEach(r => r.Checks).NotNull().SetValidator(new ConsentCheckValidator());
    }
}

/// <summary>The answer for one pair.</summary>
public sealed record ConsentCheckResult
{
    /// <example>c-42</example>
    public required string CustomerId { get; init; }

    /// <example>newsletter</example>
    public required string Purpose { get; init; }

    /// <summary>Whether data may be collected for this purpose now; false for an unknown purpose.</summary>
    public required bool Active { get; init; }

    /// <summary>The consent status; <c>unknown-purpose</c> when the purpose does not exist.</summary>
    /// <example>granted</example>
    public required string Status { get; init; }

    /// <example>The customer granted consent.</example>
    public required string Reason { get; init; }
}

/// <summary>The answers, in the order asked.</summary>
public sealed record ConsentChecksResponse
{
    public required IReadOnlyList<ConsentCheckResult> Results { get; init; }
}

public static class ConsentCheckEndpoints
{
    public static RouteGroupBuilder MapConsentChecks(this RouteGroupBuilder api)
    {
        api.MapPost("/consent-checks", Check).RequireAuthorization(Roles.ServicePolicy).WithValidation()
            .WithTags("Consents").WithName("CheckConsents");
        return api;
    }

    /// <summary>Ask before collecting, for many customers and purposes at once (up to 1,000 pairs).</summary>
    /// <remarks>Answers in the order asked. An unknown purpose is not an error: it is never active. <c>Sec-GPC: 1</c> is honoured as for a single check.</remarks>
    public static async Task<Ok<ConsentChecksResponse>> Check(ConsentChecksRequest request, ConsentChecker checker,
        HttpContext http, CancellationToken cancellationToken)
    {
        var pairs = request.Checks!.Select(c => (c.CustomerId!, c.Purpose!)).ToList();
        // A GPC signal speaks for the one person whose browser sent it: a batch about many customers
        // (a back-end asking) records nothing, though it still judges opt-out purposes as opted out.
        var signals = RequestSignals.From(http);
        var oneCustomer = pairs.Select(p => p.Item1).Distinct(StringComparer.Ordinal).Count() == 1;
        var checks = await checker.CheckManyAsync(pairs, signals, cancellationToken, recordGpc: oneCustomer);
        return TypedResults.Ok(new ConsentChecksResponse
        {
            Results = checks.Select(c => new ConsentCheckResult
            {
                CustomerId = c.CustomerId,
                Purpose = c.Purpose,
                Active = c.Verdict?.Active ?? false,
                Status = c.Verdict is { } v ? Data.KebabCase.Name(v.Status) : "unknown-purpose",
                Reason = c.Verdict?.Reason ?? "There is no such purpose.",
            }).ToList(),
        });
    }
}
