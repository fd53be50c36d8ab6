// Renders Grafana dashboard JSON: template variables as selects, panels on a
// 24-column grid (gridPos, else two per row), and the panel types stat,
// graph/timeseries, gauge, bargauge, table, text and row.
//
// const dash = renderDashboard(container, json, ctx);  await dash.load();
// Every panel's root has class "aw-panel", data-title and data-type.
import { toSeries, niceStep } from './api.js';
import { createChart } from './plot.js';
import { errorBox, esc, fmtDuration, fmtValue, h, html, isAbort, labelString, legendName, parseDuration, patch, raw } from './util.js';

// ---- colors and thresholds -------------------------------------------------

const NAMED = {
  red: '#f2495c', 'dark-red': '#c4162a', 'semi-dark-red': '#e02f44', 'light-red': '#ff7383', 'super-light-red': '#ffa6b0',
  orange: '#ff9830', 'dark-orange': '#fa6400', 'semi-dark-orange': '#ff780a', 'light-orange': '#ffb357', 'super-light-orange': '#ffcb7d',
  yellow: '#fade2a', 'dark-yellow': '#e0b400', 'semi-dark-yellow': '#f2cc0c', 'light-yellow': '#ffee52', 'super-light-yellow': '#fff899',
  green: '#73bf69', 'dark-green': '#37872d', 'semi-dark-green': '#56a64b', 'light-green': '#96d98d', 'super-light-green': '#c8f2c2',
  blue: '#5794f2', 'dark-blue': '#1f60c4', 'semi-dark-blue': '#3274d9', 'light-blue': '#8ab8ff', 'super-light-blue': '#c0d8ff',
  purple: '#b877d9', 'dark-purple': '#8f3bb8', 'semi-dark-purple': '#a352cc', 'light-purple': '#ca95e5', 'super-light-purple': '#deb6f2',
};
export function cssColor(c) {
  if (!c || c === 'text') return null;
  if (c === 'transparent') return 'transparent';
  return NAMED[c] || (/^[#a-z0-9(),.%\s-]+$/i.test(c) ? c : null);
}

/** Threshold steps from Grafana's fieldConfig, the OpenAero panel-level list, or old singlestat strings. */
export function thresholdSteps(panel) {
  const d = panel.fieldConfig?.defaults || {};
  let steps = d.thresholds?.steps;
  if (!Array.isArray(steps) && Array.isArray(panel.thresholds)) steps = panel.thresholds;
  if (!Array.isArray(steps) && typeof panel.thresholds === 'string' && Array.isArray(panel.colors)) {
    const vals = panel.thresholds.split(',').map(Number);
    steps = panel.colors.map((color, i) => ({ value: i === 0 ? null : vals[i - 1], color }));
  }
  if (!Array.isArray(steps)) return [];
  return steps
    .filter((s) => s && typeof s === 'object')
    .map((s) => ({ value: s.value == null || s.value === '' ? -Infinity : Number(s.value), color: s.color }))
    .filter((s) => !Number.isNaN(s.value))
    .sort((a, b) => a.value - b.value);
}

/** The color for value v: the last step whose value ≤ v (below all steps: the first step's). */
export function thresholdColor(steps, v) {
  if (!steps.length || !Number.isFinite(v)) return null;
  let c = steps[0].color;
  for (const s of steps) if (v >= s.value) c = s.color;
  return cssColor(c);
}

// ---- variables -------------------------------------------------------------

const reEscape = (s) => String(s).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Replaces $var, ${var}, ${var:fmt} and [[var]] with values from `vars`. */
export function interpolate(expr, vars) {
  return String(expr).replace(/\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)/g, (m, a, fa, b, fb, c) => {
    const k = a || b || c;
    if (!(k in vars)) return m;
    const v = vars[k];
    if (!Array.isArray(v)) return String(v);
    const fmt = fa || fb || 'regex';
    if (fmt === 'csv') return v.join(',');
    if (fmt === 'pipe') return v.join('|');
    return v.length === 1 ? reEscape(v[0]) : `(${v.map(reEscape).join('|')})`;
  });
}

function builtins(r) {
  const step = r.step;
  return {
    __interval: fmtDuration(step), __interval_ms: String(step * 1000),
    __rate_interval: fmtDuration(Math.max(step + 15, 60)),
    __range: fmtDuration(r.seconds), __range_s: String(r.seconds), __range_ms: String(r.seconds * 1000),
    __from: String(r.start * 1000), __to: String(r.end * 1000),
  };
}

function applyRegex(values, regex) {
  if (!regex) return values.map((v) => ({ text: v, value: v }));
  let re;
  try {
    const m = /^\/(.*)\/([gimsuy]*)$/s.exec(regex);
    re = m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(regex);
  } catch {
    return values.map((v) => ({ text: v, value: v }));
  }
  const out = [];
  for (const v of values) {
    const m = re.exec(v);
    if (!m) continue;
    const g = m.groups || {};
    const value = g.value ?? m[1] ?? v;
    out.push({ text: g.text ?? value, value });
  }
  return out;
}

async function variableOptions(v, vars, ctx) {
  const api = ctx.api;
  if (v.type === 'custom') {
    const q = typeof v.query === 'string' ? v.query : '';
    if (q) {
      return q.split(/(?<!\\),/).map((s) => s.replace(/\\,/g, ',').trim()).filter(Boolean).map((s) => {
        const kv = /^(.*?)\s+:\s+(.*)$/.exec(s);
        return kv ? { text: kv[1], value: kv[2] } : { text: s, value: s };
      });
    }
    return (v.options || []).map((o) => ({ text: String(o.text ?? o.value), value: String(o.value ?? o.text) }));
  }
  if (v.type === 'interval') {
    const opts = String(v.query || '1m,10m,30m,1h,6h,12h,1d').split(',').map((s) => s.trim()).filter(Boolean).map((s) => ({ text: s, value: s }));
    if (v.auto) opts.unshift({ text: 'auto', value: '$__auto' });
    return opts;
  }
  if (v.type !== 'query') return [];
  let q = v.query;
  if (q && typeof q === 'object') q = q.query;
  q = interpolate(String(q || v.definition || '').trim(), vars);
  if (!q) return [];
  let values;
  let m;
  if ((m = /^label_values\(\s*([a-zA-Z_]\w*)\s*\)$/.exec(q))) {
    values = await api.labelValues(m[1]);
  } else if ((m = /^label_values\(\s*(.+)\s*,\s*([a-zA-Z_]\w*)\s*\)$/s.exec(q))) {
    values = await api.labelValues(m[2], m[1].trim());
  } else if ((m = /^label_names\(\s*\)$/.exec(q))) {
    values = await api.get('/api/v1/labels');
  } else if ((m = /^metrics\(\s*(.*)\s*\)$/s.exec(q))) {
    const all = await api.labelValues('__name__');
    let re = null;
    try { re = m[1] ? new RegExp(m[1]) : null; } catch { re = null; }
    values = re ? all.filter((n) => re.test(n)) : all;
  } else {
    m = /^query_result\(\s*(.*)\s*\)$/s.exec(q);
    const data = await api.query(m ? m[1] : q);
    values = toSeries(data).map((s) => `${labelString(s.metric)} ${s.text ?? s.points[0][1]} ${s.points[0][0] * 1000}`);
  }
  let opts = applyRegex(values.map(String), v.regex);
  const seen = new Set();
  opts = opts.filter((o) => !seen.has(o.value) && seen.add(o.value));
  const sort = Number(v.sort) || 0;
  const byNum = (o) => Number((/-?\d+(\.\d+)?/.exec(o.text) || [NaN])[0]);
  if (sort === 1 || sort === 5) opts.sort((a, b) => a.text.localeCompare(b.text));
  else if (sort === 2 || sort === 6) opts.sort((a, b) => b.text.localeCompare(a.text));
  else if (sort === 3) opts.sort((a, b) => byNum(a) - byNum(b));
  else if (sort === 4) opts.sort((a, b) => byNum(b) - byNum(a));
  return opts;
}

// ---- empty-state hints ------------------------------------------------------

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan',
  'sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values']);

/** The metric names an expression mentions. */
export function metricNames(expr) {
  const s = String(expr).replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""').replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]');
  const out = [];
  const re = /(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])\s*(\()?/g;
  let m;
  while ((m = re.exec(s))) {
    if (m[2] || KEYWORDS.has(m[1].toLowerCase())) continue;
    const before = s.slice(0, m.index);
    if (/(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*$/i.test(before)) continue;
    if (!out.includes(m[1])) out.push(m[1]);
  }
  return out;
}

/** What to configure so that `metric` has series. */
export function hintFor(metric) {
  if (/^http_|^response_time$|^error_rate$/.test(metric)) {
    return `point a prom-client app's /metrics at Aerowatch with a scrape job, or run \`aerowatch demo\`${/^(response_time|error_rate)$/.test(metric) ? '; the recording rule needs `presets: [openaero]`' : ''}`;
  }
  if (/^probe_|^availability$/.test(metric)) return 'add HTTP/TCP checks under `checks:` in the config' + (metric === 'availability' ? ' and enable `presets: [openaero]`' : '');
  if (/^node_|^memory_usage$/.test(metric)) return 'enable the host collector (`collectors:`)' + (metric === 'memory_usage' ? ' and `presets: [openaero]`' : '');
  if (/^pg_|^database_connections$/.test(metric)) return 'add a PostgreSQL collector under `collectors:`' + (metric === 'database_connections' ? ' and enable `presets: [openaero]`' : '');
  if (/^redis_/.test(metric)) return 'add a Redis collector under `collectors:`';
  if (/^(user_registrations|orders_created)_total$/.test(metric)) return 'expose business counters from your app and scrape it, or run `aerowatch demo`';
  return 'check the scrape jobs on the Targets page';
}

/** Renders `text` with `code` spans as HTML. */
export function codeText(text) {
  return raw(esc(text).replace(/`([^`]+)`/g, '<code>$1</code>'));
}

export function emptyHint(exprs) {
  const names = exprs.flatMap(metricNames);
  if (!names.length) return html`<div class="aw-empty">No data for this query in the selected time range.</div>`;
  const n = names[0];
  return html`<div class="aw-empty">No <code>${n}</code> series yet — ${codeText(hintFor(n))}.</div>`;
}

// ---- panels -----------------------------------------------------------------

const SUPPORTED = new Set(['stat', 'singlestat', 'graph', 'timeseries', 'gauge', 'bargauge', 'table', 'table-old', 'text', 'row']);

function flattenPanels(dash) {
  const out = [];
  const add = (list) => {
    for (const p of Array.isArray(list) ? list : []) {
      if (!p || typeof p !== 'object') continue;
      out.push(p);
      if (p.type === 'row' && Array.isArray(p.panels)) add(p.panels);
    }
  };
  add(dash.panels);
  if (Array.isArray(dash.rows)) {
    for (const r of dash.rows) {
      if (r && r.title && r.showTitle !== false) out.push({ type: 'row', title: r.title });
      add(r && r.panels);
    }
  }
  return out;
}

function panelUnit(p) {
  return p.fieldConfig?.defaults?.unit || p.yaxes?.[0]?.format || p.format || 'short';
}

function panelTargets(p, vars) {
  return (Array.isArray(p.targets) ? p.targets : [])
    .filter((t) => t && typeof t === 'object' && !t.hide && typeof (t.expr ?? t.query) === 'string' && (t.expr ?? t.query).trim())
    .map((t) => ({ expr: interpolate(t.expr ?? t.query, vars), legendFormat: t.legendFormat, instant: !!t.instant, interval: t.interval, refId: t.refId }));
}

/** Step for a panel: the global auto step, raised by the panel's min interval and maxDataPoints. */
function panelStep(p, r, t) {
  let step = r.step;
  const minIv = parseDuration(String((t && t.interval) || p.interval || '').replace(/^>/, ''));
  if (minIv > 0) step = Math.max(step, minIv);
  if (p.maxDataPoints > 0) step = Math.max(step, niceStep(r.seconds, p.maxDataPoints));
  return step;
}

function createPanel(p, ctx, vars) {
  const type = String(p.type || 'graph');
  const title = String(p.title ?? '');
  const el = h('section', { class: `aw-panel aw-panel-${type.replace(/[^\w-]/g, '')}`, 'data-title': title, 'data-type': type });
  const gp = p.gridPos;
  if (gp && Number.isFinite(+gp.w) && Number.isFinite(+gp.h)) {
    const w = Math.max(1, Math.min(24, Math.round(+gp.w)));
    const x = Math.max(0, Math.min(24 - w, Math.round(+gp.x || 0)));
    el.style.setProperty('--gc', `${x + 1} / span ${w}`);
    el.style.setProperty('--h', String(Math.max(type === 'row' ? 1 : 2, Math.round(+gp.h))));
  } else {
    el.style.setProperty('--gc', type === 'row' ? '1 / -1' : 'span 12');
    el.style.setProperty('--h', type === 'row' ? '1' : '8');
  }
  if (type === 'row') {
    el.append(h('h2', { class: 'aw-row-title', text: title }));
    return { el, load: async () => {} };
  }
  const head = h('header', { class: 'aw-panel-head' }, h('h2', { text: title || '\u00a0' }));
  if (p.description) head.append(h('span', { class: 'aw-info', title: String(p.description), text: 'ⓘ', 'aria-label': String(p.description) }));
  const note = h('div', { class: 'aw-panel-note' });
  const body = h('div', { class: 'aw-panel-body' });
  el.append(head, note, body);
  const unit = panelUnit(p);
  const decimals = p.fieldConfig?.defaults?.decimals ?? p.decimals;
  const steps = thresholdSteps(p);
  let chart = null;
  const dropChart = () => { if (chart) { chart.destroy(); chart = null; } };

  function fail(errors) {
    patch(note, errors.length ? html`${errors.map((e) => errorBox(e))}` : '');
  }

  async function instantValues(targets) {
    const r = ctx.range();
    const results = await Promise.allSettled(targets.map((t) => ctx.api.query(t.expr, r.end)));
    const rows = [];
    const errors = [];
    results.forEach((res, i) => {
      if (res.status === 'rejected') { if (isAbort(res.reason)) throw res.reason; errors.push(res.reason); return; }
      for (const s of toSeries(res.value)) {
        rows.push({ name: legendName(s.metric, targets[i].legendFormat), metric: s.metric, value: s.points[0][1], text: s.text, target: i });
      }
    });
    return { rows, errors };
  }

  const loaders = {
    async series() {
      const targets = panelTargets(p, vars());
      if (!targets.length) { dropChart(); patch(body, html`<div class="aw-empty">This panel has no PromQL queries (<code>targets[].expr</code>).</div>`); return; }
      if (!chart) {
        body.replaceChildren();
        body._awHtml = null;
        chart = createChart(body, {
          unit, title, min: p.fieldConfig?.defaults?.min, max: p.fieldConfig?.defaults?.max, onRange: (a, b) => ctx.setRange(a, b),
        });
      }
      const r = ctx.range();
      const step = Math.max(...targets.map((t) => panelStep(p, r, t)));
      const results = await Promise.allSettled(targets.map((t) => ctx.api.queryRange(t.expr, r.start, r.end, step)));
      const series = [];
      const errors = [];
      results.forEach((res, i) => {
        if (res.status === 'rejected') { if (isAbort(res.reason)) throw res.reason; errors.push(res.reason); return; }
        for (const s of toSeries(res.value)) series.push({ name: legendName(s.metric, targets[i].legendFormat), labels: s.metric, points: s.points });
      });
      chart.update(series, { start: r.start, end: r.end, step });
      fail(errors);
      let empty = body.querySelector(':scope > .aw-empty');
      if (!series.length && !errors.length) {
        if (!empty) { empty = h('div'); body.append(empty); }
        empty.outerHTML = String(emptyHint(targets.map((t) => t.expr)));
      } else if (empty) empty.remove();
    },
    async stat() {
      const targets = panelTargets(p, vars());
      if (!targets.length) { patch(body, html`<div class="aw-empty">This panel has no PromQL queries.</div>`); return; }
      const { rows, errors } = await instantValues(targets);
      fail(errors);
      if (!rows.length) {
        patch(body, html`<div class="aw-stat"><span class="aw-stat-value aw-nodata">No data</span></div>${errors.length ? '' : emptyHint(targets.map((t) => t.expr))}`);
        return;
      }
      const bgMode = p.options?.colorMode === 'background';
      patch(body, html`<div class="aw-stats${rows.length > 1 ? ' multi' : ''}">${rows.map((row) => {
        const color = thresholdColor(steps, row.value);
        const text = row.text ?? fmtValue(row.value, unit, decimals);
        return html`<div class="aw-stat${bgMode && color ? ' bg' : ''}" data-bg="${bgMode && color ? color : ''}">
          <span class="aw-stat-value" data-fg="${!bgMode && color ? color : ''}" data-value="${String(row.value)}">${text}</span>
          ${rows.length > 1 ? html`<span class="aw-stat-name">${row.name}</span>` : ''}
        </div>`;
      })}</div>`);
    },
    async gauge() {
      const targets = panelTargets(p, vars());
      if (!targets.length) { patch(body, html`<div class="aw-empty">This panel has no PromQL queries.</div>`); return; }
      const { rows, errors } = await instantValues(targets);
      fail(errors);
      if (!rows.length) { patch(body, html`<div class="aw-stat"><span class="aw-stat-value aw-nodata">No data</span></div>${errors.length ? '' : emptyHint(targets.map((t) => t.expr))}`); return; }
      const d = p.fieldConfig?.defaults || {};
      const lo = Number.isFinite(+d.min) && d.min != null ? +d.min : 0;
      const maxVal = Math.max(...rows.map((r) => (Number.isFinite(r.value) ? r.value : 0)));
      const hi = Number.isFinite(+d.max) && d.max != null ? +d.max : unit === 'percentunit' ? 1 : maxVal <= 100 ? 100 : maxVal * 1.2;
      const bar = type === 'bargauge';
      patch(body, html`<div class="${bar ? 'aw-bars' : 'aw-gauges'}">${rows.map((row) => {
        const frac = Number.isFinite(row.value) ? Math.max(0, Math.min(1, (row.value - lo) / (hi - lo || 1))) : 0;
        const color = thresholdColor(steps, row.value) || 'var(--accent)';
        const text = fmtValue(row.value, unit, decimals);
        if (bar) {
          return html`<div class="aw-bar-row"><span class="n">${row.name}</span><span class="track"><span class="fill" data-w="${(frac * 100).toFixed(2)}" data-bg="${color}"></span></span><span class="aw-stat-value">${text}</span></div>`;
        }
        const a = Math.PI * (1 - frac);
        const x = 50 + 40 * Math.cos(a);
        const y = 50 - 40 * Math.sin(a);
        return html`<div class="aw-gauge"><svg viewBox="0 0 100 58" role="img" aria-label="${row.name}: ${text}">
          <path d="M10 50 A40 40 0 0 1 90 50" class="gtrack" fill="none" stroke-width="9"/>
          ${frac > 0 ? raw(`<path d="M10 50 A40 40 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}" fill="none" stroke="${esc(color)}" stroke-width="9"/>`) : ''}
        </svg><span class="aw-stat-value" data-fg="${thresholdColor(steps, row.value) || ''}">${text}</span>${rows.length > 1 ? html`<span class="aw-stat-name">${row.name}</span>` : ''}</div>`;
      })}</div>`);
    },
    async table() {
      const targets = panelTargets(p, vars());
      if (!targets.length) { patch(body, html`<div class="aw-empty">This panel has no PromQL queries.</div>`); return; }
      const { rows, errors } = await instantValues(targets);
      fail(errors);
      if (!rows.length) { patch(body, errors.length ? '' : emptyHint(targets.map((t) => t.expr))); return; }
      const cols = [...new Set(rows.flatMap((r) => Object.keys(r.metric)))].sort((a, b) => (a === '__name__' ? -1 : b === '__name__' ? 1 : a.localeCompare(b)));
      const multi = targets.length > 1;
      patch(body, html`<div class="aw-table-wrap"><table class="aw-table"><thead><tr>${multi ? html`<th>Query</th>` : ''}${cols.map((c) => html`<th>${c === '__name__' ? 'metric' : c}</th>`)}<th class="num">Value</th></tr></thead>
        <tbody>${rows.slice(0, 1000).map((r) => html`<tr>${multi ? html`<td>${targets[r.target].refId || String.fromCharCode(65 + r.target)}</td>` : ''}${cols.map((c) => html`<td>${r.metric[c] ?? ''}</td>`)}<td class="num aw-stat-value" data-fg="${thresholdColor(steps, r.value) || ''}">${r.text ?? fmtValue(r.value, unit, decimals)}</td></tr>`)}</tbody></table></div>`);
    },
    async text() {
      const content = p.options?.content ?? p.content ?? '';
      patch(body, html`<div class="aw-text">${codeText(String(content))}</div>`);
    },
    async unsupported() {
      patch(body, html`<div class="aw-empty">Panel type <code>${type}</code> is not supported here; supported: stat, graph, timeseries, gauge, bargauge, table, text.</div>`);
    },
  };
  const kind = { graph: 'series', timeseries: 'series', stat: 'stat', singlestat: 'stat', gauge: 'gauge', bargauge: 'gauge', table: 'table', 'table-old': 'table', text: 'text' }[type] || 'unsupported';
  const titleEl = head.querySelector('h2');
  return {
    el,
    async load() {
      if (title.includes('$') || title.includes('[[')) titleEl.textContent = interpolate(title, vars());
      try {
        await loaders[kind]();
      } catch (e) {
        if (isAbort(e)) throw e;
        dropChart();
        patch(note, '');
        patch(body, errorBox(e));
      }
    },
  };
}

// ---- the dashboard -----------------------------------------------------------

/**
 * Renders a Grafana dashboard model into `container`. ctx: the page context
 * (api, range(), setRange(), param(), setParams()). Returns {load()}.
 */
export function renderDashboard(container, dash, ctx) {
  dash = dash && typeof dash === 'object' ? dash : {};
  if (dash.dashboard && typeof dash.dashboard === 'object' && !Array.isArray(dash.panels)) dash = dash.dashboard;
  const varDefs = (Array.isArray(dash.templating?.list) ? dash.templating.list : []).filter((v) => v && typeof v === 'object' && v.name);
  const varBar = h('div', { class: 'aw-vars', hidden: true });
  const grid = h('div', { class: 'aw-grid' });
  container.append(varBar, grid);

  const state = {}; // name → { def, options, value }
  let varsLoaded = false;
  const vars = () => {
    const out = builtins(ctx.range());
    for (const v of varDefs) {
      const s = state[v.name];
      if (!s) continue;
      let val = s.value;
      if (val === '$__all') val = v.allValue != null && v.allValue !== '' ? v.allValue : s.options.filter((o) => o.value !== '$__all').map((o) => o.value);
      if (val === '$__auto') val = out.__interval;
      out[v.name] = val;
    }
    return out;
  };

  const panels = flattenPanels(dash)
    .map((p, i) => ({ p, i }))
    .sort((a, b) => {
      const ga = a.p.gridPos;
      const gb = b.p.gridPos;
      if (!ga || !gb) return a.i - b.i;
      return (+ga.y || 0) - (+gb.y || 0) || (+ga.x || 0) - (+gb.x || 0) || a.i - b.i;
    })
    .map(({ p }) => createPanel(p, ctx, vars));
  if (!panels.length) grid.append(h('div', { class: 'aw-empty', text: 'This dashboard has no panels.' }));
  for (const panel of panels) grid.append(panel.el);

  async function resolveVars() {
    const vals = vars();
    for (const v of varDefs) {
      const fromUrl = state[v.name] ? [state[v.name].value] : ctx.params().getAll(`var-${v.name}`);
      let options = [];
      let error = null;
      try {
        if (v.type === 'constant') options = [{ text: String(v.query ?? ''), value: String(v.query ?? '') }];
        else if (v.type === 'textbox') options = [];
        else options = await variableOptions(v, vals, ctx);
      } catch (e) {
        if (isAbort(e)) throw e;
        error = e;
      }
      if (v.includeAll && v.type !== 'constant') options = [{ text: 'All', value: '$__all' }, ...options];
      let cur = v.current?.value;
      if (Array.isArray(cur)) cur = cur[0];
      let value = fromUrl.length ? fromUrl[0] : cur;
      if (v.type === 'textbox') value = value ?? String(v.query ?? '');
      else if (v.type === 'datasource' || v.type === 'adhoc') value = value ?? '';
      else if (!options.some((o) => o.value === value) && !(value === '$__all' && v.includeAll)) value = options.length ? options[0].value : (value ?? '');
      if (value === 'All' && v.includeAll) value = '$__all';
      state[v.name] = { def: v, options, value, error };
      Object.assign(vals, vars());
    }
    renderVarBar();
  }

  function renderVarBar() {
    const shown = varDefs.filter((v) => Number(v.hide) !== 2 && v.type !== 'constant' && v.type !== 'datasource' && v.type !== 'adhoc');
    varBar.hidden = !shown.length;
    patch(varBar, html`${shown.map((v) => {
      const s = state[v.name];
      const label = v.label || v.name;
      const id = `var-${v.name}`;
      if (v.type === 'textbox') {
        return html`<label class="aw-var">${label}<input name="${id}" data-var="${v.name}" data-key="${id}" value="${s.value}"></label>`;
      }
      return html`<label class="aw-var">${label}<select name="${id}" data-var="${v.name}" data-key="${id}">
        ${s.options.length ? '' : html`<option value="">(none)</option>`}
        ${s.options.map((o) => html`<option value="${o.value}"${raw(o.value === s.value ? ' selected' : '')}>${o.text}</option>`)}
      </select>${s.error ? html`<span class="bad small" title="${s.error.message}">!</span>` : ''}</label>`;
    })}`);
  }

  varBar.addEventListener('change', (ev) => {
    const name = ev.target.dataset.var;
    if (!name || !state[name]) return;
    state[name].value = ev.target.value;
    ctx.setParams({ [`var-${name}`]: ev.target.value });
    // Re-resolve the variables after it (they may depend on it), then the panels.
    (async () => {
      const idx = varDefs.findIndex((v) => v.name === name);
      const later = varDefs.slice(idx + 1).filter((v) => v.type === 'query');
      if (later.length) await resolveVars();
      await Promise.all(panels.map((p) => p.load()));
    })().catch((e) => { if (!isAbort(e)) patch(varBar, errorBox(e)); });
  });

  return {
    async load() {
      if (!varsLoaded) {
        await resolveVars();
        varsLoaded = true;
      }
      await Promise.all(panels.map((p) => p.load()));
    },
  };
}
