// Targets: scrape targets grouped by scrape pool.
import { badge, errorBox, fmtValue, h, html, isAbort, labelChips, patch, raw, timeAgo, toneOf } from '../util.js';

export default function targets(ctx) {
  const body = h('div', { class: 'aw-section-body' });
  const onlyBad = h('input', { type: 'checkbox', name: 'unhealthy', id: 'aw-only-bad' });
  onlyBad.checked = ctx.param('unhealthy') === '1';
  ctx.root.append(
    h('div', { class: 'aw-title-row' }, h('h1', { text: 'Targets' }),
      h('label', { class: 'aw-check-label' }, onlyBad, ' Only unhealthy')),
    body,
  );
  let last = null;
  onlyBad.addEventListener('change', () => {
    ctx.setParams({ unhealthy: onlyBad.checked ? '1' : null });
    if (last) render(last);
  });

  function render(res) {
    last = res;
    if (res.error) { patch(body, errorBox(res.error)); return; }
    const active = res.value?.activeTargets || [];
    const dropped = res.value?.droppedTargets || [];
    if (!active.length) {
      patch(body, html`<div class="aw-empty">No scrape targets. Add jobs under <code>scrape_configs:</code> in the config (static targets or file SD), or push with <code>remote_write</code>.</div>`);
      return;
    }
    const pools = new Map();
    for (const t of active) {
      const k = t.scrapePool || t.labels?.job || '(none)';
      if (!pools.has(k)) pools.set(k, []);
      pools.get(k).push(t);
    }
    const names = [...pools.keys()].sort();
    const filter = onlyBad.checked;
    const parts = names.map((name) => {
      const all = pools.get(name);
      const list = filter ? all.filter((t) => t.health !== 'up') : all;
      if (!list.length) return '';
      const up = all.filter((t) => t.health === 'up').length;
      return html`<section class="aw-pool" data-pool="${name}">
        <h2>${name} <span class="badge ${up === all.length ? 'ok' : up === 0 ? 'bad' : 'warn'}">${up}/${all.length} up</span></h2>
        <div class="aw-table-wrap"><table class="aw-table">
          <thead><tr><th>Endpoint</th><th>State</th><th>Labels</th><th>Last scrape</th><th class="num">Duration</th><th>Error</th></tr></thead>
          <tbody>${list.map((t) => html`<tr data-target="${t.scrapeUrl}" data-health="${t.health}">
            <td class="mono small"><a href="${/^https?:/i.test(t.scrapeUrl || '') ? t.scrapeUrl : '#'}" rel="noopener noreferrer" target="_blank">${t.scrapeUrl}</a></td>
            <td>${badge(t.health, toneOf(t.health))}</td>
            <td><div class="chips">${labelChips(t.labels)}</div></td>
            <td>${timeAgo(t.lastScrape)}${t.scrapeInterval ? html`<div class="muted small">every ${t.scrapeInterval}</div>` : ''}</td>
            <td class="num">${t.lastScrapeDuration ? fmtValue(t.lastScrapeDuration, 's') : '—'}</td>
            <td class="bad small">${t.lastError || ''}</td></tr>`)}</tbody></table></div></section>`;
    });
    const shown = parts.filter((p) => p !== '');
    patch(body, html`${shown.length ? raw(shown.join('')) : html`<div class="aw-empty">All ${active.length} targets are up.</div>`}
      ${dropped.length ? html`<p class="muted small">${dropped.length} dropped by relabelling.</p>` : ''}`);
  }

  return {
    async load() {
      try {
        render({ value: await ctx.api.get('/api/v1/targets') });
      } catch (e) {
        if (isAbort(e)) throw e;
        render({ error: e });
      }
    },
  };
}
