#!/usr/bin/env bash
# End to end with a real shipper: build the OpenTelemetry Collector from its Go
# modules (this directory's own module: filelog receiver, batch processor, otlphttp
# exporter), start loggraph on a throwaway database (.ci/server.sh) with an ingest
# and a read token, write a JSON-lines log file, run the collector on it with
# config.yaml (filelog -> otlphttp to /v1/logs with the Bearer token), poll GraphQL
# until the lines are there (at most $OTELCOL_WAIT seconds, 60 by default), append a
# line and wait for it too, check every stored field, then stop both. Needs
# PostgreSQL (as the tests do) and jq (installed when missing). The first build
# compiles the collector's dependencies (see the README's OpenTelemetry section for
# how long that took); later ones come from the Go build cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"

command -v jq >/dev/null 2>&1 || {
  echo "otelcol: installing jq"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
}

col_dir=$(mktemp -d)
col_pid=""
stop_collector() {
  if [ -n "$col_pid" ]; then
    kill "$col_pid" 2>/dev/null || true
    wait "$col_pid" 2>/dev/null || true
  fi
  rm -rf "$col_dir"
}
trap stop_collector EXIT

echo "otelcol: building the collector ($(cd .ci/otelcol && go list -m -f '{{.Path}} {{.Version}}' go.opentelemetry.io/collector/otelcol github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver go.opentelemetry.io/collector/exporter/otlphttpexporter | tr '\n' ' '))"
build_start=$(date +%s)
(cd .ci/otelcol && CGO_ENABLED=0 go build -trimpath -o "$col_dir/otelcol-loggraph" .)
echo "otelcol: built in $(( $(date +%s) - build_start ))s"

source .ci/server.sh
start_server loggraph_ci_otelcol
trap 'stop_collector; stop_server' EXIT
cli() { DATABASE_URL="$db_url" "$work/loggraph" "$@"; }
cli workspace create otelcol >/dev/null
ingest_token=$(cli token create --workspace otelcol --role ingest --name otelcol | tail -1)
read_token=$(cli token create --workspace otelcol --role read --name otelcol-check | tail -1)

service=checkout-otelcol
trace_id=4bf92f3577b34da6a3ce929d0e0e4736
span_id=00f067aa0ba902b7
# A minute ago, to the millisecond (never .000, which RFC 3339 output would drop).
sec=$(date -u -d '1 minute ago' +%Y-%m-%dT%H:%M:%S)
log_file="$col_dir/app.log"
line() { # line MS LEVEL MSG [EXTRA JSON MEMBERS]
  printf '{"time":"%s.%sZ","level":"%s","msg":"%s"%s}\n' "$sec" "$1" "$2" "$3" "${4:+,$4}"
}
line 101 info "cart updated" '"user_id":42,"route":"/cart"' >"$log_file"
line 102 error "payment declined" "\"trace_id\":\"$trace_id\",\"span_id\":\"$span_id\",\"provider\":\"acme-pay\"" >>"$log_file"

# stored: the service's app logs, newest first, as GraphQL returns them (keys sorted).
stored() {
  curl -sf "$base/graphql" -H "Authorization: Bearer $read_token" -H 'Content-Type: application/json' \
    --data "$(jq -nc --arg s "$service" '{query: "query ($s: String!) { appLogs(filter: {services: [$s]}, first: 50) { totalCount nodes { timestamp level service message details traceId spanId } } }", variables: {s: $s}}')" |
    jq -S '.data.appLogs'
}
# wait_for N: poll until the service has N app logs; fail after $OTELCOL_WAIT seconds
# or when the collector exits.
wait_for() {
  local deadline=$(( $(date +%s) + ${OTELCOL_WAIT:-60} )) n
  while :; do
    n=$(stored | jq '.totalCount')
    [ "$n" = "$1" ] && return 0
    if ! kill -0 "$col_pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      echo "otelcol: FAIL: expected $1 app logs of $service, found ${n:-none}; the collector's log:"
      cat "$col_dir/otelcol.log"
      exit 1
    fi
    sleep 0.2
  done
}

LOGGRAPH_URL="$base" LOGGRAPH_INGEST_TOKEN="$ingest_token" OTELCOL_LOG_FILE="$log_file" \
  "$col_dir/otelcol-loggraph" --config=.ci/otelcol/config.yaml >"$col_dir/otelcol.log" 2>&1 &
col_pid=$!
ship_start=$(date +%s%N)
wait_for 2
echo "otelcol: the file's 2 lines arrived $(( ($(date +%s%N) - ship_start) / 1000000 ))ms after the collector started"

# The collector follows the file: a line appended now arrives too.
line 103 warn '{\"event\":\"stock.low\"}' '"sku":"A-1"' >>"$log_file"
wait_for 3
echo "otelcol: the appended line arrived"

# The receiver names itself as the scope; its version is the build's (main.go).
scope='"otel.scope.name": "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver",
  "otel.scope.version": "0.165.0"'
want=$(jq -S . <<JSON
{
  "totalCount": 3,
  "nodes": [
    {"timestamp": "${sec}.103Z", "level": "WARN", "service": "$service", "message": "{\"event\":\"stock.low\"}",
     "details": {$scope, "log.file.name": "app.log", "level": "warn", "sku": "A-1"}, "traceId": null, "spanId": null},
    {"timestamp": "${sec}.102Z", "level": "ERROR", "service": "$service", "message": "payment declined",
     "details": {$scope, "log.file.name": "app.log", "level": "error", "trace_id": "$trace_id", "span_id": "$span_id",
                 "provider": "acme-pay"},
     "traceId": "$trace_id", "spanId": "$span_id"},
    {"timestamp": "${sec}.101Z", "level": "INFO", "service": "$service", "message": "cart updated",
     "details": {$scope, "log.file.name": "app.log", "level": "info", "user_id": 42, "route": "/cart"},
     "traceId": null, "spanId": null}
  ]
}
JSON
)
got=$(stored)
if [ "$got" != "$want" ]; then
  echo "otelcol: FAIL: stored app logs differ from the file's lines"
  diff <(echo "$want") <(echo "$got") || true
  exit 1
fi
echo "otelcol: service, level, message, details, trace and span ids as in the file"
echo "otelcol: 3 passed, 0 failed"
