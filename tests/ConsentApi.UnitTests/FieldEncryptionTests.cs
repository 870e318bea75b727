using System.Security.Cryptography;
using ConsentApi.Collection;
using Microsoft.Extensions.Configuration;

namespace ConsentApi.UnitTests;

public sealed class FieldEncryptionTests
{
    private static FieldEncryption Create(string active = "k1", params (string Id, string Key)[] keys) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(
            keys.Select(k => new KeyValuePair<string, string?>($"Encryption:Keys:{k.Id}", k.Key))
                .Append(new KeyValuePair<string, string?>("Encryption:ActiveKeyId", active))).Build());

    private static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    [Fact]
    public void Encrypt_ThenDecrypt_GivesThePlaintextBack_AndHidesIt()
    {
        var encryption = Create("k1", ("k1", NewKey()));
        var ad = FieldEncryption.AssociatedData("c-42", "newsletter", Guid.NewGuid());

        var ciphertext = encryption.Encrypt("{\"email\":\"alice@example.com\"}", ad);

        Assert.DoesNotContain("alice", System.Text.Encoding.UTF8.GetString(ciphertext), StringComparison.Ordinal);
        Assert.Equal("{\"email\":\"alice@example.com\"}", encryption.Decrypt("k1", ciphertext, ad));
    }

    [Fact]
    public void Ciphertext_MovedToAnotherRecord_DoesNotDecrypt()
    {
        var encryption = Create("k1", ("k1", NewKey()));
        var ciphertext = encryption.Encrypt("secret", FieldEncryption.AssociatedData("c-42", "newsletter", Guid.NewGuid()));

        Assert.ThrowsAny<CryptographicException>(() =>
            encryption.Decrypt("k1", ciphertext, FieldEncryption.AssociatedData("c-43", "newsletter", Guid.NewGuid())));
    }

    [Fact]
    public void Rotation_NewKeyEncrypts_OldKeyStillReadsWhatItWrote()
    {
        var k1 = NewKey();
        var ad = FieldEncryption.AssociatedData("c-42", "newsletter", Guid.NewGuid());
        var old = Create("k1", ("k1", k1)).Encrypt("before rotation", ad);

        var rotated = Create("k2", ("k1", k1), ("k2", NewKey()));

        Assert.Equal("k2", rotated.ActiveKeyId);
        Assert.Equal("before rotation", rotated.Decrypt("k1", old, ad));
    }

    [Fact]
    public void MissingOrMalformedKeys_StopTheStartWithAnInstruction()
    {
        Assert.Contains("Encryption:Keys has no key", Assert.Throws<InvalidOperationException>(() => Create("k9", ("k1", NewKey()))).Message,
            StringComparison.Ordinal);
        Assert.Contains("32 random bytes", Assert.Throws<InvalidOperationException>(() => Create("k1", ("k1", "c2hvcnQ="))).Message,
            StringComparison.Ordinal);
    }
}
