// Status: a read-only public status page. Overall state from /api/health
// (503 with a JSON body when something is down), each check with its 24 h and
// 30 d uptime, and SLO error budgets. Nothing on it changes anything.
import { errorBox, fmtTime, h, html, isAbort, patch, pct } from '../util.js';
import { uptimeTone } from './health.js';

const INTERNAL = { storage: 'Metrics storage', wal: 'Write-ahead log' };

export default function status(ctx) {
  ctx.setDefaults({ refresh: '1m' });
  const banner = h('div', { class: 'aw-banner muted', role: 'status' });
  const checksEl = h('section', { class: 'aw-section' }, h('h2', { text: 'Services' }));
  const checksBody = h('div');
  checksEl.append(checksBody);
  const slosEl = h('section', { class: 'aw-section', hidden: true }, h('h2', { text: 'Service level objectives' }));
  const slosBody = h('div');
  slosEl.append(slosBody);
  const foot = h('p', { class: 'muted small aw-status-foot' });
  const titleEl = h('h1', { text: 'System status' });
  ctx.root.append(h('header', { class: 'aw-status-head' }, titleEl), banner, checksEl, slosEl, foot);

  const settle = (p) => p.then((value) => ({ value }), (error) => { if (isAbort(error)) throw error; return { error }; });

  return {
    async load() {
      const [health, checks, slos] = await Promise.all([
        settle(ctx.api.get('/api/health', undefined, { ok: [503] })),
        settle(ctx.api.get('/api/v1/checks')),
        settle(ctx.api.get('/api/v1/slos')),
      ]);
      const hv = health.value;
      const st = hv && hv.status;
      const state = st === 'healthy' ? 'ok' : st === 'unhealthy' ? 'bad' : st ? 'warn' : 'muted';
      banner.className = `aw-banner ${state}`;
      banner.dataset.status = st || 'unknown';
      banner.textContent = health.error ? `Status unavailable: ${health.error.message}`
        : st === 'healthy' ? 'All systems operational' : st === 'unhealthy' ? 'Some systems are down' : `Status: ${st || 'unknown'}`;
      if (hv && hv.environment) titleEl.textContent = `System status · ${hv.environment}`;

      const byName = new Map((checks.value?.checks || []).map((c) => [c.name, c]));
      const hc = hv && hv.checks && typeof hv.checks === 'object' ? hv.checks : {};
      const names = [...new Set([...Object.keys(hc), ...byName.keys()])];
      if (!names.length) {
        patch(checksBody, health.error ? errorBox(health.error) : html`<div class="aw-empty">No services are checked yet.</div>`);
      } else {
        patch(checksBody, html`<ul class="aw-status-list">${names.map((n) => {
          const c = byName.get(n);
          const hs = hc[n];
          const up = hs ? hs.status === 'healthy' : c ? c.state === 'up' : null;
          const label = up == null ? 'Unknown' : up ? 'Operational' : 'Down';
          const u24 = c?.uptime?.h24;
          const u30 = c?.uptime?.d30;
          return html`<li data-check="${n}" data-up="${up == null ? '' : String(up)}">
            <span class="dot ${up == null ? 'muted' : up ? 'ok' : 'bad'}" aria-hidden="true"></span>
            <span class="name">${INTERNAL[n] && !c ? INTERNAL[n] : n}</span>
            <span class="state ${up == null ? 'muted' : up ? 'ok' : 'bad'}">${label}</span>
            <span class="uptimes">${c ? html`<span class="${uptimeTone(u24)}" title="uptime over the last 24 hours">24 h ${pct(u24, 2)}</span><span class="${uptimeTone(u30)}" title="uptime over the last 30 days">30 d ${pct(u30, 2)}</span>` : ''}</span>
          </li>`;
        })}</ul>`);
      }
      const list = slos.value?.slos || [];
      slosEl.hidden = !list.length && !slos.error;
      patch(slosBody, slos.error ? errorBox(slos.error) : html`<ul class="aw-status-list">${list.map((x) => {
        const b = x.errorBudgetRemaining;
        const ok = b != null && Number.isFinite(b);
        const tone = !ok ? 'muted' : b > 0.5 ? 'ok' : b > 0 ? 'warn' : 'bad';
        return html`<li data-slo="${x.name}"><span class="dot ${tone}" aria-hidden="true"></span><span class="name">${x.name}</span>
          <span class="muted small">${x.objective}% over ${x.window}</span>
          <span class="state ${tone}">${ok ? (b <= 0 ? 'budget exhausted' : `${pct(b, 1)} budget left`) : 'no data'}</span></li>`;
      })}</ul>`);
      foot.textContent = `Updated ${fmtTime(Date.now() / 1000)}${hv && hv.version ? ` · Aerowatch ${hv.version}` : ''}`;
    },
  };
}
