using ConsentApi.Http;
using FluentValidation;

namespace ConsentApi.Collection;

/// <summary>Data to store under a purpose: only fields the purpose declares as data categories.</summary>
public sealed record CollectDataRequest
{
    /// <summary>Field name (a data category key of the purpose) → value.</summary>
    /// <example>{"email": "a@example.com"}</example>
    public IReadOnlyDictionary<string, string>? Fields { get; init; }
}

public sealed class CollectDataValidator : AbstractValidator<CollectDataRequest>
{
    public const int MaxFields = 100;
    public const int MaxValueLength = 4096;

    public CollectDataValidator()
    {
        RuleFor(r => r.Fields).NotNull()
            .Must(f => f is null || f.Count is >= 1 and <= MaxFields)
            .WithMessage($"'fields' must hold between 1 and {MaxFields} fields.");
        RuleForEach(r => r.Fields).ChildRules(field =>
        {
            field.RuleFor(f => f.Key).NotEmpty().MaximumLength(64).OverridePropertyName("name");
            field.RuleFor(f => f.Value).NotNull().PlainText(MaxValueLength, multiline: true).OverridePropertyName("value");
        });
    }
}

/// <summary>A stored data record (values are not echoed back).</summary>
public sealed record DataRecordResponse
{
    public required Guid Id { get; init; }

    /// <example>newsletter</example>
    public required string Purpose { get; init; }

    /// <summary>The purpose version whose notice covered the collection.</summary>
    /// <example>1</example>
    public required int PurposeVersion { get; init; }

    /// <summary>The names of the fields held (their values are encrypted at rest).</summary>
    public required IReadOnlyList<string> Fields { get; init; }

    public required DateTimeOffset CollectedAt { get; init; }

    /// <summary>When the record is deleted: collectedAt + the purpose's retentionDays.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    public static DataRecordResponse From(DataRecord r) => new()
    {
        Id = r.Id, Purpose = r.PurposeKey, PurposeVersion = r.PurposeVersion, Fields = r.FieldNames,
        CollectedAt = r.CollectedAt, ExpiresAt = r.ExpiresAt,
    };
}
