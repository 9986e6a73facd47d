// The OpenTelemetry JS SDK's OTLP/HTTP log exporters against a running loggraph
// server (run.sh starts one): each exporter ships three records through the SDK's
// LoggerProvider and BatchLogRecordProcessor, then GraphQL must show them as app logs
// with service, level, message, details (resource, scope and log attributes) and the
// trace and span ids. Environment: LOGGRAPH_URL (the server's base URL),
// LOGGRAPH_INGEST_TOKEN, LOGGRAPH_READ_TOKEN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter as JSONLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';

const base = process.env.LOGGRAPH_URL;
const ingestToken = process.env.LOGGRAPH_INGEST_TOKEN;
const readToken = process.env.LOGGRAPH_READ_TOKEN;
if (!base || !ingestToken || !readToken) {
  console.error('set LOGGRAPH_URL, LOGGRAPH_INGEST_TOKEN and LOGGRAPH_READ_TOKEN (run.sh does)');
  process.exit(2);
}

const SUCCESS = 0; // ExportResultCode.SUCCESS

// Wraps an exporter to keep the result of every export; with resend, it sends
// each batch a second time, as an exporter does when it retries after a timeout.
function recording(inner, { resend = false } = {}) {
  const results = [];
  const send = (records) => new Promise((resolve) => inner.export(records, resolve));
  return {
    results,
    export(records, done) {
      (async () => {
        let result = await send(records);
        results.push(result);
        if (resend && result.code === SUCCESS) {
          result = await send(records);
          results.push(result);
        }
        done(result);
      })();
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
  };
}

// Logs through the SDK as a service does, then shuts the provider down (which
// exports what is batched). Returns what was sent and the exporter's results.
async function ship(exporter, service) {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      'service.name': service,
      'service.version': '2.4.1',
      'host.name': 'web-1',
    }),
    processors: [new BatchLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('loggraph-otlp-js', '1.0.0');
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  // Whole milliseconds a minute ago: the SDK keeps them as they are.
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;

  logger.emit({
    timestamp: new Date(t0),
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: 'cart updated',
    attributes: { 'user.id': 42, 'cart.items': 3, 'http.route': '/cart' },
  });
  logger.emit({
    timestamp: new Date(t0 + 1),
    severityNumber: SeverityNumber.ERROR,
    severityText: 'ERROR',
    body: 'payment declined',
    attributes: { 'payment.provider': 'acme-pay', retryable: false },
    context: trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED }),
  });
  logger.emit({
    timestamp: new Date(t0 + 2),
    severityText: 'warning', // no number: the level comes from the text
    body: { event: 'stock.low', sku: 'A-1', left: 2 },
  });
  await provider.shutdown();
  return { traceId, spanId, t0 };
}

async function graphql(query, variables) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${readToken}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

const appLogsQuery = `query ($filter: AppLogFilter) {
  appLogs(filter: $filter, first: 50) {
    totalCount
    nodes { timestamp level service message details traceId spanId }
  }
}`;

const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z').replace(/(\.\d*?)0*Z$/, '$1Z');

function expected(service, { traceId, spanId, t0 }) {
  // service.name becomes the service; the other resource attributes go to details.
  const resource = { 'service.version': '2.4.1', 'host.name': 'web-1' };
  const scope = { 'otel.scope.name': 'loggraph-otlp-js', 'otel.scope.version': '1.0.0' };
  // Newest first.
  return [
    {
      timestamp: iso(t0 + 2), level: 'WARN', service,
      message: JSON.stringify({ event: 'stock.low', sku: 'A-1', left: 2 }),
      details: { ...resource, ...scope }, traceId: null, spanId: null,
    },
    {
      timestamp: iso(t0 + 1), level: 'ERROR', service, message: 'payment declined',
      details: { ...resource, ...scope, 'payment.provider': 'acme-pay', retryable: false }, traceId, spanId,
    },
    {
      timestamp: iso(t0), level: 'INFO', service, message: 'cart updated',
      details: { ...resource, ...scope, 'user.id': 42, 'cart.items': 3, 'http.route': '/cart' }, traceId: null, spanId: null,
    },
  ];
}

const clients = [
  {
    name: '@opentelemetry/exporter-logs-otlp-http (OTLP/JSON)',
    service: 'checkout-js-json',
    make: (headers) => new JSONLogExporter({ url: `${base}/v1/logs`, headers }),
  },
  {
    name: '@opentelemetry/exporter-logs-otlp-proto (protobuf, gzip)',
    service: 'checkout-js-proto',
    make: (headers) => new ProtoLogExporter({ url: `${base}/v1/logs`, headers, compression: 'gzip' }),
  },
];

for (const client of clients) {
  test(`${client.name}: the records arrive as app logs`, async () => {
    const exporter = recording(client.make({ Authorization: `Bearer ${ingestToken}` }), { resend: true });
    const sent = await ship(exporter, client.service);

    // One batch, sent twice: both exports succeed, the second stores nothing new.
    assert.deepEqual(exporter.results.map((r) => [r.code, r.error?.message]), [[SUCCESS, undefined], [SUCCESS, undefined]]);

    const want = expected(client.service, sent);
    const { appLogs } = await graphql(appLogsQuery, { filter: { services: [client.service] } });
    assert.equal(appLogs.totalCount, 3);
    assert.deepEqual(appLogs.nodes, want);

    // The trace id finds the one record logged inside the span.
    const byTrace = await graphql(appLogsQuery, { filter: { traceIds: [sent.traceId] } });
    assert.deepEqual(byTrace.appLogs.nodes, [want[1]]);
  });

  test(`${client.name}: a wrong token is refused and nothing is stored`, async () => {
    const service = `${client.service}-refused`;
    const exporter = recording(client.make({ Authorization: 'Bearer lg_wrong_token' }));
    await ship(exporter, service);
    assert.equal(exporter.results.length, 1);
    assert.notEqual(exporter.results[0].code, SUCCESS);
    assert.equal(exporter.results[0].error?.code, 401, String(exporter.results[0].error));
    const { appLogs } = await graphql(appLogsQuery, { filter: { services: [service] } });
    assert.equal(appLogs.totalCount, 0);
  });
}
