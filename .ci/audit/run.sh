#!/usr/bin/env bash
# The graphql-http audit suite (GraphQL-over-HTTP spec conformance) against a real
# loggraph server: build the binary, serve it on a free port over a throwaway
# database, wait for /readyz, run every audit (audit.mjs fails on a MUST), then stop
# the server and drop the database. Needs PostgreSQL (as the tests do) and Node.js.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"

if ! command -v node >/dev/null 2>&1; then
  echo "audit: installing Node.js"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

source .ci/server.sh
start_server loggraph_ci_audit

(cd .ci/audit && npm ci --no-audit --no-fund --loglevel=error)
node .ci/audit/audit.mjs "$base/graphql"
