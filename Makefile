# loggraph: the two commands are `make run` and `make test`.
DATABASE_URL ?= postgres://postgres@localhost:5432/loggraph?sslmode=disable
export DATABASE_URL

.PHONY: run test build generate check lint bench-ingest audit otlp-js otelcol playground browser-test

## run: build bin/loggraph, then serve on :8080 (make run PORT=9090 for another port)
## with a demo workspace (needs PostgreSQL at $DATABASE_URL). Ctrl-C stops it.
## The binary replaces the shell (exec): Ctrl-C reaches it alone and it exits 0 once
## drained, so make reports no error.
run:
	@echo "make run: building bin/loggraph (the first build compiles every dependency: a minute or two)..."
	@start=$$(date +%s); go build -o bin/loggraph ./cmd/loggraph && \
	  echo "make run: built in $$(( $$(date +%s) - start ))s; starting the server..."
	@exec ./bin/loggraph serve --demo$(if $(PORT), --addr :$(PORT))

## test: every test, against a real PostgreSQL, with the race detector
test:
	go test -race -count=1 -timeout 30m ./...

build:
	CGO_ENABLED=0 go build -trimpath -o bin/loggraph ./cmd/loggraph

## generate: regenerate gqlgen code from schema.graphqls and graph/schema/*.graphqls
generate:
	go generate ./...

## check: what CI checks besides the tests
check:
	go generate ./... && git diff --exit-code
	test -z "$$(gofmt -l .)"
	go vet ./...

## lint: staticcheck, and deadcode from main and every package's tests. gqlgen's
## scalar (un)marshalers in model are called only from generated code that deadcode
## sees as unreachable: they are not findings.
lint:
	go tool staticcheck ./...
	@dead="$$(go tool deadcode -test ./... | grep -Ev '^model/[a-z_]+\.go:[0-9]+:[0-9]+: unreachable func: (Marshal|Unmarshal)[A-Za-z0-9]+$$')"; \
	if [ -n "$$dead" ]; then echo "$$dead"; echo "deadcode: unreachable functions"; exit 1; fi

## bench-ingest: ingest throughput against psql \copy (see BENCHMARKS.md)
bench-ingest: build
	./bin/loggraph bench ingest

## audit: the graphql-http audit suite against a freshly started server (needs PostgreSQL and Node.js)
audit:
	bash .ci/audit/run.sh

## otlp-js: the OpenTelemetry JS SDK's OTLP/HTTP log exporters (JSON and protobuf) against a
## freshly started server, checked through GraphQL (needs PostgreSQL and Node.js 18.19+)
otlp-js:
	bash .ci/otlp-js/run.sh

## otelcol: end to end, the OpenTelemetry Collector built from its Go modules (.ci/otelcol) ships
## a log file to a freshly started server, checked through GraphQL (needs PostgreSQL)
otelcol:
	bash .ci/otelcol/run.sh

## playground: rebuild the embedded playground (internal/playground/dist) from the npm
## packages pinned in internal/playground/web/package-lock.json (needs Node.js and npm)
playground:
	cd internal/playground/web && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

## browser-test: the playground in headless Chromium against a freshly started server
## (needs PostgreSQL; installs Chromium and Node.js if missing)
browser-test:
	bash .ci/playground/run.sh
