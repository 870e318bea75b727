#!/usr/bin/env bash
# Runs ConsentApi with a local database: starts a throwaway PostgreSQL (scripts/postgres.sh),
# applies the migrations and serves the API with Swagger UI.
#
#   CONSENTAPI_URL            where to listen (default http://127.0.0.1:5080)
#   Auth__BootstrapAdminKey   the admin key; when unset one is made once and kept in .local/admin-key
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
url=${CONSENTAPI_URL:-http://127.0.0.1:5080}

export ConnectionStrings__ConsentDb="${ConnectionStrings__ConsentDb:-$(scripts/postgres.sh consentapi)}"
export Database__ApplyMigrationsOnStartup=true
export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}

if [ -z "${Auth__BootstrapAdminKey:-}" ]; then
  mkdir -p .local
  [ -s .local/admin-key ] || openssl rand -hex 32 > .local/admin-key
  Auth__BootstrapAdminKey=$(cat .local/admin-key)
  export Auth__BootstrapAdminKey
fi

if [ -z "${Encryption__ActiveKeyId:-}" ]; then
  # Data record values are encrypted at rest; keep the development key with the development database.
  [ -s .local/encryption-key ] || openssl rand -base64 32 > .local/encryption-key
  export Encryption__ActiveKeyId=local1 Encryption__Keys__local1="$(cat .local/encryption-key)"
fi

echo "Building ConsentApi..."
dotnet build src/ConsentApi -c Release -nologo -v quiet
cat <<MSG

  ConsentApi:   $url/api/v1
  Swagger UI:   $url/swagger   (Authorize with the admin key below)
  Admin key:    $Auth__BootstrapAdminKey
  Health:       $url/health/ready

MSG
exec dotnet run --project src/ConsentApi -c Release --no-build --no-launch-profile --urls "$url"
