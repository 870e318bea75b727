#!/usr/bin/env bash
# Measures a single consent check (GET /customers/{id}/consents/{purpose}) with the node's consent
# cache and without it, against /health/live (the framework's own cost) in the same run, with wrk.
# Each figure is the median of RUNS runs; ratios matter, absolute numbers depend on the machine.
#   RUNS (default 3), DURATION seconds per run (default 8), CONNECTIONS (default 32)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
runs=${RUNS:-3}; duration=${DURATION:-8}; connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

db=$(scripts/postgres.sh consentapi_bench)
dotnet build src/ConsentApi -c Release -nologo -v quiet
out=src/ConsentApi/bin/Release/net10.0
key=bench-admin-key-0123456789abcdef0123456789
start() { # port, staleness
  (cd "$out" && ConnectionStrings__ConsentDb="$db" Database__ApplyMigrationsOnStartup=true Auth__BootstrapAdminKey=$key \
     Encryption__ActiveKeyId=b Encryption__Keys__b="$(openssl rand -base64 32)" RateLimiting__PermitLimit=100000000 \
     ConsentCache__MaxStalenessMs=$2 Serilog__MinimumLevel__Default=Warning \
     exec dotnet ConsentApi.dll --urls "http://127.0.0.1:$1" > "$repo/.local/bench-$1.log" 2>&1) &
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null && return; sleep 0.2; done
  echo "API on $1 did not start" >&2; exit 1
}
start 5181 1000
start 5182 0
trap 'pkill -f "ConsentApi.dll --urls http://127.0.0.1:518" || true' EXIT
api=http://127.0.0.1:5181/api/v1
curl -s -o /dev/null -X POST $api/purposes -H "X-Api-Key: $key" -H 'Content-Type: application/json' -d '{"key":"newsletter","name":"Newsletter","description":"News.","dataCategories":[{"key":"email","description":"Email","sensitive":false}],"retentionDays":365,"legalBasis":"consent","consentModel":"opt-in"}'
curl -s -o /dev/null -X POST $api/customers/c-1/consents -H "X-Api-Key: $key" -H 'Content-Type: application/json' -d '{"decisions":[{"purpose":"newsletter","granted":true,"purposeVersion":1}],"source":"web"}'

measure() { # url -> "rps p50 p99" median by rps
  for _ in $(seq 1 "$runs"); do
    wrk -t1 -c"$connections" -d"${duration}s" --latency -H "X-Api-Key: $key" "$1" | awk '
      /Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print rps, p50, p99}'
  done | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)'
}
wrk -t1 -c"$connections" -d2s -H "X-Api-Key: $key" http://127.0.0.1:5181/api/v1/customers/c-1/consents/newsletter >/dev/null
wrk -t1 -c"$connections" -d2s -H "X-Api-Key: $key" http://127.0.0.1:5182/api/v1/customers/c-1/consents/newsletter >/dev/null
read -r base_rps base_p50 base_p99 < <(measure http://127.0.0.1:5181/health/live)
read -r hot_rps hot_p50 hot_p99 < <(measure http://127.0.0.1:5181/api/v1/customers/c-1/consents/newsletter)
read -r cold_rps cold_p50 cold_p99 < <(measure http://127.0.0.1:5182/api/v1/customers/c-1/consents/newsletter)
printf '\n%-34s %10s %8s %8s %8s\n' scenario rps p50 p99 "x base"
printf '%-34s %10.0f %8s %8s %8.2f\n' "baseline: GET /health/live" "$base_rps" "$base_p50" "$base_p99" 1
printf '%-34s %10.0f %8s %8s %8.2f\n' "check, cache on (1000 ms)" "$hot_rps" "$hot_p50" "$hot_p99" "$(echo "$hot_rps / $base_rps" | bc -l)"
printf '%-34s %10.0f %8s %8s %8.2f\n' "check, cache off" "$cold_rps" "$cold_p50" "$cold_p99" "$(echo "$cold_rps / $base_rps" | bc -l)"
printf 'cache on / cache off: %.2f\n' "$(echo "$hot_rps / $cold_rps" | bc -l)"
