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
    public void ZeroStaleness_TurnsTheCacheOff()
    {
        using var cache = new ConsentCache(new ConsentCacheSettings { MaxStalenessMs = 0 });
        cache.SetState("c-42", "newsletter", State(), cache.Generation());

        Assert.False(cache.Enabled);
        Assert.False(cache.TryGetState("c-42", "newsletter", out _));
    }
}
