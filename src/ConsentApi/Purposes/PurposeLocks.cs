using ConsentApi.Data;
using Microsoft.EntityFrameworkCore;

namespace ConsentApi.Purposes;

/// <summary>
/// Saves and purpose changes exclude each other, per purpose, with a transaction-scoped advisory lock:
/// a save holds it shared from before it reads the purpose's terms until it commits; a new version or
/// a retirement holds it exclusively while its change commits. So the terms a save judged its decisions
/// by are still the purpose's terms when the save commits.
/// </summary>
/// <remarks>
/// Not a <c>FOR SHARE</c> lock on the purpose row, as before: every concurrent save of a purpose
/// share-locked the same row, and PostgreSQL wrote a new MultiXact for nearly each one (99 µs per save
/// for that read, against 25 µs for the same read unlocked; docs/benchmarks.md). An advisory lock lives
/// in the lock manager and writes nothing. Collection still share-locks the row: its one-statement insert
/// needs a lock that re-reads the row, and a change's UPDATE waits for those locks as before.
/// </remarks>
internal static class PurposeLocks
{
    /// <summary>The first key of the two-key advisory locks of purposes (the second is <c>hashtext(key)</c>).</summary>
    public const int LockSpace = 1886744176; // "purp" in ASCII

    /// <summary>Shared locks on the purposes in <c>$1</c> (<c>text[]</c>), for a statement of its own before the terms are read.</summary>
    public static readonly string SharedSql = $"SELECT pg_advisory_xact_lock_shared({LockSpace}, hashtext(k)) FROM unnest($1::text[]) AS k";

    /// <summary>
    /// Commits the tracked change of purpose <paramref name="key"/> in a transaction that holds its exclusive
    /// lock: saves in flight for the purpose finish first, and saves after it wait, then read the change.
    /// </summary>
    public static async Task SaveChangesLockedAsync(ConsentDbContext db, string key, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockSpace}, hashtext({key}))", cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }
}
