using ConsentApi.Http;

namespace ConsentApi.UnitTests;

public sealed class RateLimitWindowsTests
{
    [Fact]
    public void ConcurrentRequests_OfOnePartition_GetExactlyTheLimit()
    {
        using var windows = new RateLimitWindows(new RateLimitSettings { PermitLimit = 5_000, WindowSeconds = 3600 });
        var allowed = 0;

        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 1_000; i++)
            {
                if (windows.Acquire("key:one").Allowed)
                {
                    Interlocked.Increment(ref allowed);
                }
            }
        });

        Assert.Equal(5_000, allowed);
        Assert.Equal(0, windows.Acquire("key:one").Remaining);
    }

    [Fact]
    public void Partitions_CountApart_AndRemainingCountsDown()
    {
        using var windows = new RateLimitWindows(new RateLimitSettings { PermitLimit = 2, WindowSeconds = 60 });

        var first = windows.Acquire("key:a");
        var second = windows.Acquire("key:a");
        var third = windows.Acquire("key:a");
        var other = windows.Acquire("ip:127.0.0.1");

        Assert.Equal((true, 1L), (first.Allowed, first.Remaining));
        Assert.Equal((true, 0L), (second.Allowed, second.Remaining));
        Assert.False(third.Allowed);
        Assert.Equal((true, 1L), (other.Allowed, other.Remaining));
        Assert.InRange(third.ResetSeconds, 1, 60);
    }
}
