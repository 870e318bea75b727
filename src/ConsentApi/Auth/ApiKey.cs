using System.Security.Cryptography;
using System.Text;
using ConsentApi.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ConsentApi.Auth;

public enum ApiKeyRole { Admin, Service }

/// <summary>An issued API key. Only its SHA-256 hash is stored; the key itself is shown once.</summary>
public sealed class ApiKey
{
    public Guid Id { get; init; }
    public required string Name { get; init; }
    public ApiKeyRole Role { get; init; }

    /// <summary>Lower-case hex SHA-256 of the whole key. Keys are 256 random bits, so a fast hash is enough.</summary>
    public required string KeyHash { get; init; }

    /// <summary>The first characters of the key, so that an admin can tell keys apart.</summary>
    public required string Prefix { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? RevokedAt { get; set; }

    public const string KeyPrefix = "cak_";

    public static string NewKey() => KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> builder)
    {
        builder.HasKey(k => k.Id);
        builder.Property(k => k.Name).HasMaxLength(100);
        builder.Property(k => k.Role).HasConversion(KebabCase.Converter<ApiKeyRole>()).HasMaxLength(16);
        builder.Property(k => k.KeyHash).HasMaxLength(64);
        builder.Property(k => k.Prefix).HasMaxLength(16);
        builder.HasIndex(k => k.KeyHash).IsUnique();
    }
}
