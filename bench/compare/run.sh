#!/usr/bin/env bash
# loggraph vs PostGraphile v5, side by side over the same database (see README.md next to this file).
# Builds loggraph, seeds the data set once (database loggraph_compare, workspace perf), creates a read
# token, starts both servers on free ports, checks that they return the same rows, times interleaved
# rounds, prints the Markdown table, then stops both servers and revokes the token.
#
#   bash bench/compare/run.sh
#   DAYS=90 PARTITION_DAYS=90 bash bench/compare/run.sh      # the issue's second data set: 90 daily partitions
#   ROUNDS=2 ROUND_SECONDS=2 CONCURRENCY=1,8 ROWS=20000 bash bench/compare/run.sh   # a smoke run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PATH="$PATH:/usr/local/go/bin"

ROWS=${ROWS:-1000000}
DAYS=${DAYS:-7}
# Days before today whose rows get daily partitions (loggraph seed and serve --daily-partition-days).
PARTITION_DAYS=${PARTITION_DAYS:-7}
case "$PARTITION_DAYS" in
  '' | *[!0-9]*) echo "compare: PARTITION_DAYS must be a whole number of days (1 to 3650), not '$PARTITION_DAYS'" >&2; exit 1 ;;
esac
ROUNDS=${ROUNDS:-5}
ROUND_SECONDS=${ROUND_SECONDS:-20}
WARMUP_SECONDS=${WARMUP_SECONDS:-2}
CONCURRENCY=${CONCURRENCY:-1,8,32}
QUERIES=${QUERIES:-}
PG_POOL_MAX=${PG_POOL_MAX:-10}
# Prefix for every process of the run (both servers and the load generator alike), e.g. "nice -n 19"
# on a shared machine; empty for the figures of BENCHMARKS.md.
NICE=${NICE:-}
ADMIN_URL=${LOGGRAPH_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
WORKSPACE=perf
# One database per data set, so that a run never mixes two of them (the names of the data sets seeded with the
# default 7 daily partition days are those from before PARTITION_DAYS, so that they are reused).
if [ "$ROWS" = 1000000 ] && [ "$DAYS" = 7 ]; then default_db=loggraph_compare; else default_db=loggraph_compare_${ROWS}_${DAYS}; fi
if [ "$PARTITION_DAYS" != 7 ]; then default_db=loggraph_compare_${ROWS}_${DAYS}_daily${PARTITION_DAYS}; fi
DB_NAME=${DB_NAME:-$default_db}
DB_URL=$(printf '%s' "$ADMIN_URL" | sed -E "s|/[^/?]*(\?\|$)|/${DB_NAME}\1|")
OUT=${OUT:-$here/out/compare-$(date -u +%Y%m%dT%H%M%SZ).md}
marker="loggraph bench compare: rows=$ROWS days=$DAYS workspace=$WORKSPACE"
if [ "$PARTITION_DAYS" != 7 ]; then marker="$marker daily_partition_days=$PARTITION_DAYS"; fi

for cmd in node npm psql curl; do
  command -v "$cmd" >/dev/null || { echo "compare: $cmd is required" >&2; exit 1; }
done

work=$(mktemp -d)
lg_pid=""
pg_pid=""
token_id=""
cleanup() {
  for pid in $lg_pid $pg_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$token_id" ]; then
    "$work/loggraph" token revoke --database-url "$DB_URL" --workspace "$WORKSPACE" "$token_id" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "compare: building loggraph"
(cd "$root" && $NICE go build -trimpath -o "$work/loggraph" ./cmd/loggraph)

# npm ci only when the lockfile changed since the last install.
lock_sum=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$here/node_modules/.compare-lock" 2>/dev/null)" != "$lock_sum" ]; then
  echo "compare: npm ci (PostGraphile, autocannon)"
  (cd "$here" && nice -n 19 npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$here/node_modules/.compare-lock"
fi

# The data set: seeded once, marked by a comment on the database when the seed completed.
db_exists=$(psql -Atq "$ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")
comment=""
if [ -n "$db_exists" ]; then
  comment=$(psql -Atq "$ADMIN_URL" -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$DB_NAME'")
fi
if [ "$comment" != "$marker" ]; then
  if [ -n "$db_exists" ] && [ -n "$(psql -Atq "$DB_URL" -c "SELECT 1 FROM pg_class WHERE relname = 'workspaces'")" ] &&
    [ -n "$(psql -Atq "$DB_URL" -c "SELECT 1 FROM workspaces WHERE slug = '$WORKSPACE'")" ]; then
    echo "compare: database $DB_NAME has a workspace $WORKSPACE that this script did not finish seeding" >&2
    echo "compare: drop it (psql '$ADMIN_URL' -c 'DROP DATABASE $DB_NAME') or set DB_NAME" >&2
    exit 1
  fi
  echo "compare: seeding $ROWS rows over $DAYS days (daily partitions for $PARTITION_DAYS days) into $DB_NAME, workspace $WORKSPACE"
  $NICE "$work/loggraph" seed --database-url "$DB_URL" --workspace "$WORKSPACE" --create --rows "$ROWS" --days "$DAYS" \
    --daily-partition-days "$PARTITION_DAYS"
  psql -q "$ADMIN_URL" -c "COMMENT ON DATABASE $DB_NAME IS '$marker'"
fi

workspace_id=$(psql -Atq "$DB_URL" -c "SELECT id FROM workspaces WHERE slug = '$WORKSPACE'")
# One fixed 24 h window ending at the hour after the newest app log: the same for every request.
read -r from to < <(psql -Atq -F' ' "$DB_URL" -c "
  WITH w AS (SELECT date_trunc('hour', max(timestamp)) + interval '1 hour' AS t FROM app_logs WHERE workspace_id = '$workspace_id')
  SELECT to_char((t - interval '24 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
         to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM w")

# How many partitions a log table has (loggraph's policy decides: daily for the last PARTITION_DAYS days, monthly before).
partitions=$(psql -Atq "$DB_URL" -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'app_logs'::regclass")

"$work/loggraph" token create --database-url "$DB_URL" --workspace "$WORKSPACE" --role read --name bench-compare >"$work/token"
token=$(tail -n 1 "$work/token")
token_id=$(sed -n 's/^created read token \([0-9a-f-]*\) .*/\1/p' "$work/token")

# loggraph with its limits opened for a benchmark: no per-workspace request rate, read slots for every
# client, and warnings only (each request is otherwise logged at info). Everything else is the default.
$NICE "$work/loggraph" serve --database-url "$DB_URL" --addr 127.0.0.1:0 --daily-partition-days "$PARTITION_DAYS" \
  --requests-per-second 0 --max-concurrent-reads 1024 --log-level warn >"$work/lg.out" 2>"$work/lg.err" &
lg_pid=$!
(cd "$here" && DATABASE_URL="$DB_URL" PORT=0 PG_POOL_MAX="$PG_POOL_MAX" \
  exec $NICE node --require ./polyfill.cjs server.mjs >"$work/pg.out" 2>"$work/pg.err") &
pg_pid=$!

lg_url=""
pg_url=""
for _ in $(seq 1 300); do
  if [ -z "$lg_url" ]; then
    base=$(sed -n 's|^loggraph listening on \(http://[^ ]*\).*|\1|p' "$work/lg.out")
    if [ -n "$base" ] && curl -sf "$base/readyz" >/dev/null 2>&1; then lg_url="$base/graphql"; fi
  fi
  if [ -z "$pg_url" ]; then
    u=$(sed -n 's|^postgraphile listening on \(http://[^ ]*\)$|\1|p' "$work/pg.out")
    if [ -n "$u" ] && curl -sf -H 'content-type: application/json' -d '{"query":"{ __typename }"}' "$u" >/dev/null 2>&1; then pg_url=$u; fi
  fi
  [ -n "$lg_url" ] && [ -n "$pg_url" ] && break
  kill -0 "$lg_pid" 2>/dev/null || { echo "compare: loggraph exited" >&2; cat "$work/lg.out" "$work/lg.err" >&2; exit 1; }
  kill -0 "$pg_pid" 2>/dev/null || { echo "compare: PostGraphile exited" >&2; cat "$work/pg.out" "$work/pg.err" >&2; exit 1; }
  sleep 0.2
done
if [ -z "$lg_url" ] || [ -z "$pg_url" ]; then
  echo "compare: the servers did not become ready (loggraph '$lg_url', PostGraphile '$pg_url')" >&2
  cat "$work/lg.out" "$work/lg.err" "$work/pg.out" "$work/pg.err" >&2
  exit 1
fi
echo "compare: loggraph $lg_url, PostGraphile $pg_url, database $DB_NAME ($ROWS rows over $DAYS days, $partitions partitions per log table), window $from .. $to"

mkdir -p "$(dirname "$OUT")"
(cd "$here" && LOGGRAPH_URL="$lg_url" POSTGRAPHILE_URL="$pg_url" TOKEN="$token" WORKSPACE_ID="$workspace_id" \
  FROM="$from" TO="$to" ROUNDS="$ROUNDS" ROUND_SECONDS="$ROUND_SECONDS" WARMUP_SECONDS="$WARMUP_SECONDS" \
  CONCURRENCY="$CONCURRENCY" QUERIES="$QUERIES" OUT="$OUT" \
  DATA_SET="$ROWS rows over $DAYS days, $partitions partitions per log table (daily for the last $PARTITION_DAYS days)" $NICE node bench.mjs)
echo "compare: table written to $OUT"
