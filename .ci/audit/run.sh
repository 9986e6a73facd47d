#!/usr/bin/env bash
# The graphql-http audit suite (GraphQL-over-HTTP spec conformance) against a real
# loggraph server: build the binary, serve it on a free port over a throwaway
# database, wait for /readyz, run every audit (audit.mjs fails on a MUST), then stop
# the server and drop the database. Needs PostgreSQL (as the tests do) and Node.js.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"

db_name=loggraph_ci_audit
admin_url="${LOGGRAPH_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
# The tests' PostgreSQL, another database on it.
db_url=$(printf '%s' "$admin_url" | sed -E "s|/[^/?]*(\?\|$)|/${db_name}\1|")

if ! command -v node >/dev/null 2>&1; then
  echo "audit: installing Node.js"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS ${db_name} WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A leftover of an interrupted run would carry its rows into this one.
psql -q "$admin_url" -c "DROP DATABASE IF EXISTS ${db_name} WITH (FORCE)" >/dev/null

CGO_ENABLED=0 go build -trimpath -o "$work/loggraph" ./cmd/loggraph
# Port 0: the kernel picks a free port, which serve prints.
DATABASE_URL="$db_url" "$work/loggraph" serve --addr 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
server_pid=$!

base=""
for _ in $(seq 1 150); do
  base=$(sed -n 's|^loggraph listening on \(http://[^ ]*\).*|\1|p' "$work/stdout")
  if [ -n "$base" ] && curl -sf "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  base=""
  sleep 0.2
done
if [ -z "$base" ]; then
  echo "audit: the server did not become ready"
  cat "$work/stdout" "$work/stderr"
  exit 1
fi

(cd .ci/audit && npm ci --no-audit --no-fund --loglevel=error)
node .ci/audit/audit.mjs "$base/graphql"
