// The side-by-side driver (run.sh starts it): checks that loggraph and PostGraphile return the same
// rows for each query, then times interleaved rounds with autocannon and prints a Markdown table.
//
// Environment (run.sh sets all of it): LOGGRAPH_URL, POSTGRAPHILE_URL (GraphQL endpoints), TOKEN (a
// read token of the workspace), WORKSPACE_ID, FROM, TO (RFC 3339, the 24 h window of q1 and q2),
// ROUNDS, ROUND_SECONDS, WARMUP_SECONDS, CONCURRENCY (e.g. 1,8,32), QUERIES (e.g. q1,q3; default all),
// OUT (a file that receives the table as well as stdout), DATA_SET (described under the table).
import autocannon from "autocannon";
import fs from "node:fs";

const env = (name, def) => {
  const v = process.env[name];
  if (v === undefined || v === "") {
    if (def === undefined) throw new Error(`${name} is required`);
    return def;
  }
  return v;
};
const LG = env("LOGGRAPH_URL");
const PG = env("POSTGRAPHILE_URL");
const TOKEN = env("TOKEN");
const WS = env("WORKSPACE_ID");
const FROM = env("FROM");
const TO = env("TO");
const ROUNDS = Number(env("ROUNDS", "5"));
const ROUND_SECONDS = Number(env("ROUND_SECONDS", "20"));
const WARMUP_SECONDS = Number(env("WARMUP_SECONDS", "2"));
const CONCURRENCY = env("CONCURRENCY", "1,8,32").split(",").map((s) => Number(s.trim()));
const ONLY = env("QUERIES", "").split(",").map((s) => s.trim()).filter(Boolean);
const OUT = env("OUT", "");
const DATA_SET = env("DATA_SET", "");
if (!(ROUNDS >= 1) || !(ROUND_SECONDS >= 1) || CONCURRENCY.some((c) => !(c >= 1))) {
  throw new Error("ROUNDS, ROUND_SECONDS and every CONCURRENCY must be at least 1");
}

const SEVERITY = { DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };

// Timestamps differ only in format (loggraph "...Z", PostGraphile "...+00:00"): compare the instant
// to the microsecond.
function instant(s) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/.exec(s);
  if (!m) throw new Error(`not a timestamp: ${s}`);
  const secs = Date.parse(m[1] + (m[3] === "Z" ? "Z" : m[3])) / 1000;
  return `${secs}.${(m[2] || "").padEnd(6, "0").slice(0, 6)}`;
}

// Each query: the loggraph text, the PostGraphile text, and how to reduce each answer to the same
// list of rows (ids and fields, in order).
const q1 = {
  name: "q1",
  label: "q1: 50 app logs, service + levels + last 24 h, newest first",
  lg: `{ appLogs(first: 50, filter: {services: ["payment-gateway"], levels: [ERROR, FATAL], time: {from: "${FROM}", to: "${TO}"}}) { nodes { id timestamp level service message } } }`,
  pg: `{ allAppLogs(first: 50, condition: {workspaceId: "${WS}"}, filter: {service: {equalTo: "payment-gateway"}, level: {in: [4, 5]}, timestamp: {greaterThanOrEqualTo: "${FROM}", lessThan: "${TO}"}}, orderBy: [TIMESTAMP_DESC, ROW_ID_DESC]) { nodes { rowId timestamp level service message } } }`,
  lgRows: (d) => d.appLogs.nodes.map((n) => [n.id, instant(n.timestamp), SEVERITY[n.level], n.service, n.message]),
  pgRows: (d) => d.allAppLogs.nodes.map((n) => [n.rowId, instant(n.timestamp), n.level, n.service, n.message]),
};
const q2 = {
  name: "q2",
  label: "q2: 50 integration logs with their integration's name",
  lg: `{ integrationLogs(first: 50, filter: {time: {from: "${FROM}", to: "${TO}"}}) { nodes { id createdAt statusCode succeeded integration { name } } } }`,
  pg: `{ allIntegrationLogs(first: 50, condition: {workspaceId: "${WS}"}, filter: {createdAt: {greaterThanOrEqualTo: "${FROM}", lessThan: "${TO}"}}, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { nodes { rowId createdAt statusCode succeeded integration { name } } } }`,
  lgRows: (d) => d.integrationLogs.nodes.map((n) => [n.id, instant(n.createdAt), n.statusCode, n.succeeded, n.integration.name]),
  pgRows: (d) => d.allIntegrationLogs.nodes.map((n) => [n.rowId, instant(n.createdAt), n.statusCode, n.succeeded, n.integration.name]),
};
const q3 = {
  name: "q3",
  label: "q3: integrations(first 20) -> jobs(first 5) -> logs(first 5)",
  lg: `{ integrations(first: 20) { nodes { id name jobs(first: 5) { nodes { id logs(first: 5) { nodes { id createdAt statusCode } } } } } } }`,
  pg: `{ allIntegrations(first: 20, condition: {workspaceId: "${WS}"}, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { nodes { rowId name jobs(first: 5, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { nodes { rowId logs(first: 5, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { nodes { rowId createdAt statusCode } } } } } } }`,
  lgRows: (d) => d.integrations.nodes.map((i) => [i.id, i.name, i.jobs.nodes.map((j) => [j.id, j.logs.nodes.map((l) => [l.id, instant(l.createdAt), l.statusCode])])]),
  pgRows: (d) => d.allIntegrations.nodes.map((i) => [i.rowId, i.name, i.jobs.nodes.map((j) => [j.rowId, j.logs.nodes.map((l) => [l.rowId, instant(l.createdAt), l.statusCode])])]),
};
const typename = { lg: "{ __typename }", pg: "{ __typename }", lgRows: (d) => [d.__typename], pgRows: (d) => [d.__typename] };
const QUERIES = [
  q1,
  q2,
  q3,
  { ...typename, name: "typename", label: "`{ __typename }` with a token", token: true },
  // loggraph without a token; PostGraphile runs without auth in both rows.
  { ...typename, name: "typename-anon", label: "`{ __typename }` without a token", token: false },
].filter((q) => ONLY.length === 0 || ONLY.includes(q.name));
for (const q of QUERIES) if (q.token === undefined) q.token = true;

function request(server, q) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  if (server === "loggraph" && q.token) headers.authorization = `Bearer ${TOKEN}`;
  return { url: server === "loggraph" ? LG : PG, headers, body: JSON.stringify({ query: server === "loggraph" ? q.lg : q.pg }) };
}

async function fetchOnce(server, q) {
  const r = request(server, q);
  const res = await fetch(r.url, { method: "POST", headers: r.headers, body: r.body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${server} ${q.name}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (res.status !== 200 || json.errors || !json.data) {
    throw new Error(`${server} ${q.name}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
  return { text, data: json.data };
}

// The answer without its top-level "extensions" (loggraph's carry per-request timings): the rest must
// not change from one request to the next. Inside a JSON string the sequence would be escaped.
function core(body) {
  const i = body.lastIndexOf(',"extensions":');
  return i >= 0 ? body.slice(0, i) : body;
}

function firstDifference(a, b, path = "") {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
  }
  return `${path || "(top)"}: loggraph ${JSON.stringify(a)} vs PostGraphile ${JSON.stringify(b)}`;
}

// The check: the same rows, in the same order, before any timing. Each server's answer (but its
// extensions) is kept so that autocannon counts any later answer that differs from it (an error, a
// 429) as a mismatch.
function count(rows) {
  return rows.reduce((n, r) => n + 1 + (Array.isArray(r[2]) ? count(r[2]) : 0), 0);
}
async function check() {
  for (const q of QUERIES) {
    const lg = await fetchOnce("loggraph", q);
    const pg = await fetchOnce("postgraphile", q);
    const a = q.lgRows(lg.data);
    const b = q.pgRows(pg.data);
    const diff = firstDifference(a, b);
    if (diff) throw new Error(`check ${q.name}: the servers disagree at ${diff}`);
    q.expect = { loggraph: core(lg.text), postgraphile: core(pg.text) };
    // A second answer must be identical to the first, or every timed one would count as a mismatch.
    for (const server of ["loggraph", "postgraphile"]) {
      const again = core((await fetchOnce(server, q)).text);
      if (again !== q.expect[server]) {
        throw new Error(`check ${q.name}: ${server} answered differently twice:\n${q.expect[server]}\n${again}`);
      }
    }
    const n = count(a);
    const top = a.length;
    console.log(`check ${q.name}: same rows from both servers (${top} top-level, ${n} in all)`);
    if (q.name === "q1" || q.name === "q2" || q.name === "q3") {
      const full = q.name === "q3" ? 20 : 50;
      if (top < full) console.log(`  note: ${q.name} returned ${top} < ${full} top-level rows: the data set is small`);
    }
  }
}

async function round(server, q, connections, seconds) {
  const r = request(server, q);
  const res = await autocannon({
    url: r.url,
    method: "POST",
    headers: r.headers,
    body: r.body,
    connections,
    duration: seconds,
    verifyBody: (body) => core(body) === q.expect[server],
    timeout: 30,
  });
  const bad = res.errors + res.timeouts + res.non2xx + (res.mismatches || 0);
  return { rps: res.requests.total / res.duration, p99: res.latency.p99, bad };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtInt = (x) => Math.round(x).toLocaleString("en-US");
const fmtMs = (x) => (x < 10 ? x.toFixed(1) : Math.round(x).toString());

async function main() {
  await check();
  const rows = [];
  for (const q of QUERIES) {
    for (const c of CONCURRENCY) {
      const m = { loggraph: [], postgraphile: [] };
      const bad = { loggraph: 0, postgraphile: 0 };
      if (WARMUP_SECONDS > 0) {
        await round("loggraph", q, c, WARMUP_SECONDS);
        await round("postgraphile", q, c, WARMUP_SECONDS);
      }
      // Interleaved, ABBA: loggraph then PostGraphile in even rounds, the other way in odd ones,
      // so that neither server always runs right after the other.
      for (let i = 0; i < ROUNDS; i++) {
        const order = i % 2 === 0 ? ["loggraph", "postgraphile"] : ["postgraphile", "loggraph"];
        for (const server of order) {
          const r = await round(server, q, c, ROUND_SECONDS);
          m[server].push(r);
          bad[server] += r.bad;
          console.log(`${q.name} c=${c} round ${i + 1}/${ROUNDS} ${server}: ${fmtInt(r.rps)} rps, p99 ${fmtMs(r.p99)} ms${r.bad ? `, ${r.bad} failed or different answers` : ""}`);
        }
      }
      const lg = { rps: median(m.loggraph.map((r) => r.rps)), p99: median(m.loggraph.map((r) => r.p99)) };
      const pg = { rps: median(m.postgraphile.map((r) => r.rps)), p99: median(m.postgraphile.map((r) => r.p99)) };
      rows.push({ q, c, lg, pg, bad });
    }
  }
  const lines = [
    "| query | concurrency | loggraph rps | PostGraphile v5 rps | ratio | loggraph p99 ms | PostGraphile p99 ms |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const flag = (s) => (r.bad[s] ? ` (${r.bad[s]} failed)` : "");
    lines.push(
      `| ${r.q.label} | ${r.c} | ${fmtInt(r.lg.rps)}${flag("loggraph")} | ${fmtInt(r.pg.rps)}${flag("postgraphile")} | ${(r.lg.rps / r.pg.rps).toFixed(2)} | ${fmtMs(r.lg.p99)} | ${fmtMs(r.pg.p99)} |`,
    );
  }
  lines.push(
    "",
    `Medians of ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s (ABBA order, ${WARMUP_SECONDS} s warm-up per server and cell), ` +
      `autocannon, ${DATA_SET ? DATA_SET + ", " : ""}one 24 h window ${FROM} .. ${TO}. Ratio = loggraph rps / PostGraphile rps. ` +
      "\"failed\" counts errors, timeouts, non-2xx and answers that differ from the checked one (none expected).",
  );
  const table = lines.join("\n") + "\n";
  console.log("\n" + table);
  if (OUT) fs.writeFileSync(OUT, table);
  if (rows.some((r) => r.bad.loggraph || r.bad.postgraphile)) {
    console.error("some requests failed or answered differently: the table is not valid");
    process.exit(2);
  }
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
