// Runs graphql-http's server audits (the GraphQL-over-HTTP spec's test suite) against
// a running loggraph server: node audit.mjs http://127.0.0.1:8080/graphql
// Exits 1 on any failed MUST audit (or when the server cannot be reached); failed
// SHOULD and MAY audits are printed, with the server's answer, but do not fail.
import { serverAudits } from 'graphql-http';

const url = process.argv[2] || process.env.GRAPHQL_URL;
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}

const counts = {};
const failures = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  // An audit's fn throws only when it cannot run at all (server unreachable).
  const result = await audit.fn();
  const level = result.name.split(' ')[0]; // MUST, SHOULD or MAY
  counts[level] ??= { pass: 0, fail: 0 };
  if (result.status === 'ok') {
    counts[level].pass++;
    continue;
  }
  counts[level].fail++;
  let body = '';
  try {
    body = (await result.response.text()).slice(0, 300);
  } catch {
    // The audit already read the body.
  }
  failures.push({ level, id: result.id, name: result.name, reason: result.reason, status: result.response?.status, body });
}

for (const f of failures) {
  console.log(`${f.level === 'MUST' ? 'FAIL' : 'note'} ${f.id} ${f.name}\n     ${f.reason} (HTTP ${f.status}) ${f.body}`);
}
const summary = Object.entries(counts).map(([level, c]) => `${level} ${c.pass} passed, ${c.fail} failed`);
console.log(`graphql-http audit of ${url}: ${summary.join('; ')}`);
if (counts.MUST?.fail) {
  console.error('audit: a MUST of the GraphQL-over-HTTP spec failed');
  process.exit(1);
}
