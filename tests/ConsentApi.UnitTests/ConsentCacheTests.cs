using System.Globalization;
using System.Text;
using ConsentApi.Consents;
using ConsentApi.Purposes;

namespace ConsentApi.UnitTests;

public sealed class ConsentCacheTests
{
    private static readonly PurposeTerms Terms = new("newsletter", PurposeStatus.Active, 1, 1, ConsentModel.OptIn, false);

    private static ConsentState State() => new() { CustomerId = "c-42", PurposeKey = "newsletter" };

    [Fact]
    public void Notification_EvictsExactlyTheStateItNames()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        cache.SetState("c-42", "newsletter", State(), cache.Generation());
        cache.SetState("c-43", "newsletter", State(), cache.Generation());

        ConsentChanges.Apply(cache, "s\u001fc-42\u001fnewsletter");

        Assert.False(cache.TryGetState("c-42", "newsletter", out _));
        Assert.True(cache.TryGetState("c-43", "newsletter", out _));
    }

    [Fact]
    public void PurposeNotification_EvictsItsTerms()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        cache.SetTerms("newsletter", Terms, cache.Generation());

        ConsentChanges.Apply(cache, "p\u001fnewsletter");

        Assert.False(cache.TryGetTerms("newsletter", out _));
    }

    [Fact]
    public void UnknownNotification_ClearsEverything()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        cache.SetTerms("newsletter", Terms, cache.Generation());
        cache.SetState("c-42", "newsletter", State(), cache.Generation());

        ConsentChanges.Apply(cache, "garbage");

        Assert.False(cache.TryGetTerms("newsletter", out _));
        Assert.False(cache.TryGetState("c-42", "newsletter", out _));
    }

    [Fact]
    public void CoalescedNotification_EvictsEveryStateAndPurposeItNames()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        cache.SetState("c-42", "newsletter", State(), cache.Generation());
        cache.SetState("c-43", "newsletter", State(), cache.Generation());
        cache.SetState("c-44", "newsletter", State(), cache.Generation());
        cache.SetTerms("newsletter", Terms, cache.Generation());

        ConsentChanges.Apply(cache, "s\u001fc-42\u001fnewsletter\u001es\u001fc-43\u001fnewsletter\u001ep\u001fnewsletter");

        Assert.False(cache.TryGetState("c-42", "newsletter", out _));
        Assert.False(cache.TryGetState("c-43", "newsletter", out _));
        Assert.False(cache.TryGetTerms("newsletter", out _));
        Assert.True(cache.TryGetState("c-44", "newsletter", out _));
    }

    [Fact]
    public void CoalescedNotification_WithAnItemNotUnderstood_ClearsEverything()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        cache.SetState("c-44", "newsletter", State(), cache.Generation());

        ConsentChanges.Apply(cache, "s\u001fc-42\u001fnewsletter\u001e" + ConsentChanges.ItemOf("webhook.from-a-newer-node", "c-42", null));

        Assert.False(cache.TryGetState("c-44", "newsletter", out _));
    }

    [Fact]
    public void OutboxRows_BecomeTheItemsTheListenerEvicts()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        cache.SetState("c-42", "newsletter", State(), cache.Generation());
        cache.SetTerms("newsletter", Terms, cache.Generation());

        foreach (var payload in ConsentChanges.Payloads(
            [ConsentChanges.ItemOf(OutboxTopics.ConsentRevoked, "c-42", "newsletter"), ConsentChanges.ItemOf(OutboxTopics.PurposeChanged, null, "newsletter")]))
        {
            ConsentChanges.Apply(cache, payload);
        }

        Assert.False(cache.TryGetState("c-42", "newsletter", out _));
        Assert.False(cache.TryGetTerms("newsletter", out _));
    }

    [Fact]
    public void Payloads_StayUnderPostgresLimit_AndCarryEachItemOnce()
    {
        // 128-character customer ids of three-byte characters: 389 bytes per item.
        var items = Enumerable.Range(0, 500)
            .Select(i => ConsentChanges.ItemOf(OutboxTopics.ConsentGranted, i.ToString("D4", CultureInfo.InvariantCulture) + new string('€', 124), "newsletter"))
            .ToList();

        var payloads = ConsentChanges.Payloads(items.Concat(items));

        Assert.All(payloads, p => Assert.True(Encoding.UTF8.GetByteCount(p) < 8000, $"{Encoding.UTF8.GetByteCount(p)} bytes"));
        Assert.True(payloads.Count < 50, $"{payloads.Count} payloads: packed too loosely");
        Assert.Equal(items, payloads.SelectMany(p => p.Split('\u001e')));
    }

    [Fact]
    public void AbsenceIsCachedToo_SoUnknownPurposesAndUndecidedCustomersCostNothing()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        cache.SetTerms("nope", null, cache.Generation());
        cache.SetState("c-42", "newsletter", null, cache.Generation());

        Assert.True(cache.TryGetTerms("nope", out var terms));
        Assert.Null(terms);
        Assert.True(cache.TryGetState("c-42", "newsletter", out var state));
        Assert.Null(state);
    }

    [Fact]
    public void AnswerReadBeforeAnEviction_IsNotCached()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        var generation = cache.Generation(); // a check starts reading the database…
        ConsentChanges.Apply(cache, "s\u001fc-42\u001fnewsletter"); // …a change commits meanwhile…

        cache.SetState("c-42", "newsletter", State(), generation); // …so what it read may be stale

        Assert.False(cache.TryGetState("c-42", "newsletter", out _));
    }

    [Fact]
    public void AnswerReadWhileOtherCustomersChanged_IsCached()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        var generation = cache.Generation();
        for (var i = 0; i < 100; i++)
        {
            cache.Evict($"other-{i}", "newsletter"); // a stream of other customers' saves
        }

        cache.SetState("c-42", "newsletter", State(), generation);

        // Unless one of those hundred keys shares c-42's stripe (1 in 4096 each), the answer is kept.
        var sharesAStripe = Enumerable.Range(0, 100).Any(i =>
            ConsentCache.StateStripe($"other-{i}", "newsletter") == ConsentCache.StateStripe("c-42", "newsletter"));
        Assert.Equal(!sharesAStripe, cache.TryGetState("c-42", "newsletter", out _));
    }

    [Fact]
    public void AnswerReadBeforeAClear_IsNotCached()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings());
        var generation = cache.Generation();
        cache.Clear(); // the listener reconnected: anything read before may have missed its notification

        cache.SetState("c-42", "newsletter", State(), generation);

        Assert.False(cache.TryGetState("c-42", "newsletter", out _));
    }

    [Fact]
    public void ZeroStaleness_TurnsTheCacheOff()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings { MaxStalenessMs = 0 });
        cache.SetState("c-42", "newsletter", State(), cache.Generation());

        Assert.False(cache.Enabled);
        Assert.False(cache.TryGetState("c-42", "newsletter", out _));
    }
}
