using System.Security.Cryptography;
using System.Text;

namespace ConsentApi.Collection;

/// <summary>
/// Encrypts data record fields at rest with AES-256-GCM. Keys come from <c>Encryption:Keys</c>
/// (id → base64 of 32 bytes) and new records use <c>Encryption:ActiveKeyId</c>; older keys stay
/// configured to read what they wrote, which makes rotation a configuration change. The record's
/// customer, purpose and id are bound in as associated data, so a ciphertext moved to another
/// record does not decrypt.
/// </summary>
public sealed class FieldEncryption
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly Dictionary<string, byte[]> _keys;

    public string ActiveKeyId { get; }

    public FieldEncryption(IConfiguration configuration)
    {
        _keys = configuration.GetSection("Encryption:Keys").GetChildren()
            .ToDictionary(k => k.Key, k => Decode(k.Key, k.Value));
        ActiveKeyId = configuration["Encryption:ActiveKeyId"] is { Length: > 0 } active
            ? active
            : _keys.Count == 1 ? _keys.Keys.Single() : throw new InvalidOperationException(
                "Encryption:ActiveKeyId is not set (environment: Encryption__ActiveKeyId); it names the key in Encryption:Keys that encrypts new data.");
        if (!_keys.ContainsKey(ActiveKeyId))
        {
            throw new InvalidOperationException(
                $"Encryption:Keys has no key '{ActiveKeyId}'. Add one: Encryption__Keys__{ActiveKeyId}=$(openssl rand -base64 32)");
        }
    }

    public byte[] Encrypt(string plaintext, string associatedData)
    {
        var input = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[NonceSize + input.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_keys[ActiveKeyId], TagSize);
        aes.Encrypt(nonce, input, output.AsSpan(NonceSize, input.Length), output.AsSpan(NonceSize + input.Length), Encoding.UTF8.GetBytes(associatedData));
        return output;
    }

    public string Decrypt(string keyId, byte[] ciphertext, string associatedData)
    {
        if (!_keys.TryGetValue(keyId, out var key))
        {
            throw new InvalidOperationException($"Encryption key '{keyId}' is no longer configured; data written with it cannot be read.");
        }

        var length = ciphertext.Length - NonceSize - TagSize;
        var plaintext = new byte[length];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(ciphertext.AsSpan(0, NonceSize), ciphertext.AsSpan(NonceSize, length), ciphertext.AsSpan(NonceSize + length),
            plaintext, Encoding.UTF8.GetBytes(associatedData));
        return Encoding.UTF8.GetString(plaintext);
    }

    public static string AssociatedData(string customerId, string purposeKey, Guid recordId) =>
        string.Join('\u001f', customerId, purposeKey, recordId.ToString("D"));

    private static byte[] Decode(string id, string? base64)
    {
        try
        {
            var key = Convert.FromBase64String(base64 ?? "");
            return key.Length == 32 ? key : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"Encryption:Keys:{id} must be 32 random bytes in base64 (openssl rand -base64 32).");
        }
    }
}
