// Health: checks with uptime bars (24 h / 7 d / 30 d) and hourly history,
// SLOs with error budgets and burn rates, recovery attempts, state changes.
import { toSeries } from '../api.js';
import { badge, errorBox, fmtDuration, fmtTime, fmtValue, h, html, isAbort, patch, pct, raw, timeAgo, toneOf } from '../util.js';

/** Tone of an availability ratio (0..1). */
export const uptimeTone = (r) => (r == null || !Number.isFinite(r) ? 'muted' : r >= 0.999 ? 'ok' : r >= 0.99 ? 'warn' : 'bad');

/** One labelled bar per uptime window. */
export function uptimeBars(uptime = {}) {
  return html`<div class="aw-uptime">${[['h24', '24 h'], ['d7', '7 d'], ['d30', '30 d']].map(([k, label]) => {
    const r = uptime ? uptime[k] : null;
    const ok = r != null && Number.isFinite(r);
    return html`<div class="aw-uptime-row" data-window="${k}" data-ratio="${ok ? r : ''}">
      <span class="lbl">${label}</span>
      <span class="track" role="img" aria-label="${label} uptime ${ok ? pct(r, 3) : 'no data'}"><span class="fill ${uptimeTone(r)}" data-w="${ok ? (r * 100).toFixed(3) : 0}"></span></span>
      <span class="pct">${ok ? pct(r, 3) : 'no data'}</span></div>`;
  })}</div>`;
}

function historyStrip(points, end) {
  // 24 hourly buckets ending now; each holds avg_over_time(probe_success[1h]) at its end.
  const byT = new Map(points.map(([t, v]) => [Math.round(t), v]));
  const cells = [];
  for (let i = 0; i < 24; i++) {
    const t = end - (23 - i) * 3600;
    const v = byT.get(t);
    const tone = v == null || !Number.isFinite(v) ? 'none' : uptimeTone(v);
    cells.push(`<rect x="${i * 10}" y="0" width="8" height="18" rx="1.5" class="${tone}"><title>${fmtTime(t - 3600).slice(11, 16)}–${fmtTime(t).slice(11, 16)}: ${v == null ? 'no data' : pct(v, 2)}</title></rect>`);
  }
  return raw(`<svg class="aw-history" viewBox="0 0 238 18" preserveAspectRatio="none" role="img" aria-label="hourly availability over the last 24 hours">${cells.join('')}</svg>`);
}

export default function health(ctx) {
  const api = ctx.api;
  const mk = (key, title) => {
    const body = h('div', { class: 'aw-section-body' });
    return { el: h('section', { class: `aw-section aw-${key}`, id: key }, h('h2', { text: title }), body), body };
  };
  const s = { checks: mk('checks', 'Checks'), slos: mk('slos', 'SLOs'), recovery: mk('recovery', 'Recovery attempts'), events: mk('events', 'State changes') };
  ctx.root.append(h('h1', { text: 'Health' }), ...Object.values(s).map((x) => x.el));

  function renderChecks(res, hist, end) {
    if (res.error) { patch(s.checks.body, errorBox(res.error)); return; }
    const checks = res.value?.checks || [];
    if (!checks.length) {
      patch(s.checks.body, html`<div class="aw-empty">No checks configured. Add HTTP, TCP, DNS, PostgreSQL, Redis or command checks under <code>checks:</code> in the config.</div>`);
      return;
    }
    const histBy = new Map();
    if (hist.value) for (const x of toSeries(hist.value)) histBy.set(x.metric.check, x.points);
    const up = checks.filter((c) => c.state === 'up').length;
    patch(s.checks.body, html`<p class="muted small">${up} of ${checks.length} up${hist.error ? html` · <span class="bad">history: ${hist.error.message}</span>` : ''}</p>
      <div class="aw-check-grid">${checks.map((c) => {
        const last = c.last || {};
        return html`<article class="aw-check ${c.state}" data-check="${c.name}" data-state="${c.state}">
          <header>${badge(c.state, toneOf(c.state))}<h3>${c.name}</h3><span class="muted small">${c.kind}</span></header>
          <dl class="aw-kv">
            <dt>Last check</dt><dd>${last.at ? timeAgo(last.at) : 'never'}</dd>
            <dt>Latency</dt><dd>${last.duration_seconds != null ? fmtValue(last.duration_seconds, 's') : '—'}</dd>
            ${last.http_status != null ? html`<dt>HTTP status</dt><dd>${last.http_status}</dd>` : ''}
            ${last.tls_cert_expiry != null ? html`<dt>Certificate</dt><dd>expires ${timeAgo(last.tls_cert_expiry)}</dd>` : ''}
            <dt>Streak</dt><dd>${c.state === 'down' ? `${c.consecutive_failures} failed` : `${c.consecutive_successes} ok`}</dd>
          </dl>
          ${last.error ? html`<p class="bad small aw-check-error">${last.error}</p>` : ''}
          ${uptimeBars(c.uptime)}
          ${histBy.has(c.name) ? html`<div class="aw-history-wrap"><span class="muted small">last 24 h, hourly</span>${historyStrip(histBy.get(c.name), end)}</div>` : ''}
        </article>`;
      })}</div>`);
  }

  function renderSlos(res) {
    if (res.error) { patch(s.slos.body, errorBox(res.error)); return; }
    const slos = res.value?.slos || (Array.isArray(res.value) ? res.value : []);
    if (!slos.length) {
      patch(s.slos.body, html`<div class="aw-empty">No SLOs defined. Add an objective under <code>slos:</code> (on a check, or a good/total counter pair).</div>`);
      return;
    }
    const windows = [...new Set(slos.flatMap((x) => Object.keys(x.burnRate || {})))];
    patch(s.slos.body, html`<div class="aw-table-wrap"><table class="aw-table">
      <thead><tr><th>SLO</th><th class="num">Objective</th><th>Window</th><th>Error budget remaining</th>${windows.map((w) => html`<th class="num">Burn ${w}</th>`)}</tr></thead>
      <tbody>${slos.map((x) => {
        const b = x.errorBudgetRemaining;
        const ok = b != null && Number.isFinite(b);
        const tone = !ok ? 'muted' : b > 0.5 ? 'ok' : b > 0 ? 'warn' : 'bad';
        return html`<tr data-slo="${x.name}">
          <td><strong>${x.name}</strong><div class="muted small">${Object.entries(x.sli || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ')}</div></td>
          <td class="num">${x.objective}%</td>
          <td>${x.window}</td>
          <td><div class="aw-budget" data-budget="${ok ? b : ''}"><span class="track"><span class="fill ${tone}" data-w="${ok ? (Math.max(0, b) * 100).toFixed(2) : 0}"></span></span>
            <span class="${tone}">${ok ? (b <= 0 ? `exhausted (${pct(b, 1)})` : pct(b, 2)) : 'no data'}</span></div></td>
          ${windows.map((w) => {
            const r = x.burnRate?.[w];
            return html`<td class="num ${r > 14.4 ? 'bad' : r > 1 ? 'warn' : ''}">${r == null || !Number.isFinite(r) ? '—' : `${fmtValue(r, 'none')}×`}</td>`;
          })}</tr>`;
      })}</tbody></table></div>`);
  }

  function renderRecovery(res) {
    if (res.error) { patch(s.recovery.body, errorBox(res.error)); return; }
    const list = (Array.isArray(res.value) ? res.value : res.value?.attempts || []).slice()
      .sort((a, b) => (b.started_at || 0) - (a.started_at || 0) || (b.id || 0) - (a.id || 0));
    if (!list.length) {
      patch(s.recovery.body, html`<div class="aw-empty">No recovery attempts. Strategies are configured under <code>recovery:</code> (triggered by a check going down or an alert firing).</div>`);
      return;
    }
    const shown = list.slice(0, 100);
    patch(s.recovery.body, html`<div class="aw-table-wrap"><table class="aw-table">
      <thead><tr><th>Started</th><th>Strategy</th><th>Trigger</th><th class="num">Attempt</th><th>Action</th><th>Outcome</th><th class="num">Took</th></tr></thead>
      <tbody>${shown.map((a) => html`<tr data-attempt="${a.id}">
        <td>${timeAgo(a.started_at)}</td><td><strong>${a.strategy}</strong></td><td class="mono small">${a.trigger}</td>
        <td class="num">${a.attempt}</td><td class="mono small">${a.action}</td>
        <td>${badge(String(a.outcome || '?').replace(/_/g, ' '), toneOf(a.outcome))}${a.error ? html`<div class="bad small">${a.error}</div>` : ''}
          ${a.stdout_tail ? html`<details><summary class="small">output</summary><pre class="small">${a.stdout_tail}</pre></details>` : ''}</td>
        <td class="num">${a.finished_at && a.started_at ? fmtDuration((a.finished_at - a.started_at) / 1000) : a.finished_at ? '' : 'running'}</td></tr>`)}</tbody></table></div>
      ${list.length > shown.length ? html`<p class="muted small">Showing the latest ${shown.length} of ${list.length}.</p>` : ''}`);
  }

  function renderEvents(res) {
    if (res.error) { patch(s.events.body, errorBox(res.error)); return; }
    const list = (res.value?.events || []).slice().sort((a, b) => (b.at || 0) - (a.at || 0));
    if (!list.length) { patch(s.events.body, html`<div class="aw-empty">No state changes recorded yet.</div>`); return; }
    patch(s.events.body, html`<div class="aw-table-wrap"><table class="aw-table">
      <thead><tr><th>When</th><th>Check</th><th>Change</th><th>Error</th></tr></thead>
      <tbody>${list.slice(0, 200).map((e) => html`<tr><td>${timeAgo(e.at)}</td><td>${e.check}</td>
        <td>${badge(e.from, toneOf(e.from))} → ${badge(e.to, toneOf(e.to))}</td><td class="small ${e.error ? 'bad' : 'muted'}">${e.error || ''}</td></tr>`)}</tbody></table></div>`);
  }

  const settle = (p) => p.then((value) => ({ value }), (error) => { if (isAbort(error)) throw error; return { error }; });

  return {
    async load() {
      const end = Math.floor(Date.now() / 1000);
      const [checks, slos, rec, hist] = await Promise.all([
        settle(api.get('/api/v1/checks')),
        settle(api.get('/api/v1/slos')),
        settle(api.get('/api/v1/recovery/attempts')),
        settle(api.queryRange('avg by (check) (avg_over_time(probe_success[1h]))', end - 23 * 3600, end, 3600)),
      ]);
      renderChecks(checks, hist, end);
      renderSlos(slos);
      renderRecovery(rec);
      renderEvents(checks);
    },
  };
}
