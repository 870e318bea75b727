-- Growth data for scripts/bench.sh --growth (issue 5): customers g-FROM .. g-TO (7-digit, zero-padded), each
-- with :per consent events (one decision per save, purposes p1..p5 in turn, all granted, source import), so
-- N events lie over N/:per customers. Fills everything a save fills: ledger_heads (last_seq, last_hash),
-- consent_events (seq 1..k per customer, hash and previous_hash chained by value), receipts (one per event),
-- consent_states (the latest event per purpose). The hashes are random-looking hex of the right length, NOT
-- the API's SHA-256 over the canonical event: /verify fails on these customers; they exist for load only.
-- Rows are inserted in primary-key order, so the B-trees grow at their right edge.
--   psql -v from=1 -v to=1000 -v per=10 -f scripts/bench-growth.sql
\set ON_ERROR_STOP on
SET synchronous_commit = off;
BEGIN;
CREATE TEMP TABLE g_events ON COMMIT DROP AS
SELECT 'g-' || lpad(c::text, 7, '0') AS customer_id, s::bigint AS seq,
       gen_random_uuid() AS id, gen_random_uuid() AS receipt_id,
       'p' || (1 + (s - 1) % 5) AS purpose_key,
       now() - interval '1 day' + s * interval '1 second' AS occurred_at,
       md5(c::text || ':' || s) || md5(s::text || ':' || c) AS hash,
       CASE WHEN s > 1 THEN md5(c::text || ':' || (s - 1)) || md5((s - 1)::text || ':' || c) END AS previous_hash
FROM generate_series(:from::int, :to::int) AS c, generate_series(1, :per::int) AS s;

INSERT INTO receipts (customer_id, id, issued_at, source, collection_point)
SELECT customer_id, receipt_id, occurred_at, 'import', 'bench-growth' FROM g_events ORDER BY customer_id, receipt_id;

INSERT INTO consent_events (customer_id, seq, id, purpose_key, purpose_version, decision, occurred_at, source,
                            collection_point, receipt_id, previous_hash, hash)
SELECT customer_id, seq, id, purpose_key, 1, 'granted', occurred_at, 'import', 'bench-growth', receipt_id, previous_hash, hash
FROM g_events ORDER BY customer_id, seq;

INSERT INTO consent_states (customer_id, purpose_key, decision, purpose_version, decided_at, expires_at, source, last_event_id)
SELECT DISTINCT ON (customer_id, purpose_key) customer_id, purpose_key, 'granted', 1, occurred_at,
       occurred_at + interval '395 days', 'import', id
FROM g_events ORDER BY customer_id, purpose_key, seq DESC;

INSERT INTO ledger_heads (customer_id, last_seq, last_hash)
SELECT DISTINCT ON (customer_id) customer_id, seq, hash FROM g_events ORDER BY customer_id, seq DESC;
COMMIT;
