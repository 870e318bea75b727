using ConsentApi.Collection;
using ConsentApi.Consents;
using ConsentApi.Purposes;

namespace ConsentApi.Customers;

/// <summary>One purpose as it concerns the customer: the notice, their consent, and the data held under it.</summary>
public sealed record CustomerPurposeView
{
    /// <summary>The notice in force now: what is collected, why, who receives it, for how long.</summary>
    public required PurposeVersionResponse Notice { get; init; }

    /// <summary><c>active</c> or <c>retired</c>.</summary>
    public required PurposeStatus PurposeStatus { get; init; }

    /// <summary>The customer's consent, and when it expires.</summary>
    public required ConsentStateResponse Consent { get; init; }

    /// <summary>The data records held under this purpose, with their expiry.</summary>
    public required IReadOnlyList<DataRecordResponse> Records { get; init; }
}

/// <summary>What was deleted, when and why.</summary>
public sealed record DeletionResponse
{
    /// <summary>The purpose the records were collected under.</summary>
    /// <example>newsletter</example>
    public required string? Purpose { get; init; }

    /// <example>3</example>
    public required int RecordCount { get; init; }

    /// <summary><c>retention</c> (expired), <c>revocation</c> (consent withdrawn) or <c>erasure</c>.</summary>
    public required DeletionReason Reason { get; init; }

    public required DateTimeOffset DeletedAt { get; init; }

    public static DeletionResponse From(DeletionLogEntry d) =>
        new() { Purpose = d.PurposeKey, RecordCount = d.RecordCount, Reason = d.Reason, DeletedAt = d.DeletedAt };
}

/// <summary>A breach that touched the customer's data (the breach register fills this).</summary>
public sealed record CustomerBreach
{
    public required Guid Id { get; init; }
    public required DateTimeOffset DetectedAt { get; init; }

    /// <example>A misconfigured bucket exposed newsletter sign-ups.</example>
    public required string Description { get; init; }
}

/// <summary>Customer 360: everything held about one customer, on one page.</summary>
public record Customer360Response
{
    /// <example>c-42</example>
    public required string CustomerId { get; init; }

    public required DateTimeOffset GeneratedAt { get; init; }

    /// <summary>Every active purpose, and every retired one the customer decided on or has data under.</summary>
    public required IReadOnlyList<CustomerPurposeView> Purposes { get; init; }

    /// <summary>The consent ledger, newest first.</summary>
    public required IReadOnlyList<ConsentEventResponse> History { get; init; }

    /// <summary>The deletion log, newest first.</summary>
    public required IReadOnlyList<DeletionResponse> Deletions { get; init; }

    /// <summary>Breaches that touched this customer's data.</summary>
    public required IReadOnlyList<CustomerBreach> Breaches { get; init; }
}

/// <summary>A data record with its values, for the customer's own export.</summary>
public sealed record ExportedRecord
{
    public required Guid Id { get; init; }

    /// <example>newsletter</example>
    public required string Purpose { get; init; }

    /// <example>1</example>
    public required int PurposeVersion { get; init; }

    /// <summary>The values held, decrypted for the customer.</summary>
    public required IReadOnlyDictionary<string, string> Fields { get; init; }

    public required DateTimeOffset CollectedAt { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>A consent status in the W3C Data Privacy Vocabulary.</summary>
public sealed record DpvStatus
{
    /// <example>newsletter</example>
    public required string Purpose { get; init; }

    /// <summary>dpv:ConsentGiven, dpv:ConsentWithdrawn, dpv:ConsentExpired, dpv:ConsentInvalidated or dpv:ConsentUnknown.</summary>
    /// <example>dpv:ConsentGiven</example>
    public required string Status { get; init; }
}

/// <summary>The portable export (GDPR Art. 20): everything in the Customer 360, every receipt, and the data itself.</summary>
public sealed record CustomerExport
{
    /// <summary>The export format and its version.</summary>
    /// <example>consentapi-export/1</example>
    public required string Format { get; init; }

    /// <summary>The vocabulary the <c>dpvStatuses</c> use.</summary>
    /// <example>https://w3id.org/dpv#</example>
    public required string DpvNamespace { get; init; }

    public required Customer360Response Customer { get; init; }
    public required IReadOnlyList<DpvStatus> DpvStatuses { get; init; }
    public required IReadOnlyList<ExportedRecord> Data { get; init; }
    public required IReadOnlyList<ReceiptResponse> Receipts { get; init; }

    public static string Dpv(ConsentStatus status) => status switch
    {
        ConsentStatus.Granted => "dpv:ConsentGiven",
        ConsentStatus.Revoked => "dpv:ConsentWithdrawn",
        ConsentStatus.Expired => "dpv:ConsentExpired",
        ConsentStatus.Outdated => "dpv:ConsentInvalidated",
        _ => "dpv:ConsentUnknown",
    };
}
