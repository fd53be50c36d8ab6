// Dashboards: the list (built-in, config files, imported) with a Grafana
// JSON import form; /dashboards/<id> renders one.
import { renderDashboard } from '../panels.js';
import { RANGES } from '../app.js';
import { badge, errorBox, h, html, isAbort, patch } from '../util.js';

function listPage(ctx) {
  const api = ctx.api;
  ctx.root.innerHTML = String(html`
    <h1>Dashboards</h1>
    <section class="aw-section"><div class="aw-flash" aria-live="polite"></div><div class="aw-dash-list"></div></section>
    <section class="aw-section aw-import">
      <h2>Import Grafana JSON</h2>
      <form>
        <label for="aw-import-json">Paste a dashboard exported from Grafana (<code>{"dashboard": {...}}</code> or the bare model). Panels of type stat, graph, timeseries, gauge, bargauge and table with PromQL targets are drawn.</label>
        <textarea id="aw-import-json" name="dashboard" rows="8" spellcheck="false" placeholder='{"dashboard": {"title": "My dashboard", "panels": [...]}}'></textarea>
        <div class="aw-toolbar">
          <button type="submit" class="primary">Import</button>
          <label class="aw-file">or load a file <input type="file" name="file" accept=".json,application/json"></label>
        </div>
        <div class="aw-import-result" aria-live="polite"></div>
      </form>
    </section>`);
  const listEl = ctx.root.querySelector('.aw-dash-list');
  const flash = ctx.root.querySelector('.aw-flash');
  const form = ctx.root.querySelector('form');
  const ta = form.querySelector('textarea');
  const out = form.querySelector('.aw-import-result');
  const armed = new Set();

  form.querySelector('input[type=file]').addEventListener('change', async (ev) => {
    const f = ev.target.files && ev.target.files[0];
    if (f) ta.value = await f.text();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = ta.value.trim();
    if (!text) { patch(out, errorBox('Paste a dashboard JSON first.')); return; }
    let body;
    try { body = JSON.parse(text); } catch (e) { patch(out, errorBox(`Not valid JSON: ${e.message}`)); return; }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    if (ctx.isCurrent()) document.body.dataset.ready = '0';
    try {
      const res = await api.post('/api/v1/dashboards', body);
      const id = res && (res.id ?? res.uid);
      patch(out, html`<p class="ok">Imported: <a href="/dashboards/${encodeURIComponent(id)}" data-imported="${id}">open “${(body.dashboard || body).title || id}”</a></p>`);
      ta.value = '';
    } catch (e) {
      if (isAbort(e)) return;
      patch(out, errorBox(e, 'Import failed: '));
    } finally {
      btn.disabled = false;
    }
    await ctx.reload(true);
  });

  listEl.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-delete]');
    if (!b) return;
    const id = b.dataset.delete;
    if (!armed.has(id)) {
      armed.add(id);
      b.textContent = 'Really delete?';
      b.classList.add('danger');
      setTimeout(() => { armed.delete(id); if (b.isConnected) { b.textContent = 'Delete'; b.classList.remove('danger'); } }, 4000);
      return;
    }
    b.disabled = true;
    if (ctx.isCurrent()) document.body.dataset.ready = '0';
    try {
      await api.del(`/api/v1/dashboards/${encodeURIComponent(id)}`);
      patch(flash, html`<p class="ok small">Deleted ${id}.</p>`);
    } catch (e) {
      if (isAbort(e)) return;
      patch(flash, errorBox(e, 'Delete failed: '));
    }
    await ctx.reload(true);
  });

  return {
    async load() {
      let list;
      try {
        list = await api.get('/api/v1/dashboards');
      } catch (e) {
        if (isAbort(e)) throw e;
        patch(listEl, errorBox(e, 'Could not list dashboards: '));
        return;
      }
      list = Array.isArray(list) ? list : list?.dashboards || [];
      if (!list.length) { patch(listEl, html`<div class="aw-empty">No dashboards yet. Import one below, or list Grafana JSON files under <code>dashboards:</code> in the config.</div>`); return; }
      patch(listEl, html`<div class="aw-table-wrap"><table class="aw-table">
        <thead><tr><th>Title</th><th>Source</th><th><span class="sr">Actions</span></th></tr></thead>
        <tbody>${list.map((d) => html`<tr data-dashboard="${d.id}"><td><a href="/dashboards/${encodeURIComponent(d.id)}">${d.title || d.id}</a> <span class="muted small mono">${d.id}</span></td>
          <td>${badge(d.source || '?', d.source === 'builtin' ? 'info' : 'muted')}</td>
          <td>${d.source === 'imported' ? html`<button type="button" class="small" data-delete="${d.id}" data-key="del-${d.id}">Delete</button>` : ''}</td></tr>`)}</tbody></table></div>`);
    },
  };
}

function viewPage(ctx) {
  const head = h('div', { class: 'aw-title-row' }, h('h1', { text: 'Dashboard' }), h('a', { href: '/dashboards', class: 'small', text: 'All dashboards' }));
  const host = h('div', { class: 'aw-dash-host' });
  ctx.root.append(head, host);
  let dash = null;
  return {
    async load() {
      if (!dash) {
        let json;
        try {
          json = await ctx.api.get(`/api/v1/dashboards/${encodeURIComponent(ctx.id)}`);
        } catch (e) {
          if (isAbort(e)) throw e;
          patch(host, errorBox(e, `Dashboard “${ctx.id}” could not be loaded: `));
          return;
        }
        const model = json && json.dashboard && !Array.isArray(json.panels) ? json.dashboard : json || {};
        const title = String(model.title || ctx.id);
        head.querySelector('h1').textContent = title;
        ctx.setTitle(title);
        const defaults = {};
        const m = /^now-(\d+[mhd])$/.exec(model.time?.from || '');
        if (m && (model.time.to || 'now') === 'now') {
          const key = m[1] === '24h' || m[1] === '1d' ? '24h' : m[1];
          if (RANGES[key]) defaults.range = key;
        }
        if (['10s', '30s', '1m', '5m'].includes(model.refresh)) defaults.refresh = model.refresh;
        ctx.setDefaults(defaults);
        host.replaceChildren();
        host._awHtml = null;
        dash = renderDashboard(host, model, ctx);
      }
      await dash.load();
    },
  };
}

export default function dashboards(ctx) {
  return ctx.id ? viewPage(ctx) : listPage(ctx);
}
