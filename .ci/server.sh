# Sourced by the CI scripts that need a running loggraph server (audit, playground):
# start_server NAME [SERVE FLAGS...] builds the binary, drops and recreates database
# NAME on the tests' PostgreSQL, serves it on a free port (with the flags) and waits
# for /readyz. It sets
# $work (a temporary directory holding the binary as $work/loggraph), $db_url and
# $base (http://127.0.0.1:PORT); on exit the server is stopped, the database
# dropped and $work removed.
admin_url="${LOGGRAPH_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
work=""
server_pid=""
server_db=""

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$server_db" ]; then
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS ${server_db} WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
}

start_server() {
  server_db=$1
  shift
  db_url=$(printf '%s' "$admin_url" | sed -E "s|/[^/?]*(\?\|$)|/${server_db}\1|")
  work=$(mktemp -d)
  trap stop_server EXIT
  # A leftover of an interrupted run would carry its rows into this one.
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS ${server_db} WITH (FORCE)" >/dev/null

  CGO_ENABLED=0 go build -trimpath -o "$work/loggraph" ./cmd/loggraph
  # Port 0: the kernel picks a free port, which serve prints.
  DATABASE_URL="$db_url" "$work/loggraph" serve --addr 127.0.0.1:0 "$@" >"$work/stdout" 2>"$work/stderr" &
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
    echo "the server did not become ready"
    cat "$work/stdout" "$work/stderr"
    exit 1
  fi
}
