#!/usr/bin/env bash
# Runs the gateway on the embedded default: a private local PostgreSQL (unless INFERY_DB is set)
# and the offline simulator provider. Prints a demo API key and the admin token on start.
set -euo pipefail
cd "$(dirname "$0")"

if [ -z "${INFERY_DB:-}" ]; then
  eval "$(scripts/local-postgres.sh)"
fi
export INFERY_DB
export INFERY_ADMIN_TOKEN=${INFERY_ADMIN_TOKEN:-adm_$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)}
export INFERY_SEED_DEMO=${INFERY_SEED_DEMO:-1}
# The youngest generation's budget: see DOTNET_GCgen0size in the README (.NET reads it only from the environment).
export DOTNET_GCgen0size=${DOTNET_GCgen0size:-0x4000000}
urls=${INFERY_URLS:-http://127.0.0.1:8080}

exec dotnet run -c Release --project src/Infery.Api -- --urls "$urls"
