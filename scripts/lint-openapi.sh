#!/usr/bin/env bash
# Serves the API against a local database, fetches its OpenAPI document and lints it with
# Spectral (spectral:oas + the OWASP API security ruleset). Fails on any error; prints warnings.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
tools="$repo/.local/spectral"
port=${CONSENTAPI_LINT_PORT:-5099}

if [ ! -x "$tools/node_modules/.bin/spectral" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error \
      @stoplight/spectral-cli@6.16.3 @stoplight/spectral-owasp-ruleset@2.0.1 >/dev/null)
fi
cp .spectral.json "$tools/.spectral.json" # the ruleset resolves its packages next to itself

ConnectionStrings__ConsentDb=$(scripts/postgres.sh consentapi_lint)
export ConnectionStrings__ConsentDb Database__ApplyMigrationsOnStartup=true ASPNETCORE_ENVIRONMENT=Production
export Encryption__ActiveKeyId=lint Encryption__Keys__lint="$(openssl rand -base64 32)"
dotnet build src/ConsentApi -c Release -nologo -v quiet
dotnet run --project src/ConsentApi -c Release --no-build --no-launch-profile --urls "http://127.0.0.1:$port" > "$repo/.local/lint-api.log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/swagger/v1/swagger.json" -o "$repo/.local/openapi.json"
"$tools/node_modules/.bin/spectral" lint "$repo/.local/openapi.json" --ruleset "$tools/.spectral.json" --fail-severity=error
