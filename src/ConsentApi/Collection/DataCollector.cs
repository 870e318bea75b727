using System.Text.Json;
using ConsentApi.Consents;
using ConsentApi.Data;
using ConsentApi.Http;
using ConsentApi.Purposes;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ConsentApi.Collection;

/// <summary>
/// Stores a data record only if consent is active at the moment of the commit (DESIGN.md,
/// invariant 3). Two ways, both deciding inside the database under the customer's ledger head held
/// in SHARE mode: a save (which takes the head exclusively) either committed before — and then the
/// check sees its revocation — or waits until this insert has committed, and then its onRevoke
/// delete removes the record. A collection never commits after a revocation.
/// <list type="bullet">
/// <item>The fast path (<see cref="TryInsertAsync"/>): when the node already knows a grant that is
/// active and the notices involved, one autocommitted statement inserts the record only if, under row
/// locks, everything it relied on still holds. It never refuses: when it inserts nothing, the full
/// path decides.</item>
/// <item>The full path (<see cref="CollectInTransactionAsync"/>): one transaction that locks, re-reads
/// everything and gives the precise 403 / 422.</item>
/// </list>
/// See docs/collection.md.
/// </summary>
public sealed class DataCollector(ConsentDbContext db, ConsentChecker checker, PurposeVersionCache versions,
    FieldEncryption encryption, TimeProvider clock)
{
    private static readonly string[] NotDeclared = ["Not a data category of this purpose."];
    private static readonly string[] NeedsExplicitGrant = ["Sensitive: needs an explicit opt-in grant covering it."];
    private static readonly string[] NotAgreed = ["Not in the notice the customer agreed to."];

    // The fast path asks the checker without a GPC signal: a request with one takes the full path.
    private static readonly RequestSignals NoSignals = new(false, new Evidence(null, null));

    public async Task<DataRecord> CollectAsync(string customerId, string purposeKey, IReadOnlyDictionary<string, string> fields,
        bool gpcSignal, CancellationToken cancellationToken) =>
        (gpcSignal ? null : await TryCollectFastAsync(customerId, purposeKey, fields, cancellationToken))
        ?? await CollectInTransactionAsync(customerId, purposeKey, fields, gpcSignal, cancellationToken);

    /// <summary>
    /// The record stored in one statement, or null when this path cannot decide: no known active grant
    /// (opt-out without a decision, a refusal, a purpose not cached), fields the known notices would
    /// refuse, or facts that changed in the database since the node learnt them.
    /// </summary>
    private async Task<DataRecord?> TryCollectFastAsync(string customerId, string purposeKey, IReadOnlyDictionary<string, string> fields,
        CancellationToken cancellationToken)
    {
        // The consent middleware asked the same question a moment ago: this answer comes from the node's cache.
        var check = await checker.CheckAsync(customerId, purposeKey, NoSignals, cancellationToken);
        if (check is not { Terms: { Status: PurposeStatus.Active } terms, State: { Decision: Decision.Granted } state, Verdict.Active: true }
            || versions.Find(purposeKey) is not { } known
            || !known.Versions.TryGetValue(terms.CurrentVersion, out var current)
            || !known.Versions.TryGetValue(state.PurposeVersion, out var agreed)
            || Undeclared(fields, current).Count > 0
            || Uncovered(fields, current, agreed, explicitGrant: true).Count > 0)
        {
            return null;
        }

        var record = NewRecord(customerId, purposeKey, agreed, fields, clock.UtcNow());
        return await TryInsertAsync(record, state, terms.CurrentVersion, known.PurposeCreatedAt, cancellationToken) ? record : null;
    }

    /// <summary>
    /// Inserts <paramref name="record"/> if, at that moment, the customer's head exists, the state is
    /// still the granted one the node judged (same last event, same version, not expired at the
    /// record's collectedAt, not outdated) and the purpose is still the active one at the same current
    /// version. One autocommitted statement, so it commits with the insert.
    /// </summary>
    /// <remarks>
    /// Why this is as safe as the transaction (PostgreSQL, READ COMMITTED): the statement reads from
    /// one snapshot taken when it starts, which may already be old when it gets its locks. A row it
    /// locks is different: when the row was changed by a transaction that committed after the snapshot
    /// (or that held it and the lock waited for), the lock takes the newest version of that row and
    /// PostgreSQL re-checks the conditions on it (EvalPlanQual). A row read without a lock is only
    /// ever seen as of the snapshot. So every fact is a condition on a row this statement locks:
    /// <list type="number">
    /// <item><c>ledger_heads</c> FOR SHARE, first. Every ledger write (save, GPC, expiry, erasure)
    /// locks the head exclusively before anything else. A writer holding it makes this statement wait;
    /// one arriving later waits for this statement's commit, and its onRevoke delete (a later statement
    /// with a newer snapshot) then sees the record.</item>
    /// <item><c>consent_states</c> FOR SHARE, second, with its facts as conditions. Once the head is
    /// held, every ledger write that changed the state has committed, and locking the state row takes
    /// its newest version: a revocation, expiry or new grant committed meanwhile makes the conditions
    /// fail on it. (Locked without the head, a revocation could delete the data before this insert and
    /// commit after it; locked before the head, a waiting save that later updates the state would
    /// deadlock with this statement.)</item>
    /// <item><c>purposes</c> FOR SHARE, third: a retirement or a new version (with or without
    /// re-consent) either committed before — then its newest row fails the conditions — or waits for
    /// this insert. Its <c>created_at</c> ties the cached notices to this very purpose.</item>
    /// </list>
    /// The locks are taken in that order because each MATERIALIZED CTE locks only rows its input
    /// produced: <c>state</c> cannot lock before <c>head</c> has, nor <c>purpose</c> before
    /// <c>state</c>. The same order as the full path and the ledger (head, then purpose), so no cycle.
    /// The purpose versions themselves need no lock: they never change.
    /// </remarks>
    private async Task<bool> TryInsertAsync(DataRecord record, ConsentState state, int currentVersion, DateTimeOffset purposeCreatedAt,
        CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand(InsertIfStillActive, (NpgsqlConnection)db.Database.GetDbConnection())
            {
                Parameters =
                {
                    new NpgsqlParameter<string> { TypedValue = record.CustomerId },
                    new NpgsqlParameter<string> { TypedValue = record.PurposeKey },
                    new NpgsqlParameter<Guid> { TypedValue = state.LastEventId },
                    new NpgsqlParameter<int> { TypedValue = record.PurposeVersion },
                    new NpgsqlParameter<DateTimeOffset> { TypedValue = record.CollectedAt },
                    new NpgsqlParameter<DateTimeOffset> { TypedValue = purposeCreatedAt },
                    new NpgsqlParameter<int> { TypedValue = currentVersion },
                    new NpgsqlParameter<Guid> { TypedValue = record.Id },
                    new NpgsqlParameter<string[]> { TypedValue = record.FieldNames.ToArray() },
                    new NpgsqlParameter<string> { TypedValue = record.KeyId },
                    new NpgsqlParameter<byte[]> { TypedValue = record.Ciphertext },
                    new NpgsqlParameter<DateTimeOffset> { TypedValue = record.ExpiresAt },
                },
            };
            // Prepared once per pooled connection (Npgsql keeps it across opens): planning this statement
            // costs more than running it.
            await command.PrepareAsync(cancellationToken);
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private const string InsertIfStillActive = """
        WITH head AS MATERIALIZED (
            SELECT customer_id FROM ledger_heads WHERE customer_id = $1
            FOR SHARE),
        state AS MATERIALIZED (
            SELECT s.purpose_version FROM head JOIN consent_states s ON s.customer_id = head.customer_id
            WHERE s.purpose_key = $2 AND s.last_event_id = $3 AND s.purpose_version = $4 AND s.decision = 'granted'
              AND (s.expires_at IS NULL OR s.expires_at > $5)
            FOR SHARE OF s),
        purpose AS MATERIALIZED (
            SELECT 1 FROM state JOIN purposes p ON state.purpose_version >= p.reconsent_from_version
            WHERE p.key = $2 AND p.created_at = $6 AND p.status = 'active' AND p.current_version = $7
            FOR SHARE OF p)
        INSERT INTO data_records (customer_id, id, purpose_key, purpose_version, field_names, key_id, ciphertext, collected_at, expires_at)
        SELECT $1, $8, $2, $4, $9, $10, $11, $5, $12 FROM purpose
        """;

    /// <summary>Today's transaction: locks, reads the purpose, the state and the notices, judges, inserts.</summary>
    private async Task<DataRecord> CollectInTransactionAsync(string customerId, string purposeKey, IReadOnlyDictionary<string, string> fields,
        bool gpcSignal, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // The customer's head and the purpose, both shared: a revocation, a new purpose version or a
        // retirement either committed before (and is seen below) or waits for this insert.
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO ledger_heads (customer_id, last_seq) VALUES ({customerId}, 0) ON CONFLICT (customer_id) DO NOTHING;
            SELECT 1 FROM ledger_heads WHERE customer_id = {customerId} FOR SHARE;
            SELECT 1 FROM purposes WHERE key = {purposeKey} FOR SHARE;
            """, cancellationToken);

        var purpose = await db.Purposes.AsNoTracking().Where(p => p.Key == purposeKey)
            .Select(p => new { Purpose = p, Current = p.Versions.Single(v => v.Version == p.CurrentVersion) })
            .FirstOrDefaultAsync(cancellationToken)
            ?? throw new ApiProblemException(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "Not found",
                $"There is no purpose '{PurposeEndpoints.Shorten(purposeKey)}'.");
        var state = await db.ConsentStates.AsNoTracking()
            .FirstOrDefaultAsync(s => s.CustomerId == customerId && s.PurposeKey == purposeKey, cancellationToken);
        var terms = PurposeTerms.Of(purpose.Purpose, purpose.Current);
        var now = clock.UtcNow();
        var verdict = ConsentRules.Evaluate(state, terms, now, gpcSignal);
        if (!verdict.Active)
        {
            throw new ConsentRequiredException(customerId, terms, verdict);
        }

        // Minimisation: only what the notice in force declares; anything else refuses the whole record.
        var current = purpose.Current;
        var undeclared = Undeclared(fields, current);
        if (undeclared.Count > 0)
        {
            throw new ApiProblemException(StatusCodes.Status422UnprocessableEntity, ProblemTypes.UndeclaredFields,
                "Undeclared fields", $"The purpose '{purposeKey}' does not declare {string.Join(", ", undeclared)}; nothing was stored.",
                undeclared.ToDictionary(k => $"fields.{k}", _ => NotDeclared));
        }

        // Consent is specific: a grant covers what the notice the customer saw declared, no more.
        var agreed = state is { Decision: Decision.Granted } && state.PurposeVersion != current.Version
            ? await db.PurposeVersions.AsNoTracking()
                .SingleAsync(v => v.PurposeKey == purposeKey && v.Version == state.PurposeVersion, cancellationToken)
            : current;
        versions.Remember(purposeKey, purpose.Purpose.CreatedAt, current, agreed); // for the next collection's fast path
        var uncovered = Uncovered(fields, current, agreed, explicitGrant: state is { Decision: Decision.Granted });
        if (uncovered.Count > 0)
        {
            var sensitive = current.DataCategories.Where(c => c.Sensitive).Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
            throw new ApiProblemException(StatusCodes.Status403Forbidden, ProblemTypes.ConsentRequired, "Consent required",
                $"The customer's consent does not cover {string.Join(", ", uncovered)}: ask for consent to the current notice.",
                uncovered.ToDictionary(k => $"fields.{k}", k => sensitive.Contains(k) ? NeedsExplicitGrant : NotAgreed));
        }

        var record = NewRecord(customerId, purposeKey, agreed, fields, now);
        db.DataRecords.Add(record);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(CancellationToken.None);
        return record;
    }

    /// <summary>Minimisation: the fields the notice in force does not declare (any one refuses the whole record).</summary>
    private static List<string> Undeclared(IReadOnlyDictionary<string, string> fields, PurposeVersion current) =>
        fields.Keys.Where(k => Category(current, k) is null).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The declared fields the customer's consent does not cover. A field the current notice declares is
    /// collected only if the notice the customer agreed to declared it too (a later version may have
    /// added it without asking again), and special-category data (GDPR Art. 9(2)(a)) only under an
    /// explicit grant of a version that declared it as sensitive. Otherwise: 403 consent-required,
    /// naming the fields a new consent would cover.
    /// </summary>
    private static List<string> Uncovered(IReadOnlyDictionary<string, string> fields, PurposeVersion current, PurposeVersion agreed,
        bool explicitGrant) =>
        fields.Keys.Where(k =>
                Category(agreed, k) is not { } category
                || (Category(current, k)!.Sensitive && !(explicitGrant && category.Sensitive)))
            .Order(StringComparer.Ordinal).ToList();

    private static DataCategory? Category(PurposeVersion version, string key) =>
        version.DataCategories.Find(c => string.Equals(c.Key, key, StringComparison.Ordinal));

    /// <summary>The record, its values encrypted, stamped with the notice agreed to and expiring with its retention.</summary>
    private DataRecord NewRecord(string customerId, string purposeKey, PurposeVersion agreed, IReadOnlyDictionary<string, string> fields,
        DateTimeOffset now)
    {
        var id = Guid.CreateVersion7();
        return new DataRecord
        {
            CustomerId = customerId,
            Id = id,
            PurposeKey = purposeKey,
            PurposeVersion = agreed.Version,
            FieldNames = fields.Keys.Order(StringComparer.Ordinal).ToList(),
            KeyId = encryption.ActiveKeyId,
            Ciphertext = encryption.Encrypt(JsonSerializer.Serialize(fields), FieldEncryption.AssociatedData(customerId, purposeKey, id)),
            CollectedAt = now,
            ExpiresAt = now.AddDays(agreed.RetentionDays),
        };
    }
}

/// <summary>Consent was not active inside the collection transaction: the 403 of the consent middleware.</summary>
public sealed class ConsentRequiredException(string customerId, PurposeTerms terms, ConsentVerdict verdict)
    : Exception(verdict.Reason)
{
    public Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult ToResult() => ConsentEnforcement.ConsentRequired(customerId, terms, verdict);
}
