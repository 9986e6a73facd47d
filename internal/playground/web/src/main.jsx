// The loggraph playground: GraphiQL against ../graphql, a token field whose token
// goes into every query's and every live tail's Authorization, the README's
// examples as tabs, and a chart of the analytics in the active tab's result.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';
import './playground.css';
import { ChartPane } from './chart.jsx';

const TOKEN_KEY = 'loggraph:token';
const EXAMPLES_KEY = 'loggraph:examples';
const TABS_KEY = 'graphiql:tabState';

// The page is served at /playground; the endpoint is its sibling /graphql, on
// the same host and scheme (ws:// or wss:// for the live tail).
const endpoint = new URL('graphql', window.location.href);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

function readExamples() {
  const el = document.getElementById('loggraph-examples');
  try {
    return el ? JSON.parse(el.textContent) : [];
  } catch {
    return [];
  }
}

// The tabs GraphiQL stored are kept until the README's examples change: then the
// new examples replace them (history, headers and settings stay).
function resetTabsIfExamplesChanged(examples) {
  const stamp = String(examples.reduce((h, e) => (h * 31 + hash(e.query)) | 0, examples.length));
  if (localStorage.getItem(EXAMPLES_KEY) !== stamp) {
    localStorage.removeItem(TABS_KEY);
    localStorage.setItem(EXAMPLES_KEY, stamp);
  }
}

function hash(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return h;
}

// A token in the address's fragment (#token=lg_...) is taken and removed from
// the address; fragments never reach the server's logs.
function tokenFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const t = params.get('token');
  if (!t) return null;
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
  return t.trim();
}

function hasAuthorization(headers) {
  return Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
}

// checkToken asks who the token is, to tell the user at once whether it works.
async function checkToken(token) {
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { workspace { slug } role } }' }),
    });
    const body = await res.json().catch(() => null);
    const viewer = body?.data?.viewer;
    if (viewer) return { ok: true, text: `workspace ${viewer.workspace.slug} · ${viewer.role}` };
    return { ok: false, text: body?.errors?.[0]?.message || `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, text: `cannot reach ${endpoint.pathname}: ${err.message}` };
  }
}

function TokenBar({ token, onChange }) {
  const [draft, setDraft] = useState(token);
  const [status, setStatus] = useState(null);
  useEffect(() => {
    setDraft(token);
    if (!token) {
      setStatus(null);
      return;
    }
    let live = true;
    setStatus({ ok: null, text: 'checking…' });
    checkToken(token).then((s) => live && setStatus(s));
    return () => {
      live = false;
    };
  }, [token]);
  const submit = (e) => {
    e.preventDefault();
    onChange(draft.trim());
  };
  return (
    <form className="loggraph-bar" onSubmit={submit}>
      <span className="loggraph-name">loggraph</span>
      <label htmlFor="loggraph-token">API token</label>
      <input
        id="loggraph-token"
        data-testid="token-input"
        type="password"
        autoComplete="off"
        spellCheck={false}
        placeholder="lg_… (sent as Authorization: Bearer)"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
      />
      <button type="submit" data-testid="token-save">Use token</button>
      {token ? (
        <button type="button" onClick={() => onChange('')}>
          Forget
        </button>
      ) : null}
      <span
        data-testid="token-status"
        className={`loggraph-status ${status?.ok === true ? 'ok' : status?.ok === false ? 'bad' : ''}`}
      >
        {status ? status.text : 'no token: introspection and docs work, data fields answer UNAUTHENTICATED'}
      </span>
    </form>
  );
}

function App({ examples }) {
  const [token, setToken] = useState(() => localStorage.getItem(TOKEN_KEY) || '');
  const tokenRef = useRef(token);
  tokenRef.current = token;
  const changeToken = useCallback((t) => {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
    setToken(t);
  }, []);

  // One fetcher for the page's life (a new one would refetch the schema); it
  // reads the current token on each call. Introspection goes without it, so the
  // docs load whatever the token; a header set in the headers editor wins.
  const fetcher = useMemo(() => {
    const base = createGraphiQLFetcher({ url: endpoint.href, subscriptionUrl: socket.href });
    return (params, opts) => {
      const headers = { ...(opts?.headers || {}) };
      const t = tokenRef.current;
      if (t && params.operationName !== 'IntrospectionQuery' && !hasAuthorization(headers)) {
        headers.Authorization = `Bearer ${t}`;
      }
      // The live tail's connection_init carries these headers too (graphql-ws).
      return base(params, { ...opts, headers });
    };
  }, []);

  const tabs = useMemo(
    () => (examples.length ? examples.map((e) => ({ query: e.query })) : undefined),
    [examples],
  );
  return (
    <div className="loggraph-page">
      <TokenBar token={token} onChange={changeToken} />
      <div className="loggraph-graphiql">
        <GraphiQL fetcher={fetcher} defaultTabs={tabs} isHeadersEditorEnabled inputValueDeprecation>
          <GraphiQL.Logo>loggraph</GraphiQL.Logo>
          <GraphiQL.Footer>
            <ChartPane />
          </GraphiQL.Footer>
        </GraphiQL>
      </div>
    </div>
  );
}

const fromFragment = tokenFromFragment();
if (fromFragment) localStorage.setItem(TOKEN_KEY, fromFragment);
const examples = readExamples();
resetTabsIfExamplesChanged(examples);
createRoot(document.getElementById('root')).render(<App examples={examples} />);
