using System.Collections.Concurrent;

namespace ConsentApi.Http;

/// <summary>
/// One logger per category. Serilog's logger factory builds a new logger (and a Serilog context
/// logger under it) on every <see cref="ILoggerFactory.CreateLogger"/>, while ASP.NET Core's
/// results ask the factory for a logger on every response; Microsoft's own factory caches by
/// category, and so does this one (docs/benchmarks.md: it was the largest allocation of a cached check).
/// </summary>
internal sealed class CachingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, inner.CreateLogger);

    public void AddProvider(ILoggerProvider provider)
    {
        inner.AddProvider(provider);
        _loggers.Clear(); // loggers made before the provider would not write to it
    }

    public void Dispose() => inner.Dispose();

    /// <summary>Wraps the <see cref="ILoggerFactory"/> registered last (Serilog's, made by a factory method) in the cache.</summary>
    public static void Register(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(ILoggerFactory));
        var create = registered.ImplementationFactory
                     ?? throw new InvalidOperationException("Expected the logger factory to be registered by a factory method (Serilog's AddSerilog).");
        services.Remove(registered);
        services.AddSingleton<ILoggerFactory>(provider => new CachingLoggerFactory((ILoggerFactory)create(provider)));
    }
}
