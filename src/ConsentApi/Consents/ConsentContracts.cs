using ConsentApi.Http;
using FluentValidation;

namespace ConsentApi.Consents;

/// <summary>One decision of a customer about one purpose.</summary>
public sealed record DecisionRequest
{
    /// <summary>The purpose key.</summary>
    /// <example>newsletter</example>
    public string? Purpose { get; init; }

    /// <summary>True to grant consent, false to withdraw (or refuse) it.</summary>
    /// <example>true</example>
    public bool? Granted { get; init; }

    /// <summary>The version of the notice the customer saw. Required to grant; a withdrawal may omit it (the current version is recorded).</summary>
    /// <example>1</example>
    public int? PurposeVersion { get; init; }
}

/// <summary>A customer's decisions, saved together in one transaction.</summary>
public sealed record SaveConsentsRequest
{
    /// <summary>One decision per purpose.</summary>
    public IReadOnlyList<DecisionRequest>? Decisions { get; init; }

    /// <summary>Where the decisions were made: <c>web</c>, <c>mobile</c>, <c>api</c> or <c>import</c>.</summary>
    /// <example>web</example>
    public ConsentSource? Source { get; init; }

    /// <summary>Which form, banner or screen collected the decisions.</summary>
    /// <example>signup-form</example>
    public string? CollectionPoint { get; init; }
}

public sealed class DecisionValidator : AbstractValidator<DecisionRequest>
{
    public DecisionValidator()
    {
        RuleFor(d => d.Purpose).NotEmpty().MaximumLength(64).Matches(ValidationRules.KeyPattern)
            .WithMessage("'{PropertyName}' is not a purpose key.");
        RuleFor(d => d.Granted).NotNull();
        RuleFor(d => d.PurposeVersion).NotNull().When(d => d.Granted == true)
            .WithMessage("'{PropertyName}' is required to grant: the version of the notice the customer saw.");
        RuleFor(d => d.PurposeVersion).InclusiveBetween(1, int.MaxValue);
    }
}

public sealed class SaveConsentsValidator : AbstractValidator<SaveConsentsRequest>
{
    public const int MaxDecisions = 100;
    public const int CollectionPointMaxLength = 128;

    public SaveConsentsValidator()
    {
        RuleFor(r => r.Decisions).NotNull().Count(1, MaxDecisions)
            .Must(d => d is null || d.Where(x => x?.Purpose is not null).GroupBy(x => x.Purpose).All(g => g.Count() == 1))
            .WithMessage("Each purpose may appear only once in a save.");
        RuleForEach(r => r.Decisions).NotNull().SetValidator(new DecisionValidator());
        RuleFor(r => r.Source).NotNull().IsInEnum()
            .Must(s => s is not (ConsentSource.Gpc or ConsentSource.System))
            .WithMessage("'{PropertyName}' must be one of web, mobile, api, import; gpc and system are recorded by the API itself.");
        RuleFor(r => r.CollectionPoint).PlainText(CollectionPointMaxLength);
    }
}

/// <summary>One decision as recorded on a receipt.</summary>
public sealed record ReceiptDecision
{
    /// <example>newsletter</example>
    public required string Purpose { get; init; }

    /// <example>1</example>
    public required int PurposeVersion { get; init; }

    /// <example>true</example>
    public required bool Granted { get; init; }

    /// <summary>The ledger event that records this decision.</summary>
    public required Guid EventId { get; init; }

    /// <summary>The event's hash in the customer's chain (SHA-256, hex).</summary>
    /// <example>9f2c0a0c5b8e4a7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d</example>
    public required string Hash { get; init; }

    public static ReceiptDecision From(ConsentEvent e) => new()
    {
        Purpose = e.PurposeKey, PurposeVersion = e.PurposeVersion, Granted = e.Decision == Decision.Granted, EventId = e.Id, Hash = e.Hash,
    };
}

/// <summary>The customer's proof of a save (after the Kantara Consent Receipt and ISO/IEC TS 27560).</summary>
public sealed record ReceiptResponse
{
    public required Guid ReceiptId { get; init; }

    /// <example>c-42</example>
    public required string CustomerId { get; init; }

    public required DateTimeOffset IssuedAt { get; init; }
    public required ConsentSource Source { get; init; }

    /// <example>signup-form</example>
    public required string? CollectionPoint { get; init; }

    public required IReadOnlyList<ReceiptDecision> Decisions { get; init; }
}

/// <summary>The current consent of one customer for one purpose.</summary>
public sealed record ConsentStateResponse
{
    /// <example>c-42</example>
    public required string CustomerId { get; init; }

    /// <example>newsletter</example>
    public required string Purpose { get; init; }

    /// <summary><c>none</c>, <c>granted</c>, <c>revoked</c>, <c>expired</c> or <c>outdated</c> (granted for a version that a later one superseded with re-consent).</summary>
    public required ConsentStatus Status { get; init; }

    /// <summary>Whether data may be collected for this purpose now.</summary>
    public required bool Active { get; init; }

    /// <summary>Why it is active or not, in words.</summary>
    /// <example>The customer granted consent.</example>
    public required string Reason { get; init; }

    /// <summary>The version the last decision was about; null when there is none.</summary>
    /// <example>1</example>
    public required int? PurposeVersion { get; init; }

    /// <summary>The purpose's current version: the notice to show when asking again.</summary>
    /// <example>1</example>
    public required int CurrentVersion { get; init; }

    /// <summary>True when the customer should be asked (again): no decision, or one that expired or is outdated.</summary>
    public required bool DecisionNeeded { get; init; }

    public required DateTimeOffset? GrantedAt { get; init; }
    public required DateTimeOffset? RevokedAt { get; init; }
    public required DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>One entry of the consent ledger.</summary>
public sealed record ConsentEventResponse
{
    public required Guid Id { get; init; }

    /// <example>c-42</example>
    public required string CustomerId { get; init; }

    /// <example>newsletter</example>
    public required string PurposeKey { get; init; }

    /// <example>1</example>
    public required int PurposeVersion { get; init; }

    public required Decision Decision { get; init; }
    public required DateTimeOffset OccurredAt { get; init; }
    public required ConsentSource Source { get; init; }

    /// <example>signup-form</example>
    public required string? CollectionPoint { get; init; }

    public required Guid ReceiptId { get; init; }

    /// <summary>Position in the customer's chain, from 1.</summary>
    /// <example>1</example>
    public required long Sequence { get; init; }

    /// <summary>The previous event's hash; null for the customer's first event.</summary>
    public required string? PreviousHash { get; init; }

    /// <summary>SHA-256 (hex) over this event's core fields and <c>previousHash</c>.</summary>
    /// <example>9f2c0a0c5b8e4a7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d</example>
    public required string Hash { get; init; }

    public static ConsentEventResponse From(ConsentEvent e) => new()
    {
        Id = e.Id, CustomerId = e.CustomerId, PurposeKey = e.PurposeKey, PurposeVersion = e.PurposeVersion,
        Decision = e.Decision, OccurredAt = e.OccurredAt, Source = e.Source, CollectionPoint = e.CollectionPoint,
        ReceiptId = e.ReceiptId, Sequence = e.Seq, PreviousHash = e.PreviousHash, Hash = e.Hash,
    };
}

/// <summary>The result of recomputing a customer's hash chain.</summary>
public sealed record LedgerVerification
{
    /// <summary>True when every event verifies and the chain reaches its head.</summary>
    public required bool Valid { get; init; }

    /// <summary>How many events verified before any break.</summary>
    /// <example>12</example>
    public required long Events { get; init; }

    /// <summary>The first event that does not verify; null when valid (or when events after the last one were removed).</summary>
    public required Guid? BrokenAt { get; init; }
}
