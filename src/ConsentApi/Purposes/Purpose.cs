using System.Text.Json;
using ConsentApi.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ConsentApi.Purposes;

public enum PurposeStatus { Active, Retired }

public enum ConsentModel { OptIn, OptOut }

public enum OnRevoke { Delete, Retain }

/// <summary>The lawful bases of GDPR Art. 6(1).</summary>
public enum LegalBasis { Consent, Contract, LegalObligation, VitalInterests, PublicTask, LegitimateInterests }

/// <summary>
/// A purpose: its stable key and lifecycle. What the customer is told lives in its immutable
/// <see cref="PurposeVersion"/>s; <see cref="CurrentVersion"/> is the one shown now.
/// </summary>
public sealed class Purpose
{
    public required string Key { get; init; }
    public int CurrentVersion { get; set; }
    public PurposeStatus Status { get; set; }

    /// <summary>Grants of versions below this no longer count (the newest version that required re-consent; 1 = all count).</summary>
    public int ReconsentFromVersion { get; set; } = 1;

    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    public List<PurposeVersion> Versions { get; init; } = [];
}

public sealed record DataCategory(string Key, string Description, bool Sensitive);

public sealed record Recipient(string Name, bool ThirdParty);

/// <summary>One immutable notice: exactly what a customer saw when deciding.</summary>
public sealed class PurposeVersion
{
    public required string PurposeKey { get; init; }
    public int Version { get; init; }
    public required string Name { get; init; }
    public required string Description { get; init; }
    public List<DataCategory> DataCategories { get; init; } = [];
    public List<Recipient> Recipients { get; init; } = [];
    public int RetentionDays { get; init; }
    public LegalBasis LegalBasis { get; init; }
    public ConsentModel ConsentModel { get; init; }
    public int? ConsentLifetimeDays { get; init; }
    public bool HonorsGpc { get; init; }
    public bool AutomatedDecisions { get; init; }
    public OnRevoke OnRevoke { get; init; }
    public bool RequiresReconsent { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public bool DeclaresSensitiveData => DataCategories.Exists(c => c.Sensitive);

    /// <summary>True when <paramref name="other"/> tells the customer the same thing.</summary>
    public bool SameNoticeAs(PurposeVersion other) =>
        Name == other.Name && Description == other.Description
        && DataCategories.SequenceEqual(other.DataCategories) && Recipients.SequenceEqual(other.Recipients)
        && RetentionDays == other.RetentionDays && LegalBasis == other.LegalBasis
        && ConsentModel == other.ConsentModel && ConsentLifetimeDays == other.ConsentLifetimeDays
        && HonorsGpc == other.HonorsGpc && AutomatedDecisions == other.AutomatedDecisions && OnRevoke == other.OnRevoke;
}

internal sealed class PurposeConfiguration : IEntityTypeConfiguration<Purpose>
{
    public void Configure(EntityTypeBuilder<Purpose> builder)
    {
        builder.HasKey(p => p.Key);
        builder.Property(p => p.Key).HasMaxLength(64);
        builder.Property(p => p.Status).HasConversion(KebabCase.Converter<PurposeStatus>()).HasMaxLength(16);
        builder.HasIndex(p => p.Status);
        builder.HasMany(p => p.Versions).WithOne().HasForeignKey(v => v.PurposeKey);
    }
}

internal sealed class PurposeVersionConfiguration : IEntityTypeConfiguration<PurposeVersion>
{
    public void Configure(EntityTypeBuilder<PurposeVersion> builder)
    {
        builder.HasKey(v => new { v.PurposeKey, v.Version });
        builder.Property(v => v.Name).HasMaxLength(200);
        builder.Property(v => v.Description).HasMaxLength(4000);
        builder.Property(v => v.LegalBasis).HasConversion(KebabCase.Converter<LegalBasis>()).HasMaxLength(32);
        builder.Property(v => v.ConsentModel).HasConversion(KebabCase.Converter<ConsentModel>()).HasMaxLength(16);
        builder.Property(v => v.OnRevoke).HasConversion(KebabCase.Converter<OnRevoke>()).HasMaxLength(16);
        builder.Property(v => v.DataCategories).HasColumnType("jsonb").HasConversion(Json<DataCategory>(), JsonComparer<DataCategory>());
        builder.Property(v => v.Recipients).HasColumnType("jsonb").HasConversion(Json<Recipient>(), JsonComparer<Recipient>());
    }

    // The lists are read and written whole, never queried inside: a jsonb column is the simple fit.
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<List<T>, string> Json<T>() =>
        new(v => JsonSerializer.Serialize(v, JsonOptions), s => JsonSerializer.Deserialize<List<T>>(s, JsonOptions) ?? new List<T>());

    private static ValueComparer<List<T>> JsonComparer<T>() =>
        new((a, b) => a!.SequenceEqual(b!), v => v.Aggregate(0, (h, x) => HashCode.Combine(h, x)), v => v.ToList());
}
