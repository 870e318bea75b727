using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using ConsentApi.Data;

namespace ConsentApi.Consents;

/// <summary>
/// The per-customer hash chain: each event's hash covers its core fields and the previous hash,
/// so that editing, reordering or deleting any event breaks every hash after it.
/// </summary>
public static class HashChain
{
    // Bump the tag (and keep the old code path) if the hashed fields ever change.
    private const string FormatTag = "consentapi-event-v1";

    /// <summary>
    /// SHA-256 (lower-case hex) of a JSON array of the fields: JSON gives an unambiguous encoding
    /// (no field can bleed into the next), and an auditor can recompute it with any language.
    /// </summary>
    public static string Compute(ConsentEvent e) => Compute(e.CustomerId, e.Seq, e.Id, e.PurposeKey, e.PurposeVersion,
        e.Decision, e.OccurredAt, e.Source, e.CollectionPoint, e.ReceiptId, e.PreviousHash);

    public static string Compute(string customerId, long seq, Guid id, string purposeKey, int purposeVersion, Decision decision,
        DateTimeOffset occurredAt, ConsentSource source, string? collectionPoint, Guid receiptId, string? previousHash)
    {
        var fields = new object?[]
        {
            FormatTag, customerId, seq, id.ToString("D"), purposeKey, purposeVersion, KebabCase.Name(decision),
            occurredAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
            KebabCase.Name(source), collectionPoint, receiptId.ToString("D"), previousHash,
        };
        return Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(fields)));
    }

}

/// <summary>
/// Checks a customer's events fed in chain order: each must sit at the next position, link to the
/// previous hash and hash to its own <c>hash</c>; at the end the chain must reach the ledger head,
/// so that removing the newest events is caught too.
/// </summary>
public sealed class ChainVerifier
{
    private string? _previousHash;

    public long Count { get; private set; }

    /// <summary>The first event that does not verify; null while the chain holds.</summary>
    public Guid? BrokenAt { get; private set; }

    public bool Broken { get; private set; }

    public void Add(ConsentEvent e)
    {
        if (Broken)
        {
            return;
        }

        if (e.Seq != Count + 1 || e.PreviousHash != _previousHash || HashChain.Compute(e) != e.Hash)
        {
            Broken = true;
            BrokenAt = e.Id;
            return;
        }

        _previousHash = e.Hash;
        Count++;
    }

    /// <summary>Call after the last event: the head must point at the last verified event.</summary>
    public void CheckHead(LedgerHead? head)
    {
        if (!Broken && ((head?.LastSeq ?? 0) != Count || head?.LastHash != _previousHash))
        {
            Broken = true; // events after the last one read were removed, or the head was edited
        }
    }
}
