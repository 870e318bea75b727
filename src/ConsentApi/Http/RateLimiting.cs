using System.Collections.Concurrent;
using System.Globalization;
using ConsentApi.Auth;
using Microsoft.AspNetCore.RateLimiting;

namespace ConsentApi.Http;

/// <summary><c>RateLimiting:PermitLimit</c> requests per <c>RateLimiting:WindowSeconds</c>, per credential (per address when anonymous).</summary>
public sealed class RateLimitSettings
{
    public int PermitLimit { get; set; } = 1200;
    public int WindowSeconds { get; set; } = 60;
}

/// <summary>
/// Per-credential rate limiting: a fixed window per partition (a credential, or a client address
/// when anonymous) that starts with the partition's first request, and the <c>RateLimit-Limit</c> /
/// <c>RateLimit-Remaining</c> / <c>RateLimit-Reset</c> headers on every limited answer, from the
/// same counter that decides. Endpoints marked <c>DisableRateLimiting()</c> are not counted.
/// </summary>
/// <remarks>
/// Not the ASP.NET Core rate limiter: its partitioned limiter takes one process-wide lock on every
/// request, and with one busy credential that lock was where request threads queued (a third of
/// the sampled request time under load; docs/benchmarks.md). Here a request is one dictionary read
/// and one interlocked increment.
/// </remarks>
public static class RateLimiting
{
    public const string LimitHeader = "RateLimit-Limit";
    public const string RemainingHeader = "RateLimit-Remaining";
    public const string ResetHeader = "RateLimit-Reset";

    public static WebApplicationBuilder AddConsentRateLimiting(this WebApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection("RateLimiting").Get<RateLimitSettings>() ?? new RateLimitSettings();
        if (settings.PermitLimit < 1 || settings.WindowSeconds < 1)
        {
            throw new InvalidOperationException("RateLimiting:PermitLimit and RateLimiting:WindowSeconds must be at least 1.");
        }

        builder.Services.AddSingleton(new RateLimitWindows(settings));
        return builder;
    }

    /// <summary>Counts the request against its partition; past the limit answers 429 without running the endpoint.</summary>
    public static IApplicationBuilder UseConsentRateLimiting(this IApplicationBuilder app)
    {
        var windows = app.ApplicationServices.GetRequiredService<RateLimitWindows>();
        return app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<DisableRateLimitingAttribute>() is not null)
            {
                await next(context);
                return;
            }

            var (allowed, remaining, resetSeconds) = windows.Acquire(PartitionKey(context));
            var headers = context.Response.Headers;
            headers[LimitHeader] = windows.LimitText;
            headers[RemainingHeader] = remaining.ToString(CultureInfo.InvariantCulture);
            headers[ResetHeader] = resetSeconds.ToString(CultureInfo.InvariantCulture);
            if (allowed)
            {
                await next(context);
                return;
            }

            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            headers.RetryAfter = resetSeconds.ToString(CultureInfo.InvariantCulture);
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status429TooManyRequests,
                    Type = ProblemTypes.RateLimited,
                    Title = "Too many requests",
                    Detail = $"This credential may make {windows.Settings.PermitLimit} requests per {windows.Settings.WindowSeconds} s; retry after {resetSeconds} s.",
                },
            });
        });
    }

    /// <summary>A credential is one partition; anonymous callers are partitioned by address.</summary>
    private static string PartitionKey(HttpContext context) =>
        context.User.FindFirst(Roles.KeyIdClaim)?.Value is { } keyId
            ? "key:" + keyId
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
}

/// <summary>The fixed windows of every partition seen lately; partitions idle for a whole window are dropped.</summary>
public sealed class RateLimitWindows : IDisposable
{
    private readonly ConcurrentDictionary<string, Partition> _partitions = new(StringComparer.Ordinal);
    private readonly long _windowMs;
    private readonly Timer _sweep;

    public RateLimitWindows(RateLimitSettings settings)
    {
        Settings = settings;
        LimitText = settings.PermitLimit.ToString(CultureInfo.InvariantCulture);
        _windowMs = settings.WindowSeconds * 1000L;
        _sweep = new Timer(_ => Sweep(), null, _windowMs, _windowMs);
    }

    public RateLimitSettings Settings { get; }

    public string LimitText { get; }

    // A window never changes its start: a new window is a new object, swapped in by compare-and-swap,
    // so a count can only ever be added to the window it was read from.
    private sealed class Window(long startMs)
    {
        public readonly long StartMs = startMs;
        public long Count;
    }

    private sealed class Partition(Window first)
    {
        public Window Current = first;
    }

    /// <summary>Takes a permit if one is left: whether it was, how many remain, and the seconds until the window resets.</summary>
    public (bool Allowed, long Remaining, long ResetSeconds) Acquire(string partitionKey)
    {
        var now = Environment.TickCount64;
        var partition = _partitions.GetOrAdd(partitionKey, static (_, start) => new Partition(new Window(start)), now);
        var window = Volatile.Read(ref partition.Current);
        if (now - window.StartMs >= _windowMs)
        {
            // Windows follow one another from the partition's first request, like a fixed-window limiter's timer.
            var fresh = new Window(now - (now - window.StartMs) % _windowMs);
            Interlocked.CompareExchange(ref partition.Current, fresh, window);
            window = Volatile.Read(ref partition.Current);
        }

        var taken = Interlocked.Increment(ref window.Count);
        var resetSeconds = Math.Max(1, (window.StartMs + _windowMs - now + 999) / 1000);
        return (taken <= Settings.PermitLimit, Math.Max(0, Settings.PermitLimit - taken), resetSeconds);
    }

    private void Sweep()
    {
        var now = Environment.TickCount64;
        foreach (var (key, partition) in _partitions)
        {
            if (now - Volatile.Read(ref partition.Current).StartMs >= 2 * _windowMs)
            {
                _partitions.TryRemove(key, out _);
            }
        }
    }

    public void Dispose() => _sweep.Dispose();
}
