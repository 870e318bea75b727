using ConsentApi.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ConsentApi.Collection;

/// <summary>
/// Customer data collected under one purpose. The field values are encrypted (AES-256-GCM) with
/// the key named by <see cref="KeyId"/>; the field names are kept in the clear so that what is
/// held about a customer can be listed without decrypting anything.
/// </summary>
public sealed class DataRecord
{
    public required string CustomerId { get; init; }
    public Guid Id { get; init; }
    public required string PurposeKey { get; init; }
    public int PurposeVersion { get; init; }
    public List<string> FieldNames { get; init; } = [];
    public required string KeyId { get; init; }
    public required byte[] Ciphertext { get; init; }
    public DateTimeOffset CollectedAt { get; init; }
    public DateTimeOffset ExpiresAt { get; init; }
}

internal sealed class DataRecordConfiguration : IEntityTypeConfiguration<DataRecord>
{
    public void Configure(EntityTypeBuilder<DataRecord> builder)
    {
        builder.HasKey(r => new { r.CustomerId, r.Id });
        builder.Property(r => r.CustomerId).HasMaxLength(ValidationRules.CustomerIdMaxLength);
        builder.Property(r => r.PurposeKey).HasMaxLength(64);
        builder.Property(r => r.KeyId).HasMaxLength(64);
        builder.HasIndex(r => new { r.CustomerId, r.PurposeKey });
        builder.HasIndex(r => r.ExpiresAt);
    }
}
