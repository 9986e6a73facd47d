// Charts of the analytics in the active tab's result, drawn as SVG: logHistogram
// (buckets stacked by severity over time), apiRequestStats rows and logFacets
// (horizontal bars). Fields are found by the shape of their value, so aliases work.
import { useMemo, useState } from 'react';
import { useEditorContext } from '@graphiql/react';

const SEVERITIES = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const SEVERITY_COLORS = {
  DEBUG: '#9aa5b1',
  INFO: '#3b82f6',
  WARN: '#f59e0b',
  ERROR: '#ef4444',
  FATAL: '#7c2d92',
};
const BAR_COLOR = '#3b82f6';
const OTHER_COLOR = '#9aa5b1';
const WIDTH = 720;

// The group fields of an apiRequestStats row, in the order a label names them.
const STATS_GROUPS = ['client', 'collection', 'collectionType', 'endpoint', 'code', 'codeClass', 'gatewayCode', 'bucket'];

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// findCharts walks a result's data and returns what it can draw, in order.
export function findCharts(data) {
  const charts = [];
  const walk = (value, name, depth) => {
    if (depth > 6 || value === null || typeof value !== 'object') return;
    if (isObject(value) && Array.isArray(value.buckets) && value.buckets.every((b) => isObject(b) && 'start' in b)) {
      charts.push({ kind: 'histogram', name, interval: value.interval, buckets: value.buckets });
      return;
    }
    if (
      isObject(value) &&
      Array.isArray(value.rows) &&
      value.rows.length > 0 &&
      value.rows.every((r) => isObject(r) && measures(r).length > 0 && ('other' in r || 'count' in r))
    ) {
      charts.push({ kind: 'stats', name, rows: value.rows });
      return;
    }
    if (
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((f) => isObject(f) && 'field' in f && Array.isArray(f.values))
    ) {
      charts.push({ kind: 'facets', name, facets: value });
      return;
    }
    for (const [k, v] of Object.entries(value)) walk(v, Array.isArray(value) ? `${name}[${k}]` : k, depth + 1);
  };
  if (isObject(data)) walk(data, 'data', 0);
  return charts;
}

// measures lists a stats row's numeric leaves: count, errorRate, timing.p95...
function measures(row) {
  const out = [];
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'number' && !STATS_GROUPS.includes(k)) out.push(k);
    else if (isObject(v)) for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number') out.push(`${k}.${k2}`);
  }
  return out;
}

function measureOf(row, m) {
  return m.split('.').reduce((v, k) => (v == null ? v : v[k]), row) ?? 0;
}

function parseResult(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// The query's timeZone argument, if any, names the zone the histogram's bucket
// starts (always UTC in the result) are labelled in.
function timeZoneOf(query) {
  const m = /timeZone\s*:\s*"([^"]+)"/.exec(query || '');
  if (!m) return 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: m[1] });
    return m[1];
  } catch {
    return 'UTC';
  }
}

export function ChartPane() {
  const { tabs, activeTabIndex } = useEditorContext({ nonNull: true });
  const tab = tabs[activeTabIndex];
  const [hidden, setHidden] = useState(false);
  const charts = useMemo(() => findCharts(parseResult(tab?.response)?.data), [tab?.response]);
  if (charts.length === 0) return null;
  const zone = timeZoneOf(tab?.query);
  return (
    <div className="loggraph-charts" data-testid="charts">
      <div className="loggraph-charts-head">
        <span>Chart of this result</span>
        <button type="button" onClick={() => setHidden(!hidden)}>
          {hidden ? 'show' : 'hide'}
        </button>
      </div>
      {hidden
        ? null
        : charts.map((c, i) => (
            <figure key={`${c.kind}-${c.name}-${i}`} className="loggraph-chart" data-testid="chart" data-kind={c.kind}>
              <figcaption>
                {c.name}
                {c.kind === 'histogram' && c.interval ? ` · ${c.interval} buckets · ${zone}` : ''}
              </figcaption>
              {c.kind === 'histogram' ? <Histogram chart={c} zone={zone} /> : null}
              {c.kind === 'stats' ? <StatsBars rows={c.rows} /> : null}
              {c.kind === 'facets' ? c.facets.map((f, j) => <FacetBars key={`${f.field}-${j}`} facet={f} />) : null}
            </figure>
          ))}
    </div>
  );
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en');
  return v.toLocaleString('en', { maximumFractionDigits: Math.abs(v) < 1 ? 3 : 1 });
}

function Histogram({ chart, zone }) {
  const { buckets } = chart;
  const height = 220;
  const m = { top: 10, right: 10, bottom: 28, left: 52 };
  const plotW = WIDTH - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const bySeverity = buckets.some((b) => Array.isArray(b.bySeverity) && b.bySeverity.length > 0);
  const present = bySeverity
    ? SEVERITIES.filter((s) => buckets.some((b) => b.bySeverity?.some((x) => x.severity === s && x.count > 0)))
    : [];
  const totals = buckets.map((b) =>
    bySeverity ? (b.bySeverity || []).reduce((n, x) => n + (x.count || 0), 0) : b.count || 0,
  );
  const max = niceMax(Math.max(0, ...totals));
  const bw = buckets.length ? plotW / buckets.length : plotW;
  const gap = bw > 4 ? 1 : 0;
  const y = (v) => m.top + plotH - (v / max) * plotH;
  const spansDays = buckets.length > 1 && Date.parse(buckets[buckets.length - 1].start) - Date.parse(buckets[0].start) >= 86400000;
  const dayBuckets = /^\d+(d|w)$/.test(chart.interval || '');
  const fmt = new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    ...(dayBuckets ? { month: 'short', day: 'numeric' } : spansDays ? { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' } : { hour: '2-digit', minute: '2-digit' }),
  });
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  return (
    <div>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="img" aria-label="histogram">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={m.left} x2={WIDTH - m.right} y1={y(max * f)} y2={y(max * f)} className="loggraph-grid" />
            <text x={m.left - 6} y={y(max * f) + 4} textAnchor="end" className="loggraph-axis">
              {formatNumber(max * f)}
            </text>
          </g>
        ))}
        {buckets.map((b, i) => {
          const x = m.left + i * bw + gap / 2;
          const w = Math.max(bw - gap, 0.5);
          const when = fmt.format(new Date(b.start));
          if (!bySeverity) {
            return (
              <rect key={i} x={x} y={y(b.count || 0)} width={w} height={plotH + m.top - y(b.count || 0)} fill={BAR_COLOR} data-testid="bar">
                <title>{`${when}: ${formatNumber(b.count || 0)}`}</title>
              </rect>
            );
          }
          let base = 0;
          return (
            <g key={i}>
              {SEVERITIES.map((s) => {
                const n = b.bySeverity.find((x) => x.severity === s)?.count || 0;
                if (n === 0) return null;
                const top = y(base + n);
                const r = (
                  <rect key={s} x={x} y={top} width={w} height={y(base) - top} fill={SEVERITY_COLORS[s]} data-testid="bar">
                    <title>{`${when} ${s}: ${formatNumber(n)} of ${formatNumber(totals[i])}`}</title>
                  </rect>
                );
                base += n;
                return r;
              })}
            </g>
          );
        })}
        {buckets.map((b, i) =>
          i % labelEvery === 0 ? (
            <text key={i} x={m.left + i * bw + bw / 2} y={height - 10} textAnchor="middle" className="loggraph-axis">
              {fmt.format(new Date(b.start))}
            </text>
          ) : null,
        )}
      </svg>
      {present.length ? (
        <div className="loggraph-legend">
          {present.map((s) => (
            <span key={s}>
              <i style={{ background: SEVERITY_COLORS[s] }} />
              {s}
            </span>
          ))}
        </div>
      ) : null}
    </div>
  );
}

// Bars draws labelled horizontal bars; items are {label, value, other}.
function Bars({ items, unit }) {
  const row = 20;
  const m = { top: 6, right: 70, bottom: 6, left: 230 };
  const height = m.top + m.bottom + row * items.length;
  const plotW = WIDTH - m.left - m.right;
  const max = Math.max(0, ...items.map((it) => it.value)) || 1;
  const clip = (s) => (s.length > 34 ? `${s.slice(0, 33)}…` : s);
  return (
    <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="img" aria-label="bars">
      {items.map((it, i) => {
        const yy = m.top + i * row;
        const w = Math.max((it.value / max) * plotW, it.value > 0 ? 1 : 0);
        return (
          <g key={i}>
            <text x={m.left - 6} y={yy + row / 2 + 4} textAnchor="end" className="loggraph-axis">
              <title>{it.label}</title>
              {clip(it.label)}
            </text>
            <rect x={m.left} y={yy + 3} width={w} height={row - 6} fill={it.other ? OTHER_COLOR : BAR_COLOR} data-testid="bar">
              <title>{`${it.label}: ${formatNumber(it.value)}${unit || ''}`}</title>
            </rect>
            <text x={m.left + w + 4} y={yy + row / 2 + 4} className="loggraph-axis">
              {formatNumber(it.value)}
              {unit || ''}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function statsLabel(row) {
  if (row.other) return 'other';
  const parts = STATS_GROUPS.filter((g) => row[g] !== undefined && row[g] !== null).map((g) => String(row[g]));
  return parts.length ? parts.join(' · ') : 'all requests';
}

function StatsBars({ rows }) {
  const options = measures(rows[0]);
  const [picked, setPicked] = useState(null);
  const measure = picked && options.includes(picked) ? picked : options.includes('timing.p95') ? 'timing.p95' : options.includes('count') ? 'count' : options[0];
  const unit = /^(timing|delay)\./.test(measure) ? ' ms' : '';
  return (
    <div>
      <label className="loggraph-measure">
        bar length:{' '}
        <select value={measure} onChange={(e) => setPicked(e.target.value)} data-testid="measure">
          {options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </label>
      <Bars items={rows.map((r) => ({ label: statsLabel(r), value: measureOf(r, measure), other: !!r.other }))} unit={unit} />
    </div>
  );
}

function FacetBars({ facet }) {
  const items = facet.values.map((v) => ({ label: String(v.value), value: v.count || 0 }));
  if (facet.otherCount) items.push({ label: "other values", value: facet.otherCount, other: true });
  return (
    <div className="loggraph-facet">
      <div className="loggraph-facet-name">{facet.field}</div>
      {items.length ? <Bars items={items} /> : <div className="loggraph-empty">no values</div>}
    </div>
  );
}
