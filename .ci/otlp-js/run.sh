#!/usr/bin/env bash
# The OpenTelemetry JS SDK's OTLP/HTTP log exporters from npm (OTLP/JSON and
# protobuf, the versions pinned in package-lock.json) against a real loggraph server:
# build the binary, serve it on a free port over a throwaway database, create a
# workspace with an ingest token (for the exporters) and a read token (for
# GraphQL), then run otlp.test.mjs under node's test runner, which logs through the
# SDK and checks through GraphQL what was stored. Needs PostgreSQL (as the tests do)
# and Node.js 18.19 or later (installs Debian's when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"

# Debian's Node.js when there is none; the SDK's 0.2xx line (the last for Node.js 18)
# declares ^18.19.0 || >=20.6.0.
command -v node >/dev/null 2>&1 || {
  echo "otlp-js: installing Node.js"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
}
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 6) || (a === 18 && b >= 19) ? 0 : 1)'; then
  echo "otlp-js: Node.js $(node --version) is too old for the OpenTelemetry JS SDK; install Node.js 18.19, 20.6 or later"
  exit 1
fi

source .ci/server.sh
start_server loggraph_ci_otlp_js
cli() { DATABASE_URL="$db_url" "$work/loggraph" "$@"; }
cli workspace create otlp-js >/dev/null
ingest_token=$(cli token create --workspace otlp-js --role ingest --name otlp-js | tail -1)
read_token=$(cli token create --workspace otlp-js --role read --name otlp-js-check | tail -1)

(cd .ci/otlp-js && npm ci --no-audit --no-fund --loglevel=error)
LOGGRAPH_URL="$base" LOGGRAPH_INGEST_TOKEN="$ingest_token" LOGGRAPH_READ_TOKEN="$read_token" \
  node --test .ci/otlp-js/otlp.test.mjs
