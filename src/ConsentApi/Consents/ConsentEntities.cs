using ConsentApi.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ConsentApi.Consents;

/// <summary><c>expired</c> is written by the API when a grant outlives its lifetime, so that the ledger tells the whole story.</summary>
public enum Decision { Granted, Revoked, Expired }

/// <summary>Where a decision came from. <c>gpc</c> and <c>system</c> are written by the API itself.</summary>
public enum ConsentSource { Web, Mobile, Api, Import, Gpc, System }

/// <summary>
/// One entry of the append-only ledger. Never updated or deleted; <see cref="Hash"/> chains it to
/// the customer's previous event so that any edit or removal of history is detectable.
/// </summary>
public sealed class ConsentEvent
{
    public required string CustomerId { get; init; }

    /// <summary>Position in the customer's chain, from 1 with no gaps.</summary>
    public long Seq { get; init; }

    public Guid Id { get; init; }
    public required string PurposeKey { get; init; }
    public int PurposeVersion { get; init; }
    public Decision Decision { get; init; }
    public DateTimeOffset OccurredAt { get; init; }
    public ConsentSource Source { get; init; }
    public string? CollectionPoint { get; init; }
    public Guid ReceiptId { get; init; }
    public string? PreviousHash { get; init; }
    public required string Hash { get; init; }
}

/// <summary>
/// Who was on the other end of a decision (IP address, user agent). Kept apart from the event so
/// that erasure can scrub it while the hashed event, the minimal proof, stays.
/// </summary>
public sealed class ConsentEvidence
{
    public required string CustomerId { get; init; }
    public Guid EventId { get; init; }
    public string? IpAddress { get; set; }
    public string? UserAgent { get; set; }
}

/// <summary>The current decision per (customer, purpose): the fold of the ledger, written in the same transaction as each event.</summary>
public sealed class ConsentState
{
    public required string CustomerId { get; init; }
    public required string PurposeKey { get; init; }
    public Decision Decision { get; set; }
    public int PurposeVersion { get; set; }
    public DateTimeOffset DecidedAt { get; set; }

    /// <summary>When the current grant lapses (from the granted version's lifetime); null when it does not, or when revoked.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    public ConsentSource Source { get; set; }
    public Guid LastEventId { get; set; }

    /// <summary>When a Global Privacy Control signal was first recorded for this purpose; later signals change nothing.</summary>
    public DateTimeOffset? GpcSignalAt { get; set; }
}

public enum DeletionReason { Retention, Revocation, Erasure }

/// <summary>What was deleted about a customer, when and why: the customer may see it (Customer 360, export).</summary>
public sealed class DeletionLogEntry
{
    public required string CustomerId { get; init; }
    public Guid Id { get; init; }

    /// <summary>The purpose the records were collected under; null for a summary entry.</summary>
    public string? PurposeKey { get; init; }

    public int RecordCount { get; init; }
    public DeletionReason Reason { get; init; }
    public DateTimeOffset DeletedAt { get; init; }
}

/// <summary>The head of a customer's hash chain; locking this row serialises appends per customer.</summary>
public sealed class LedgerHead
{
    public required string CustomerId { get; init; }
    public long LastSeq { get; set; }
    public string? LastHash { get; set; }
}

/// <summary>One save of decisions, as handed to the customer. Its decisions are the events that carry its id.</summary>
public sealed class Receipt
{
    public required string CustomerId { get; init; }
    public Guid Id { get; init; }
    public DateTimeOffset IssuedAt { get; init; }
    public ConsentSource Source { get; init; }
    public string? CollectionPoint { get; init; }
}

/// <summary>A save made with an <c>Idempotency-Key</c>: its retry answers the same receipt.</summary>
public sealed class IdempotencyRecord
{
    public required string CustomerId { get; init; }
    public required string Key { get; init; }
    public required string RequestHash { get; init; }
    public Guid ReceiptId { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
}

// Every table is keyed by customer_id first, so that a distributed PostgreSQL can shard by it.
internal sealed class ConsentEntitiesConfiguration :
    IEntityTypeConfiguration<ConsentEvent>, IEntityTypeConfiguration<ConsentEvidence>, IEntityTypeConfiguration<ConsentState>,
    IEntityTypeConfiguration<LedgerHead>, IEntityTypeConfiguration<Receipt>, IEntityTypeConfiguration<IdempotencyRecord>,
    IEntityTypeConfiguration<DeletionLogEntry>
{
    public void Configure(EntityTypeBuilder<DeletionLogEntry> builder)
    {
        builder.HasKey(d => new { d.CustomerId, d.Id });
        builder.Property(d => d.CustomerId).HasMaxLength(CustomerIdLength);
        builder.Property(d => d.PurposeKey).HasMaxLength(64);
        builder.Property(d => d.Reason).HasConversion(KebabCase.Converter<DeletionReason>()).HasMaxLength(16);
    }

    private const int CustomerIdLength = Http.ValidationRules.CustomerIdMaxLength;

    public void Configure(EntityTypeBuilder<ConsentEvent> builder)
    {
        builder.HasKey(e => new { e.CustomerId, e.Seq });
        builder.Property(e => e.CustomerId).HasMaxLength(CustomerIdLength);
        builder.HasIndex(e => new { e.CustomerId, e.Id }).IsUnique();
        builder.HasIndex(e => new { e.CustomerId, e.ReceiptId });
        builder.Property(e => e.PurposeKey).HasMaxLength(64);
        builder.Property(e => e.Decision).HasConversion(KebabCase.Converter<Decision>()).HasMaxLength(16);
        builder.Property(e => e.Source).HasConversion(KebabCase.Converter<ConsentSource>()).HasMaxLength(16);
        builder.Property(e => e.CollectionPoint).HasMaxLength(128);
        builder.Property(e => e.PreviousHash).HasMaxLength(64);
        builder.Property(e => e.Hash).HasMaxLength(64);
    }

    public void Configure(EntityTypeBuilder<ConsentEvidence> builder)
    {
        builder.HasKey(e => new { e.CustomerId, e.EventId });
        builder.Property(e => e.CustomerId).HasMaxLength(CustomerIdLength);
        builder.Property(e => e.IpAddress).HasMaxLength(64);
        builder.Property(e => e.UserAgent).HasMaxLength(ConsentLedger.UserAgentMaxLength);
    }

    public void Configure(EntityTypeBuilder<ConsentState> builder)
    {
        builder.HasKey(s => new { s.CustomerId, s.PurposeKey });
        builder.Property(s => s.CustomerId).HasMaxLength(CustomerIdLength);
        builder.Property(s => s.PurposeKey).HasMaxLength(64);
        builder.Property(s => s.Decision).HasConversion(KebabCase.Converter<Decision>()).HasMaxLength(16);
        builder.Property(s => s.Source).HasConversion(KebabCase.Converter<ConsentSource>()).HasMaxLength(16);
        // The expiry sweep looks only at live grants.
        builder.HasIndex(s => s.ExpiresAt).HasFilter("decision = 'granted'");
    }

    public void Configure(EntityTypeBuilder<LedgerHead> builder)
    {
        builder.HasKey(h => h.CustomerId);
        builder.Property(h => h.CustomerId).HasMaxLength(CustomerIdLength);
        builder.Property(h => h.LastHash).HasMaxLength(64);
    }

    public void Configure(EntityTypeBuilder<Receipt> builder)
    {
        builder.HasKey(r => new { r.CustomerId, r.Id });
        builder.Property(r => r.CustomerId).HasMaxLength(CustomerIdLength);
        builder.Property(r => r.Source).HasConversion(KebabCase.Converter<ConsentSource>()).HasMaxLength(16);
        builder.Property(r => r.CollectionPoint).HasMaxLength(128);
    }

    public void Configure(EntityTypeBuilder<IdempotencyRecord> builder)
    {
        builder.HasKey(r => new { r.CustomerId, r.Key });
        builder.Property(r => r.CustomerId).HasMaxLength(CustomerIdLength);
        builder.Property(r => r.Key).HasMaxLength(ConsentLedger.IdempotencyKeyMaxLength);
        builder.Property(r => r.RequestHash).HasMaxLength(64);
    }
}
