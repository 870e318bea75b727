using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace ConsentApi.Purposes;

/// <summary>
/// Each node's memory of purpose versions, kept for good: a version never changes once created
/// (<c>PUT /purposes/{key}</c> adds a new one, retiring changes only the purpose row, and nothing
/// updates or deletes a <c>purpose_versions</c> row), so an entry needs no invalidation. It lets the
/// collection's fast path judge fields and retention without reading the notice again.
/// <para>
/// The API never reuses a purpose key, but a database emptied under a running node (the tests'
/// TRUNCATE, a restore) may hold another purpose under the same key. So the versions are kept per
/// purpose as identified by its key and <c>created_at</c>, and whoever trusts them re-checks
/// <c>created_at</c> in the database — the collection statement does, on the purpose row it locks.
/// </para>
/// </summary>
public sealed class PurposeVersionCache
{
    /// <summary>The versions known of one purpose, identified by its creation time.</summary>
    public sealed record Known(DateTimeOffset PurposeCreatedAt, ImmutableDictionary<int, PurposeVersion> Versions);

    // Bounded by the number of purposes an admin creates, each entry by its versions.
    private readonly ConcurrentDictionary<string, Known> _purposes = new(StringComparer.Ordinal);

    public Known? Find(string purposeKey) => _purposes.GetValueOrDefault(purposeKey);

    /// <summary>Remembers versions read from the database together with their purpose's <c>created_at</c>.</summary>
    public void Remember(string purposeKey, DateTimeOffset purposeCreatedAt, params PurposeVersion[] versions)
    {
        var read = versions.ToImmutableDictionary(v => v.Version);
        _purposes.AddOrUpdate(purposeKey,
            _ => new Known(purposeCreatedAt, read),
            // Another purpose under this key replaces the old one's versions entirely.
            (_, known) => known.PurposeCreatedAt == purposeCreatedAt ? known with { Versions = known.Versions.SetItems(read) } : new Known(purposeCreatedAt, read));
    }
}
