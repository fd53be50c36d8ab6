// Overview: the OpenAero design's metric cards (§6.2) above the built-in
// `overview` dashboard (§6.1). Refreshes every 30 s unless the URL says otherwise.
import { renderDashboard, codeText, hintFor } from '../panels.js';
import { toSeries } from '../api.js';
import { errorBox, fmtValue, h, html, isAbort, patch } from '../util.js';

// value color: the first rule that matches wins; thresholds follow the preset's alerts.
export const CARDS = [
  { key: 'availability', title: 'Availability', expr: 'avg(availability)', unit: 'percent', suffix: '%', color: (v) => (v < 95 ? 'bad' : v < 99 ? 'warn' : 'ok') },
  { key: 'response_time', title: 'Response time', expr: 'avg(response_time)', unit: 'none', suffix: 'ms', color: (v) => (v > 2000 ? 'bad' : v > 1000 ? 'warn' : 'ok') },
  { key: 'error_rate', title: 'Error rate', expr: 'avg(error_rate)', unit: 'percent', suffix: '%', color: (v) => (v > 5 ? 'bad' : v > 1 ? 'warn' : 'ok') },
  { key: 'memory_usage', title: 'Memory usage', expr: 'avg(memory_usage)', unit: 'percent', suffix: '%', color: (v) => (v > 90 ? 'bad' : v > 75 ? 'warn' : 'ok') },
  { key: 'database_connections', title: 'DB connections', expr: 'avg(database_connections)', unit: 'percent', suffix: '%', color: (v) => (v > 80 ? 'bad' : v > 60 ? 'warn' : 'ok') },
];

/** Trend from the value an hour ago: ↗ / ↘ beyond ±1 %, else → stable. */
export function trend(now, before) {
  if (!Number.isFinite(now) || !Number.isFinite(before)) return { arrow: '', text: 'no value 1 h ago', dir: 'none' };
  if (before === 0) return now === 0 ? { arrow: '→', text: 'stable', dir: 'stable', change: 0 } : { arrow: now > 0 ? '↗' : '↘', text: 'from 0', dir: now > 0 ? 'up' : 'down' };
  const change = ((now - before) / Math.abs(before)) * 100;
  if (Math.abs(change) <= 1) return { arrow: '→', text: `${change >= 0 ? '+' : ''}${change.toFixed(1)}% · stable`, dir: 'stable', change };
  return { arrow: change > 0 ? '↗' : '↘', text: `${change > 0 ? '+' : ''}${change.toFixed(1)}%`, dir: change > 0 ? 'up' : 'down', change };
}

function fmtCard(v, card) {
  if (!Number.isFinite(v)) return fmtValue(v);
  const s = fmtValue(v, card.unit, Math.abs(v) >= 100 ? 1 : 2);
  return s.endsWith('%') ? s.slice(0, -1) : s;
}

export default function overview(ctx) {
  ctx.setDefaults({ refresh: '30s' });
  const cardsEl = h('section', { class: 'aw-cards', 'aria-label': 'Key metrics' });
  const dashEl = h('div', { class: 'aw-dash-host' });
  ctx.root.append(h('h1', { class: 'sr', text: 'Overview' }), cardsEl, dashEl);
  const cardEls = CARDS.map((c) => {
    const el = h('article', { class: 'aw-card', 'data-key': c.key, 'data-expr': c.expr });
    el.innerHTML = String(html`<h2>${c.title}</h2><div class="aw-card-main"><span class="aw-stat-value aw-nodata">…</span></div>`);
    cardsEl.append(el);
    return el;
  });
  let dash = null;

  async function loadCard(card, el) {
    // One range query gives both the value now and the value one hour ago.
    const end = Math.floor(Date.now() / 1000);
    let data;
    try {
      data = await ctx.api.queryRange(card.expr, end - 3600, end, 3600);
    } catch (e) {
      if (isAbort(e)) throw e;
      patch(el, html`<h2>${card.title}</h2>${errorBox(e)}`);
      return;
    }
    const pts = toSeries(data)[0]?.points || [];
    const now = pts.find(([t]) => t === end)?.[1];
    const before = pts.find(([t]) => t === end - 3600)?.[1];
    if (now == null) {
      patch(el, html`<h2>${card.title}</h2><div class="aw-card-main"><span class="aw-stat-value aw-nodata">No data</span></div>
        <p class="aw-empty">No <code>${card.key}</code> series yet — ${codeText(hintFor(card.key))}.</p>`);
      return;
    }
    const tr = trend(now, before);
    const tone = Number.isFinite(now) ? card.color(now) : 'muted';
    patch(el, html`<h2>${card.title}</h2>
      <div class="aw-card-main"><span class="aw-stat-value ${tone}" data-value="${String(now)}">${fmtCard(now, card)}</span><span class="aw-unit">${card.suffix}</span></div>
      <div class="aw-trend ${tr.dir}" data-trend="${tr.dir}" title="${Number.isFinite(before) ? `1 h ago: ${fmtCard(before, card)} ${card.suffix}` : 'no value one hour ago'}"><span class="arrow" aria-hidden="true">${tr.arrow}</span> ${tr.text}${tr.dir === 'none' ? '' : html` <span class="muted">vs 1 h ago</span>`}</div>`);
  }

  async function loadDash() {
    if (!dash) {
      try {
        const json = await ctx.api.get('/api/v1/dashboards/overview');
        dash = renderDashboard(dashEl, json, ctx);
      } catch (e) {
        if (isAbort(e)) throw e;
        patch(dashEl, errorBox(e, 'The overview dashboard could not be loaded: '));
        return;
      }
    }
    if (dash) await dash.load();
  }

  return {
    async load() {
      await Promise.all([...CARDS.map((c, i) => loadCard(c, cardEls[i])), loadDash()]);
    },
  };
}
