namespace ConsentApi.Data;

public static class ClockExtensions
{
    /// <summary>
    /// Now, cut to the microsecond that PostgreSQL stores, so that a value hashed or returned before
    /// the write is the same value read back after it.
    /// </summary>
    public static DateTimeOffset UtcNow(this TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % 10), TimeSpan.Zero);
    }
}
