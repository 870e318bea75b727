#!/usr/bin/env bash
# Starts (or reuses) a throwaway local PostgreSQL for development and tests, creates the database
# named by $1 (default: consentapi) and prints its Npgsql connection string on stdout.
#
#   CONSENTAPI_PG_PORT   port to listen on (default 55432, loopback only)
#   CONSENTAPI_PG_DIR    where the cluster lives (default: .local/pg in the repository, git-ignored)
#
# postgres refuses to run as root, so as root the server runs as the `postgres` user.
# Stop it with: scripts/postgres.sh --stop
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${CONSENTAPI_PG_PORT:-55432}
base=${CONSENTAPI_PG_DIR:-$repo/.local/pg}
database=${1:-consentapi}

log() { printf '%s\n' "$*" >&2; }

# Debian keeps the server tools out of PATH; a pg_ctl on PATH may be a lone symlink, so follow it.
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] && command -v pg_ctl >/dev/null 2>&1; then
  bindir=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
  log "PostgreSQL server binaries not found. Install them (Debian: apt-get install -y postgresql) or set CONSENTAPI_TEST_DB / ConnectionStrings__ConsentDb to a server of your own."
  exit 1
fi

as_owner=()
if [ "$(id -u)" = 0 ]; then
  as_owner=(runuser -u postgres --)
  mkdir -p "$base"
  # The postgres user must reach the data directory; a checkout under /root is not reachable.
  if ! "${as_owner[@]}" test -x "$base/.." 2>/dev/null; then
    base=/var/tmp/consentapi-pg-$(printf '%s' "$repo" | md5sum | cut -c1-8)
    log "Using $base for PostgreSQL data (the postgres user cannot reach the repository folder)."
    mkdir -p "$base"
  fi
  chown postgres:postgres "$base"
fi
mkdir -p "$base"
chmod 700 "$base"
pg() { "${as_owner[@]}" "$bindir/$1" "${@:2}"; }

if [ "${1:-}" = "--stop" ]; then
  pg pg_ctl -D "$base/data" -m fast stop >&2 || true
  exit 0
fi

if [ ! -f "$base/data/PG_VERSION" ]; then
  log "Creating a PostgreSQL cluster in $base/data"
  pg initdb -D "$base/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi

if ! pg pg_ctl -D "$base/data" status >/dev/null 2>&1; then
  log "Starting PostgreSQL on 127.0.0.1:$port"
  pg pg_ctl -D "$base/data" -l "$base/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$base -c max_connections=300 -c fsync=on" \
    start >/dev/null
fi

if ! pg psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
  pg createdb -h 127.0.0.1 -p "$port" -U postgres "$database"
fi

printf 'Host=127.0.0.1;Port=%s;Database=%s;Username=postgres\n' "$port" "$database"
