#!/usr/bin/env bash
# The benchmark harness (issue 5): builds Release, starts a throwaway PostgreSQL, the baseline server and
# two API processes (consent cache on, and off for uncached checks), loads data through the API, runs
# every scenario with wrk against its baseline in the same run, and prints the table. Writes
# .local/bench/results.json and .local/bench/results.png. See docs/benchmarks.md.
#
#   scripts/bench.sh           full: per scenario 3 s warm-up (20 s for the uncached node), then the median of 5 runs x 10 s, 32 connections;
#                              exits 2 when a target is missed
#   scripts/bench.sh --growth  instead of the scenarios: check, save and Customer 360 latency at 10,000 events and again
#                              after a SQL generator grows the ledger to GROWTH_EVENTS (default 10,000,000), then two
#                              API processes at once (scripts/bench-growth.sh; .local/bench/growth.txt and growth.json)
#   scripts/bench.sh --smoke   2 s per scenario, 1 run, no warm-up, less data (300 customers, a Customer 360 of
#                              50 events and 200 records), one start-up timing; targets shown, not enforced
#
#   BENCH_PORT   first of four consecutive loopback ports to use (default 5190)
#   CONSENTAPI_PG_PORT / CONSENTAPI_PG_DIR   where PostgreSQL runs (see scripts/postgres.sh)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
mode=full
case "${1:-}" in
  --smoke) mode=smoke ;;
  --growth) mode=growth ;;
  "") ;;
  *) echo "usage: scripts/bench.sh [--smoke|--growth]" >&2; exit 64 ;;
esac
started=$(date +%s)
port=${BENCH_PORT:-5190}
baseline_port=$port; cached_port=$((port + 1)); uncached_port=$((port + 2)); probe_port=$((port + 3))
out=.local/bench
mkdir -p "$out"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

echo "publishing (Release, ReadyToRun, as the container image does)" >&2
api_out=$repo/$out/api
dotnet publish src/ConsentApi -c Release --use-current-runtime --self-contained false -o "$api_out" -nologo -v quiet >/dev/null
dotnet build tests/ConsentApi.Benchmarks -c Release -nologo -v quiet >/dev/null
bench_dll=$repo/tests/ConsentApi.Benchmarks/bin/Release/net10.0/ConsentApi.Benchmarks.dll

# A fresh database every time, so that every run measures the same amount of data.
conn=$(scripts/postgres.sh postgres)
pg_port=$(sed -n 's/.*Port=\([0-9]*\).*/\1/p' <<<"$conn")
psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS consentapi_bench WITH (FORCE)" >/dev/null
db=$(scripts/postgres.sh consentapi_bench)

key=bench-admin-key-0123456789abcdef0123456789
encryption_key=$(openssl rand -base64 32)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_ready() { # url, pid
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "process for $1 exited; see $out/*.log" >&2; exit 1; }
    sleep 0.02
  done
  echo "$1 not ready after 12 s" >&2; exit 1
}
start_api() { # port, cache staleness ms, apply migrations -> sets api_pid
  (cd "$api_out" && ConnectionStrings__ConsentDb="$db" Database__ApplyMigrationsOnStartup=$3 Auth__BootstrapAdminKey=$key \
     Encryption__ActiveKeyId=b Encryption__Keys__b="$encryption_key" RateLimiting__PermitLimit=1000000000 \
     ConsentCache__MaxStalenessMs=$2 Retention__SweepIntervalSeconds=0 Serilog__MinimumLevel__Default=Warning \
     exec dotnet ConsentApi.dll --urls "http://127.0.0.1:$1" >>"$repo/$out/api-$1.log" 2>&1) &
  api_pid=$!
  pids+=("$api_pid")
}

(exec dotnet "$bench_dll" baseline --urls "http://127.0.0.1:$baseline_port" --db "$db" >"$out/baseline.log" 2>&1) &
pids+=($!)
wait_ready "http://127.0.0.1:$baseline_port/const" "$!"

start_api "$cached_port" 60000 true   # applies the migrations
wait_ready "http://127.0.0.1:$cached_port/health/ready" "$api_pid"
cached_pid=$api_pid
start_api "$uncached_port" 0 false
wait_ready "http://127.0.0.1:$uncached_port/health/ready" "$api_pid"

if [ "$mode" = growth ]; then
  source scripts/bench-growth.sh
  echo "growth: $(( $(date +%s) - started )) s in all"
  exit 0
fi

# Start-up to ready (migrations already applied), three times (once in smoke); then the idle RSS of the cached node.
startup=()
starts=3; [ "$mode" = smoke ] && starts=1
for _ in $(seq 1 "$starts"); do
  t0=$(date +%s%N)
  start_api "$probe_port" 60000 false
  wait_ready "http://127.0.0.1:$probe_port/health/ready" "$api_pid"
  startup+=($(( ($(date +%s%N) - t0) / 1000000 )))
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
done
sleep 2
rss_mb=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$cached_pid/status")

status=0
dotnet "$bench_dll" run --mode "$mode" --key "$key" --out "$out" \
  --api "http://127.0.0.1:$cached_port" --api-uncached "http://127.0.0.1:$uncached_port" \
  --baseline "http://127.0.0.1:$baseline_port" \
  --idle-rss-mb "$rss_mb" --startup-ms "$(IFS=,; echo "${startup[*]}")" || status=$?
echo "results: $out/results.json, chart: $out/results.png ($(( $(date +%s) - started )) s in all)"
exit $status
