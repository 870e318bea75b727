using ConsentApi.Consents;

namespace ConsentApi.UnitTests;

public sealed class HashChainTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private static List<ConsentEvent> Chain(int length)
    {
        var events = new List<ConsentEvent>();
        string? previous = null;
        for (var seq = 1; seq <= length; seq++)
        {
            var e = Event(seq, previous);
            events.Add(e);
            previous = e.Hash;
        }

        return events;
    }

    private static ConsentEvent Event(long seq, string? previous, Decision decision = Decision.Granted, string purpose = "newsletter")
    {
        var id = Guid.CreateVersion7();
        var receipt = Guid.CreateVersion7();
        return new ConsentEvent
        {
            CustomerId = "c-42", Seq = seq, Id = id, PurposeKey = purpose, PurposeVersion = 1, Decision = decision,
            OccurredAt = At.AddSeconds(seq), Source = ConsentSource.Web, CollectionPoint = "signup", ReceiptId = receipt,
            PreviousHash = previous,
            Hash = HashChain.Compute("c-42", seq, id, purpose, 1, decision, At.AddSeconds(seq), ConsentSource.Web, "signup", receipt, previous),
        };
    }

    [Fact]
    public void Compute_IsDeterministicLowerHexSha256()
    {
        var e = Event(1, null);

        Assert.Equal(e.Hash, HashChain.Compute(e));
        Assert.Matches("^[0-9a-f]{64}$", e.Hash);
    }

    [Fact]
    public void Compute_ChangesWhenAnyCoreFieldChanges()
    {
        var e = Event(1, null);
        string[] variants =
        [
            HashChain.Compute("c-43", e.Seq, e.Id, e.PurposeKey, e.PurposeVersion, e.Decision, e.OccurredAt, e.Source, e.CollectionPoint, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, 2, e.Id, e.PurposeKey, e.PurposeVersion, e.Decision, e.OccurredAt, e.Source, e.CollectionPoint, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, Guid.NewGuid(), e.PurposeKey, e.PurposeVersion, e.Decision, e.OccurredAt, e.Source, e.CollectionPoint, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, e.Id, "analytics", e.PurposeVersion, e.Decision, e.OccurredAt, e.Source, e.CollectionPoint, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, e.Id, e.PurposeKey, 2, e.Decision, e.OccurredAt, e.Source, e.CollectionPoint, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, e.Id, e.PurposeKey, e.PurposeVersion, Decision.Revoked, e.OccurredAt, e.Source, e.CollectionPoint, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, e.Id, e.PurposeKey, e.PurposeVersion, e.Decision, e.OccurredAt.AddTicks(10), e.Source, e.CollectionPoint, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, e.Id, e.PurposeKey, e.PurposeVersion, e.Decision, e.OccurredAt, ConsentSource.Mobile, e.CollectionPoint, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, e.Id, e.PurposeKey, e.PurposeVersion, e.Decision, e.OccurredAt, e.Source, null, e.ReceiptId, e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, e.Id, e.PurposeKey, e.PurposeVersion, e.Decision, e.OccurredAt, e.Source, e.CollectionPoint, Guid.NewGuid(), e.PreviousHash),
            HashChain.Compute(e.CustomerId, e.Seq, e.Id, e.PurposeKey, e.PurposeVersion, e.Decision, e.OccurredAt, e.Source, e.CollectionPoint, e.ReceiptId, new string('0', 64)),
        ];

        Assert.All(variants, v => Assert.NotEqual(e.Hash, v));
        Assert.Equal(variants.Length, variants.Distinct().Count());
    }

    [Fact]
    public void Compute_DoesNotLetOneFieldBleedIntoTheNext()
    {
        var id = Guid.NewGuid();
        var receipt = Guid.NewGuid();
        var a = HashChain.Compute("c-4", 1, id, "2newsletter", 1, Decision.Granted, At, ConsentSource.Web, null, receipt, null);
        var b = HashChain.Compute("c-42", 1, id, "newsletter", 1, Decision.Granted, At, ConsentSource.Web, null, receipt, null);

        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Verifier_AcceptsAnIntactChainThatReachesItsHead()
    {
        var chain = Chain(5);
        var verifier = new ChainVerifier();
        chain.ForEach(verifier.Add);
        verifier.CheckHead(new LedgerHead { CustomerId = "c-42", LastSeq = 5, LastHash = chain[^1].Hash });

        Assert.False(verifier.Broken);
        Assert.Equal(5, verifier.Count);
        Assert.Null(verifier.BrokenAt);
    }

    [Fact]
    public void Verifier_AcceptsACustomerWithNoEvents()
    {
        var verifier = new ChainVerifier();
        verifier.CheckHead(null);

        Assert.False(verifier.Broken);
        Assert.Equal(0, verifier.Count);
    }

    [Fact]
    public void Verifier_NamesTheFirstEditedEvent()
    {
        var chain = Chain(4);
        var edited = chain[2];
        chain[2] = new ConsentEvent
        {
            CustomerId = edited.CustomerId, Seq = edited.Seq, Id = edited.Id, PurposeKey = edited.PurposeKey,
            PurposeVersion = edited.PurposeVersion, Decision = Decision.Revoked, OccurredAt = edited.OccurredAt,
            Source = edited.Source, CollectionPoint = edited.CollectionPoint, ReceiptId = edited.ReceiptId,
            PreviousHash = edited.PreviousHash, Hash = edited.Hash,
        };

        var verifier = new ChainVerifier();
        chain.ForEach(verifier.Add);

        Assert.True(verifier.Broken);
        Assert.Equal(edited.Id, verifier.BrokenAt);
        Assert.Equal(2, verifier.Count);
    }

    [Fact]
    public void Verifier_CatchesAMissingMiddleEvent()
    {
        var chain = Chain(4);
        chain.RemoveAt(1);
        var verifier = new ChainVerifier();
        chain.ForEach(verifier.Add);

        Assert.True(verifier.Broken);
        Assert.Equal(chain[1].Id, verifier.BrokenAt);
    }

    [Fact]
    public void Verifier_CatchesRemovedNewestEventsThroughTheHead()
    {
        var chain = Chain(4);
        var head = new LedgerHead { CustomerId = "c-42", LastSeq = 4, LastHash = chain[^1].Hash };
        chain.RemoveAt(3);
        var verifier = new ChainVerifier();
        chain.ForEach(verifier.Add);
        verifier.CheckHead(head);

        Assert.True(verifier.Broken);
        Assert.Null(verifier.BrokenAt);
    }

    [Fact]
    public void Verifier_CatchesEventsSwappedInOrder()
    {
        var chain = Chain(3);
        (chain[0], chain[1]) = (chain[1], chain[0]);
        var verifier = new ChainVerifier();
        chain.ForEach(verifier.Add);

        Assert.True(verifier.Broken);
        Assert.Equal(chain[0].Id, verifier.BrokenAt);
    }
}
