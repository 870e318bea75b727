#!/usr/bin/env bash
# Runs every test. The integration tests take their database from, in order:
#   1. CONSENTAPI_TEST_DB (a connection string to a server where the tests may create databases);
#   2. else a throwaway local PostgreSQL started here when its binaries are installed;
#   3. else Testcontainers, when a Docker engine is reachable;
#   4. else they fail at once, saying how to provide one.
# Extra arguments go to `dotnet test` (for example: --filter FullyQualifiedName~Purposes).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ -z "${CONSENTAPI_TEST_DB:-}" ] && { command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }; then
  CONSENTAPI_TEST_DB=$(scripts/postgres.sh postgres)
  export CONSENTAPI_TEST_DB
fi

results="$repo/.local/test-results"
rm -rf "$results"
status=0
dotnet test ConsentApi.sln -c Release --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" "$@" || status=$?

# One plain line with the totals of the whole run, for people and for CI.
if compgen -G "$results/*.trx" >/dev/null; then
  cat "$results"/*.trx | tr '\n' ' ' | grep -o '<Counters [^>]*>' | awk '
    { for (i = 1; i <= NF; i++) { if ($i ~ /^passed=/) { gsub(/[^0-9]/, "", $i); p += $i } if ($i ~ /^failed=/) { gsub(/[^0-9]/, "", $i); f += $i } if ($i ~ /^notExecuted=/) { gsub(/[^0-9]/, "", $i); s += $i } } }
    END { printf "%d passed, %d failed, %d skipped\n", p, f, s }'
else
  echo "0 passed, 1 failed"
fi
exit $status
