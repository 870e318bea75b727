using System.Text.Json.Serialization;

namespace ConsentApi.Purposes;

/// <summary>One kind of data collected under a purpose.</summary>
public sealed record DataCategoryRequest
{
    /// <summary>The field name that data collection uses for this category.</summary>
    /// <example>email</example>
    public string? Key { get; init; }

    /// <summary>What it is, in the customer's language.</summary>
    /// <example>Your email address</example>
    public string? Description { get; init; }

    /// <summary>A GDPR Art. 9 special category (health, ethnicity, religion, sexual orientation, biometrics, …).</summary>
    /// <example>false</example>
    public bool? Sensitive { get; init; }
}

/// <summary>Who receives the data.</summary>
public sealed record RecipientRequest
{
    /// <summary>An internal team or a named third party.</summary>
    /// <example>Mailer Ltd</example>
    public string? Name { get; init; }

    /// <summary>True when the recipient is outside the business.</summary>
    /// <example>true</example>
    public bool? ThirdParty { get; init; }
}

/// <summary>The notice fields of a purpose: what is collected, why, who gets it, for how long.</summary>
public abstract record PurposeNoticeRequest
{
    /// <summary>Short name shown to the customer.</summary>
    /// <example>Newsletter</example>
    public string? Name { get; init; }

    /// <summary>Why the data is collected, in plain language.</summary>
    /// <example>We email you our news weekly.</example>
    public string? Description { get; init; }

    /// <summary>The data collected under this purpose; data collection accepts only these keys.</summary>
    public IReadOnlyList<DataCategoryRequest>? DataCategories { get; init; }

    /// <summary>Who gets access; empty when only the business itself does. Defaults to empty.</summary>
    public IReadOnlyList<RecipientRequest>? Recipients { get; init; }

    /// <summary>How many days data collected under this purpose is kept.</summary>
    /// <example>365</example>
    public int? RetentionDays { get; init; }

    /// <summary>The GDPR Art. 6(1) lawful basis.</summary>
    /// <example>consent</example>
    public LegalBasis? LegalBasis { get; init; }

    /// <summary><c>opt-in</c>: nothing is collected until the customer grants; <c>opt-out</c>: collected until they revoke.</summary>
    /// <example>opt-in</example>
    public ConsentModel? ConsentModel { get; init; }

    /// <summary>Days after which a grant expires and must be renewed; null (the default) means no expiry.</summary>
    /// <example>395</example>
    public int? ConsentLifetimeDays { get; init; }

    /// <summary>Whether a Global Privacy Control signal (<c>Sec-GPC: 1</c>) opts the customer out. Defaults to false.</summary>
    /// <example>false</example>
    public bool? HonorsGpc { get; init; }

    /// <summary>Whether the data feeds profiling or automated decisions about the person. Defaults to false.</summary>
    /// <example>false</example>
    public bool? AutomatedDecisions { get; init; }

    /// <summary>What happens to collected data when consent is withdrawn. Defaults to <c>delete</c>.</summary>
    /// <example>delete</example>
    public OnRevoke? OnRevoke { get; init; }
}

/// <summary>A new purpose.</summary>
public sealed record CreatePurposeRequest : PurposeNoticeRequest
{
    /// <summary>Stable slug; it never changes.</summary>
    /// <example>newsletter</example>
    public string? Key { get; init; }
}

/// <summary>The full new notice of a purpose (the key comes from the route).</summary>
public sealed record UpdatePurposeRequest : PurposeNoticeRequest
{
    /// <summary>When true, grants of earlier versions stop counting and customers must decide again.</summary>
    /// <example>false</example>
    public bool? RequiresReconsent { get; init; }
}

/// <summary>One immutable version of a purpose's notice.</summary>
public record PurposeVersionResponse
{
    /// <example>newsletter</example>
    public required string Key { get; init; }

    /// <summary>The version number; a consent always names the version the customer saw.</summary>
    /// <example>1</example>
    public required int Version { get; init; }

    /// <example>Newsletter</example>
    public required string Name { get; init; }

    /// <example>We email you our news weekly.</example>
    public required string Description { get; init; }

    public required IReadOnlyList<DataCategory> DataCategories { get; init; }
    public required IReadOnlyList<Recipient> Recipients { get; init; }

    /// <example>365</example>
    public required int RetentionDays { get; init; }

    public required LegalBasis LegalBasis { get; init; }
    public required ConsentModel ConsentModel { get; init; }

    /// <example>395</example>
    public required int? ConsentLifetimeDays { get; init; }

    public required bool HonorsGpc { get; init; }
    public required bool AutomatedDecisions { get; init; }
    public required OnRevoke OnRevoke { get; init; }

    /// <summary>Whether this version made grants of earlier versions stop counting.</summary>
    public required bool RequiresReconsent { get; init; }

    /// <summary>When this version was created (for a purpose: when the purpose was created).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    public static PurposeVersionResponse From(PurposeVersion v) => new()
    {
        Key = v.PurposeKey, Version = v.Version, Name = v.Name, Description = v.Description,
        DataCategories = v.DataCategories, Recipients = v.Recipients, RetentionDays = v.RetentionDays,
        LegalBasis = v.LegalBasis, ConsentModel = v.ConsentModel, ConsentLifetimeDays = v.ConsentLifetimeDays,
        HonorsGpc = v.HonorsGpc, AutomatedDecisions = v.AutomatedDecisions, OnRevoke = v.OnRevoke,
        RequiresReconsent = v.RequiresReconsent, CreatedAt = v.CreatedAt,
    };
}

/// <summary>A purpose as published: its current notice and lifecycle.</summary>
public sealed record PurposeResponse : PurposeVersionResponse
{
    /// <summary><c>active</c>, or <c>retired</c>: no new consents or collection.</summary>
    [JsonPropertyOrder(1)]
    public required PurposeStatus Status { get; init; }

    /// <summary>When the purpose last changed (a new version, or retirement).</summary>
    [JsonPropertyOrder(2)]
    public required DateTimeOffset UpdatedAt { get; init; }

    public static PurposeResponse From(Purpose purpose, PurposeVersion current) => new()
    {
        Key = purpose.Key, Version = current.Version, Name = current.Name, Description = current.Description,
        DataCategories = current.DataCategories, Recipients = current.Recipients, RetentionDays = current.RetentionDays,
        LegalBasis = current.LegalBasis, ConsentModel = current.ConsentModel, ConsentLifetimeDays = current.ConsentLifetimeDays,
        HonorsGpc = current.HonorsGpc, AutomatedDecisions = current.AutomatedDecisions, OnRevoke = current.OnRevoke,
        RequiresReconsent = current.RequiresReconsent, CreatedAt = purpose.CreatedAt,
        Status = purpose.Status, UpdatedAt = purpose.UpdatedAt,
    };
}
