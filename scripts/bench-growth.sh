# Sourced by scripts/bench.sh --growth (not run on its own): the growth and two-node measurements of issue 5.
# Uses what bench.sh set up: $db, $pg_port, $key, $out, start_api, wait_ready, the cached node on $cached_port
# and the uncached node ($uncached_port). Starts a second cached node on $probe_port.
#
#   GROWTH_EVENTS    events in the large set (default 10000000, over GROWTH_EVENTS/10 customers)
#   GROWTH_SECONDS   seconds per measured run (default 10; a 3 s warm-up comes first)
#   GROWTH_CONN      wrk connections for check and save latency (default 8)
big_events=${GROWTH_EVENTS:-10000000}
secs=${GROWTH_SECONDS:-10}
conn_lat=${GROWTH_CONN:-8}
per=10
small_events=10000
lua=$repo/tests/ConsentApi.Benchmarks/lua
psql_db() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -d consentapi_bench -X -q "$@"; }
# Bulk loading is WAL-heavy: fewer checkpoints on this throwaway cluster.
psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -X -qc "ALTER SYSTEM SET max_wal_size = '8GB'" -c "SELECT pg_reload_conf()" >/dev/null

for i in 1 2 3 4 5; do
  curl -sf -o /dev/null -H "X-Api-Key: $key" -H 'Content-Type: application/json' "http://127.0.0.1:$cached_port/api/v1/purposes" -d \
    "{\"key\":\"p$i\",\"name\":\"Purpose $i\",\"description\":\"Benchmark purpose $i.\",\"dataCategories\":[{\"key\":\"email\",\"description\":\"Email address\",\"sensitive\":false}],\"recipients\":[{\"name\":\"Internal\",\"thirdParty\":false}],\"retentionDays\":365,\"legalBasis\":\"consent\",\"consentModel\":\"opt-in\",\"consentLifetimeDays\":395,\"honorsGpc\":false,\"automatedDecisions\":false,\"onRevoke\":\"retain\"}"
done

generate() { # first customer, last customer: in chunks of 100,000 customers (1,000,000 events)
  local from=$1 to=$2 hi
  while [ "$from" -le "$to" ]; do
    hi=$(( from + 99999 )); [ "$hi" -gt "$to" ] && hi=$to
    psql_db -v from="$from" -v to="$hi" -v per=$per -f scripts/bench-growth.sql
    from=$(( hi + 1 ))
  done
  psql_db -c "ANALYZE" -c "CHECKPOINT" # measure without a bulk-load checkpoint running
}

# wrk once; prints "rps p50_ms p99_ms requests errors"
wrk_once() { # url script connections seconds [env assignments...]
  local url=$1 script=$2 c=$3 d=$4; shift 4
  env BENCH_LUA="$lua" BENCH_RUN="$(date +%s%N)" "$@" wrk -t1 "-c$c" "-d${d}s" --timeout 10s --latency -H "X-Api-Key: $key" \
      ${script:+-s "$lua/$script"} "$url" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v * 60000 }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /requests in/ { n = $1 } /Requests\/sec:/ { rps = $2 }
    /Non-2xx/ { e += $NF } /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
    END { printf "%.1f %.3f %.3f %d %d\n", rps, p50, p99, n, e }'
}
measure() { # url script connections [env...]: warm-up, then one run of $secs
  local url=$1 script=$2 c=$3; shift 3
  wrk_once "$url" "$script" "$c" 3 "$@" >/dev/null
  wrk_once "$url" "$script" "$c" "$secs" "$@"
}

results=()
record() { # size label fields...
  results+=("$1|$2|$3")
  printf '  %-10s %-38s rps %8s  p50 %8s ms  p99 %8s ms  requests %s errors %s\n' "$1" "$2" $3 >&2
}
measure_size() { # size label, customers
  local size=$1 customers=$2
  record "$size" "check, uncached (c$conn_lat)" "$(measure "http://127.0.0.1:$uncached_port" growth-check.lua "$conn_lat" BENCH_CUSTOMERS="$customers")"
  record "$size" "save, 1 decision (c$conn_lat)" "$(measure "http://127.0.0.1:$cached_port" save.lua "$conn_lat" BENCH_DECISIONS=1)"
  record "$size" "customer 360, 1000 events (c1)" "$(measure "http://127.0.0.1:$uncached_port/api/v1/customers/g-0000000/360" "" 1)"
}

echo "growth: generating $small_events events over $(( small_events / per )) customers, and g-0000000 with 1000 events" >&2
t0=$(date +%s)
psql_db -v from=0 -v to=0 -v per=1000 -f scripts/bench-growth.sql
generate 1 $(( small_events / per ))
gen_small=$(( $(date +%s) - t0 ))
# A fresh process answers its first seconds slowly (JIT, pool): warm every node on every scenario before timing.
for w in "$uncached_port growth-check.lua" "$cached_port save.lua" "$uncached_port growth-check.lua"; do
  set -- $w; wrk_once "http://127.0.0.1:$1" "$2" "$conn_lat" 5 BENCH_CUSTOMERS=$(( small_events / per )) BENCH_DECISIONS=1 >/dev/null
done
wrk_once "http://127.0.0.1:$uncached_port/api/v1/customers/g-0000000/360" "" 1 5 >/dev/null
measure_size 10k $(( small_events / per ))

echo "growth: generating up to $big_events events over $(( big_events / per )) customers" >&2
t0=$(date +%s)
generate $(( small_events / per + 1 )) $(( big_events / per ))
gen_big=$(( $(date +%s) - t0 ))
counts=$(psql_db -At -c "SELECT (SELECT count(*) FROM consent_events), (SELECT count(*) FROM ledger_heads), pg_size_pretty(pg_database_size('consentapi_bench'))")
echo "growth: generated in $gen_big s; events|customers|database size: $counts" >&2
big_label=$(( big_events / 1000000 ))M
[ "$big_events" -lt 1000000 ] && big_label=$(( big_events / 1000 ))k
measure_size "$big_label" $(( big_events / per ))

# Two API processes (cached, each its own port) on the one database, the large set in it.
start_api "$probe_port" 60000 false
wait_ready "http://127.0.0.1:$probe_port/health/ready" "$api_pid"
a=http://127.0.0.1:$cached_port b=http://127.0.0.1:$probe_port
for node in "$a" "$b"; do # each node's first request (pool, JIT) before any timing
  curl -sf -o /dev/null -w "growth: first check on $node: %{http_code} in %{time_total} s\n" -H "X-Api-Key: $key" "$node/api/v1/customers/g-0000001/consents/p1" >&2
done
for node in "$a" "$b"; do
  wrk_once "$node" growth-check.lua 32 5 BENCH_CUSTOMERS=$(( big_events / per )) >/dev/null
  wrk_once "$node" save.lua 16 5 BENCH_DECISIONS=1 >/dev/null
done
two_nodes() { # label script connections [env...]
  local label=$1 script=$2 c=$3; shift 3
  record two-nodes "$label: node A alone" "$(measure "$a" "$script" "$c" "$@")"
  wrk_once "$a" "$script" "$c" 3 "$@" >/dev/null & wrk_once "$b" "$script" "$c" 3 "$@" >/dev/null; wait $!
  wrk_once "$a" "$script" "$c" "$secs" "$@" >"$out/two-a" & wrk_once "$b" "$script" "$c" "$secs" "$@" >"$out/two-b"; wait $!
  record two-nodes "$label: node A, both at once" "$(cat "$out/two-a")"
  record two-nodes "$label: node B, both at once" "$(cat "$out/two-b")"
  record two-nodes "$label: A + B combined" "$(awk '{ r += $1; n += $4; e += $5 } END { printf "%.1f - - %d %d\n", r, n, e }' "$out/two-a" "$out/two-b")"
}
two_nodes "check, cached (c32)" growth-check.lua 32 BENCH_CUSTOMERS=$(( big_events / per ))
two_nodes "save, 1 decision (c16)" save.lua 16 BENCH_DECISIONS=1

ratio() { # label: large p50 / 10k p50, and p99
  local s l; s=$(printf '%s\n' "${results[@]}" | awk -F'|' -v k="$1" '$1 == "10k" && $2 == k { print $3 }')
  l=$(printf '%s\n' "${results[@]}" | awk -F'|' -v k="$1" -v b="$big_label" '$1 == b && $2 == k { print $3 }')
  awk -v s="$s" -v l="$l" 'BEGIN { split(s, x, " "); split(l, y, " "); printf "p50 %.2fx  p99 %.2fx", y[2] / x[2], y[3] / x[3] }'
}
{
  echo
  echo "growth: 10k = $small_events events over $(( small_events / per )) customers; $big_label = $big_events events over $(( big_events / per )) customers (generated in $gen_big s: $counts)"
  printf '%-10s %-42s %9s %9s %9s %9s %7s\n' size scenario rps "p50 ms" "p99 ms" requests errors
  for r in "${results[@]}"; do IFS='|' read -r size label fields <<<"$r"; printf '%-10s %-42s %9s %9s %9s %9s %7s\n' "$size" "$label" $fields; done
  echo
  for k in "check, uncached (c$conn_lat)" "save, 1 decision (c$conn_lat)" "customer 360, 1000 events (c1)"; do
    printf '%-42s %s / 10k   (target <= 1.2x; for the 360: independent of table size)\n' "$k" "$big_label: $(ratio "$k")"
  done
} | tee "$out/growth.txt"
printf '%s\n' "${results[@]}" | jq -R 'split("|") as [$size, $scenario, $f] | ($f | split(" ")) as $v
  | {size: $size, scenario: $scenario, rps: ($v[0] | tonumber), p50Ms: ($v[1] | tonumber? // null), p99Ms: ($v[2] | tonumber? // null),
     requests: ($v[3] | tonumber), errors: ($v[4] | tonumber)}' | jq -s --argjson big "$big_events" --argjson gen "$gen_big" \
  '{smallEvents: 10000, bigEvents: $big, generateSeconds: $gen, results: .}' >"$out/growth.json"
echo "results: $out/growth.txt, $out/growth.json" >&2
