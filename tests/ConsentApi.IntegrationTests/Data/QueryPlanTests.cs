using System.Text.Json.Nodes;
using ConsentApi.IntegrationTests.Infrastructure;

namespace ConsentApi.IntegrationTests.Data;

/// <summary>
/// The hot access paths use an index, never a sequential scan, on tables of 100,000 rows: the
/// state lookup of every check, the event append's head lock and chain read, the conditioned
/// collection, and the Customer 360's per-customer reads. The statements mirror those the API sends.
/// </summary>
public sealed class QueryPlanTests(ApiFixture fixture) : ApiTest(fixture), IClassFixture<ApiFixture>
{
    private const int Rows = 100_000;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await CreatePurposeAsync("newsletter");
        await Fixture.ExecuteAsync($"""
            INSERT INTO ledger_heads (customer_id, last_seq, last_hash)
              SELECT 'c-' || g, 1, md5(g::text) || md5(g::text) FROM generate_series(1, {Rows}) g;
            INSERT INTO consent_states (customer_id, purpose_key, decision, purpose_version, decided_at, expires_at, source, last_event_id)
              SELECT 'c-' || g, 'newsletter', 'granted', 1, now(), now() + interval '1 day' * (g % 400), 'web', gen_random_uuid()
              FROM generate_series(1, {Rows}) g;
            INSERT INTO consent_events (customer_id, seq, id, purpose_key, purpose_version, decision, occurred_at, source, receipt_id, hash)
              SELECT 'c-' || g, 1, gen_random_uuid(), 'newsletter', 1, 'granted', now(), 'web', gen_random_uuid(), md5(g::text) || md5(g::text)
              FROM generate_series(1, {Rows}) g;
            INSERT INTO data_records (customer_id, id, purpose_key, purpose_version, field_names, key_id, ciphertext, collected_at, expires_at)
              SELECT 'c-' || g, gen_random_uuid(), 'newsletter', 1, ARRAY['email'], 'k', '\x00'::bytea, now(), now() + interval '1 day' * (g % 400)
              FROM generate_series(1, {Rows}) g;
            INSERT INTO deletion_log (customer_id, id, purpose_key, record_count, reason, deleted_at)
              SELECT 'c-' || g, gen_random_uuid(), 'newsletter', 1, 'retention', now() FROM generate_series(1, {Rows}) g;
            ANALYZE;
            """);
    }

    // One test over all of them: seeding 500,000 rows once is the slow part.
    private static readonly (string Name, string Sql)[] HotQueries =
    [
        ("state lookup (every check)", "SELECT * FROM consent_states WHERE customer_id = 'c-4242' AND purpose_key = 'newsletter'"),
        ("batch check", "SELECT s.* FROM consent_states s JOIN unnest(ARRAY['c-1','c-2','c-3']::text[], ARRAY['newsletter','newsletter','newsletter']::text[]) AS q(customer_id, purpose_key) ON s.customer_id = q.customer_id AND s.purpose_key = q.purpose_key"),
        ("ledger head lock (every save)", "SELECT * FROM ledger_heads WHERE customer_id = 'c-4242' FOR UPDATE"),
        ("states under a save's locks (a group commit's customers)", "SELECT s.* FROM consent_states s JOIN unnest(ARRAY['c-1','c-2']::text[], ARRAY['newsletter','newsletter']::text[]) AS q(customer_id, purpose_key) ON s.customer_id = q.customer_id AND s.purpose_key = q.purpose_key"),
        ("heads moved by a group commit", "UPDATE ledger_heads h SET last_seq = u.last_seq, last_hash = u.last_hash FROM unnest(ARRAY['c-1','c-2']::text[], ARRAY[2,2]::bigint[], ARRAY['a','b']::text[]) AS u(customer_id, last_seq, last_hash) WHERE h.customer_id = u.customer_id"),
        ("states changed by a group commit", "UPDATE consent_states s SET decision = u.decision FROM unnest(ARRAY['c-1','c-2']::text[], ARRAY['newsletter','newsletter']::text[], ARRAY['revoked','revoked']::text[]) AS u(customer_id, purpose_key, decision) WHERE s.customer_id = u.customer_id AND s.purpose_key = u.purpose_key"),
        ("chain walk (verify)", "SELECT * FROM consent_events WHERE customer_id = 'c-4242' ORDER BY seq"),
        ("newest events (history)", "SELECT * FROM consent_events WHERE customer_id = 'c-4242' ORDER BY seq DESC LIMIT 51"),
        ("receipt events", "SELECT * FROM consent_events WHERE customer_id = 'c-4242' AND receipt_id = gen_random_uuid()"),
        ("records held (360, export)", "SELECT * FROM data_records WHERE customer_id = 'c-4242' AND expires_at > now()"),
        ("conditioned insert (collection's one-statement path)", """
            WITH head AS MATERIALIZED (SELECT customer_id FROM ledger_heads WHERE customer_id = 'c-4242' FOR SHARE),
            state AS MATERIALIZED (
                SELECT s.purpose_version FROM head JOIN consent_states s ON s.customer_id = head.customer_id
                WHERE s.purpose_key = 'newsletter' AND s.last_event_id = gen_random_uuid() AND s.purpose_version = 1
                  AND s.decision = 'granted' AND (s.expires_at IS NULL OR s.expires_at > now())
                FOR SHARE OF s),
            purpose AS MATERIALIZED (
                SELECT 1 FROM state JOIN purposes p ON state.purpose_version >= p.reconsent_from_version
                WHERE p.key = 'newsletter' AND p.status = 'active' AND p.current_version = 1
                FOR SHARE OF p)
            INSERT INTO data_records (customer_id, id, purpose_key, purpose_version, field_names, key_id, ciphertext, collected_at, expires_at)
            SELECT 'c-4242', gen_random_uuid(), 'newsletter', 1, ARRAY['email'], 'k', '\x00'::bytea, now(), now() FROM purpose
            """),
        ("check on a miss (terms and state)", "SELECT p.key, v.consent_model, s.* FROM purposes p JOIN purpose_versions v ON v.purpose_key = p.key AND v.version = p.current_version LEFT JOIN consent_states s ON s.customer_id = 'c-4242' AND s.purpose_key = p.key WHERE p.key = 'newsletter'"),
        ("withdrawal delete", "SELECT r.* FROM data_records r JOIN purpose_versions v ON v.purpose_key = r.purpose_key AND v.version = r.purpose_version WHERE r.customer_id = 'c-4242' AND r.purpose_key = 'newsletter' AND v.on_revoke = 'delete'"),
        ("deletion log (360)", "SELECT * FROM deletion_log WHERE customer_id = 'c-4242' ORDER BY deleted_at DESC"),
        ("retention sweep", "SELECT customer_id, id FROM data_records WHERE expires_at <= now() ORDER BY expires_at LIMIT 1000"),
        ("expiry sweep", "SELECT customer_id, purpose_key FROM consent_states WHERE decision = 'granted' AND expires_at <= now() ORDER BY expires_at LIMIT 1000"),
    ];

    [Fact]
    public async Task HotQueries_UseAnIndex_NotASequentialScan()
    {
        string[] bigTables = ["consent_states", "consent_events", "data_records", "ledger_heads", "deletion_log"];
        var failures = new List<string>();
        foreach (var (name, sql) in HotQueries)
        {
            var plan = JsonNode.Parse((await Fixture.ScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql))!)!;
            var nodes = Flatten(plan[0]!["Plan"]!).ToList();
            var scanned = nodes.Where(n => n["Node Type"]!.GetValue<string>() == "Seq Scan")
                .Select(n => n["Relation Name"]?.GetValue<string>()).Where(t => bigTables.Contains(t)).ToList();
            if (scanned.Count > 0 || !nodes.Exists(n => n["Node Type"]!.GetValue<string>().Contains("Index", StringComparison.Ordinal)))
            {
                failures.Add($"{name}: no index use (sequential scan of {string.Join(", ", scanned)}): {plan}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static IEnumerable<JsonNode> Flatten(JsonNode node)
    {
        yield return node;
        foreach (var child in node["Plans"]?.AsArray() ?? [])
        {
            foreach (var n in Flatten(child!))
            {
                yield return n;
            }
        }
    }
}
