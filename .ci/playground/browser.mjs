// The playground in a real browser: Debian's Chromium driven by Playwright, every
// request to a host other than the server's (localhost) aborted and counted as a
// failure. Checks that the page loads from the binary alone, that a query run with
// a token from the token field shows data, that the docs explorer shows the
// schema's descriptions, that the live tail (graphql-ws with the token in
// connection_init) receives a log ingested after it started, and that the
// histogram, facets and stats examples draw their charts. Saves a screenshot.
//
// usage: node browser.mjs BASE_URL TOKEN OUT_DIR   (run.sh starts the server)
import { chromium } from 'playwright-core';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';

const [base, token, outDir] = process.argv.slice(2);
if (!base || !token || !outDir) {
  console.error('usage: node browser.mjs BASE_URL TOKEN OUT_DIR');
  process.exit(2);
}
const local = new Set(['localhost', '127.0.0.1', '[::1]']);
const isLocal = (u) => {
  const url = new URL(u);
  return url.protocol === 'data:' || url.protocol === 'blob:' || local.has(url.hostname);
};

const failures = [];
const blocked = [];
const consoleErrors = [];
let step = 'start';
const log = (msg) => console.log(`playground: ${msg}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
context.setDefaultTimeout(20000);
// The network is closed to everything but the server.
await context.route('**/*', (route) => {
  const u = route.request().url();
  if (isLocal(u)) return route.continue();
  blocked.push(u);
  return route.abort('blockedbyclient');
});
await context.routeWebSocket((u) => !isLocal(u.href), (ws) => {
  blocked.push(ws.url());
  ws.close({ code: 1008, reason: 'blocked by the test' });
});
const page = await context.newPage();
page.on('console', (m) => {
  // The bad token's 401 is logged by Chromium; every other failure shows in a check.
  if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
});
page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.stack || e.message}`));
// What the page's websockets send first: connection_init, which must carry the token.
const inits = [];
page.on('websocket', (ws) => {
  ws.on('framesent', (f) => {
    if (typeof f.payload === 'string' && f.payload.includes('connection_init')) inits.push(f.payload);
  });
});

// editorValue and setQuery reach GraphiQL's CodeMirror editors.
const editorValue = (which) =>
  page.evaluate((sel) => document.querySelector(`${sel} .CodeMirror`)?.CodeMirror.getValue() ?? '', which);
// setQuery replaces the active tab's query and waits until GraphiQL has parsed
// it (the tab is titled with the operation's name), so Run runs that operation.
const setQuery = async (name, q) => {
  await page.evaluate((text) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(text), q);
  await parsed(name);
};
// parsed waits until the query editor has parsed the active tab's operation
// (GraphiQL runs the operation its editor last parsed).
const parsed = (name) =>
  page.waitForFunction((n) => document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror.operationName === n, name);
const run = () => page.click('.graphiql-execute-button');
const response = async () => {
  await page.waitForFunction(() => {
    const v = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '';
    return v.trim().startsWith('{');
  });
  return JSON.parse(await editorValue('.graphiql-response'));
};
const openTab = async (title) => {
  await page.locator('.graphiql-tab-button', { hasText: new RegExp(`^${title}$`) }).click();
  await parsed(title);
};
const check = (ok, what) => {
  if (!ok) throw new Error(what);
  log(`ok: ${what}`);
};

async function gql(query) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return res.json();
}

await mkdir(outDir, { recursive: true });
const shot = path.resolve(outDir, 'playground.png');
await rm(shot, { force: true });
try {
  step = 'load';
  await page.goto(`${base}/playground`);
  await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror');
  check((await page.locator('.graphiql-tab-button').count()) > 1, 'the page loads with the README examples as tabs');

  step = 'token';
  await page.fill('[data-testid=token-input]', 'lg_not_a_token');
  await page.click('[data-testid=token-save]');
  await page.waitForSelector('[data-testid=token-status].bad');
  check(true, `the token field reports a bad token ("${await page.textContent('[data-testid=token-status]')}")`);
  await page.fill('[data-testid=token-input]', token);
  await page.click('[data-testid=token-save]');
  await page.waitForSelector('[data-testid=token-status].ok');
  check(/workspace \S+ · ADMIN/.test(await page.textContent('[data-testid=token-status]')), 'the token field checks the token');

  step = 'query';
  await page.click('.graphiql-tab-add');
  await setQuery('Viewer', 'query Viewer { viewer { workspace { slug } role } logs(first: 3) { nodes { id kind message } } }');
  await run();
  let res = await response();
  check(res.data?.viewer?.role === 'ADMIN' && res.data.logs.nodes.length === 3, 'a query runs with the token and shows data');

  step = 'docs';
  const want = (await gql('{ __type(name: "Query") { fields { name description } } }')).data.__type.fields.find(
    (f) => f.name === 'logHistogram',
  ).description;
  await page.click('button[aria-label="Show Documentation Explorer"]');
  await page.locator('.graphiql-doc-explorer a', { hasText: /^Query$/ }).first().click();
  await page.locator('.graphiql-doc-explorer a.graphiql-doc-explorer-field-name', { hasText: /^logHistogram$/ }).click();
  await page.waitForFunction(
    (w) => document.querySelector('.graphiql-doc-explorer')?.textContent.includes(w.slice(0, 40)),
    want,
  );
  check(true, `the docs explorer shows logHistogram's description ("${want.slice(0, 40)}...")`);

  step = 'live tail';
  await page.click('.graphiql-tab-add');
  await setQuery('BrowserTail', 'subscription BrowserTail { logTail(filter: {kinds: [APP]}) { dropped logs { message } } }');
  await run();
  // The socket is up once the server has the subscription; ingest until it shows.
  const marker = `browser-test ${Date.now()}`;
  await page.waitForFunction(() => document.querySelector('.graphiql-execute-button')?.getAttribute('aria-label')?.includes('Stop'));
  let seen = false;
  for (let i = 0; i < 20 && !seen; i++) {
    const ing = await fetch(`${base}/v1/ingest/app`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-ndjson', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ level: 'ERROR', service: 'browser', message: `${marker} #${i}` }) + '\n',
    });
    if (!ing.ok) throw new Error(`ingest: ${ing.status} ${await ing.text()}`);
    seen = await page
      .waitForFunction((m) => (document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '').includes(m), marker, { timeout: 1000 })
      .then(() => true, () => false);
  }
  check(seen, 'the live tail shows a log ingested after it started');
  check(inits.some((f) => f.includes(`Bearer ${token}`)), 'its connection_init carried the token');
  await run(); // stop the subscription

  for (const [title, kind] of [
    ['LogFacets', 'facets'],
    ['ApiRequestStats', 'stats'],
    ['LogHistogram', 'histogram'],
  ]) {
    step = `${title} chart`;
    await openTab(title);
    await run();
    res = await response();
    if (res.errors) throw new Error(`${title}: ${JSON.stringify(res.errors)}`);
    const chart = page.locator(`[data-testid=chart][data-kind=${kind}]`);
    await chart.waitFor();
    const bars = await chart.locator('[data-testid=bar]').count();
    check(bars > 0, `${title} draws a ${kind} chart (${bars} bars)`);
    await chart.screenshot({ path: path.resolve(outDir, `chart-${kind}.png`) });
  }
  step = 'token from the address';
  const fresh = await context.newPage();
  await fresh.goto(`${base}/playground#token=${encodeURIComponent(token)}`);
  await fresh.waitForSelector('[data-testid=token-status].ok');
  check(!fresh.url().includes('#'), 'a #token= link sets the token and leaves the address');
  await fresh.close();

  step = 'screenshot';
  await page.click('button[aria-label="Hide Documentation Explorer"]');
  await page.screenshot({ path: shot });
  log(`screenshot: ${shot} (and chart-*.png next to it)`);
} catch (err) {
  failures.push(`${step}: ${err.message}`);
  await page.screenshot({ path: shot }).catch(() => {});
  log(`screenshot of the failure: ${shot}`);
} finally {
  await browser.close();
}
if (blocked.length) failures.push(`requests to other hosts: ${[...new Set(blocked)].join(', ')}`);
if (consoleErrors.length) failures.push(`console errors: ${consoleErrors.join(' | ')}`);
if (failures.length) {
  for (const f of failures) console.error(`playground: FAIL ${f}`);
  process.exit(1);
}
log('all checks passed');
