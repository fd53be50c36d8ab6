// Explore: a PromQL editor with completion (metric names, label names, label
// values), instant/range queries, Graph and Table views, and parse errors
// marked at their position. State lives in the URL: ?q=&mode=&tab=&step=.
import { toSeries } from '../api.js';
import { createChart } from '../plot.js';
import { errorBox, esc, fmtDuration, fmtTime, fmtValue, h, html, isAbort, labelString, parseDuration, patch } from '../util.js';

const FUNCTIONS = ('abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min count_over_time day_of_month day_of_week day_of_year ' +
  'days_in_month delta deriv exp floor histogram_quantile holt_winters hour idelta increase irate label_join label_replace last_over_time ln log10 log2 ' +
  'max_over_time min_over_time minute month predict_linear present_over_time quantile_over_time rate resets round scalar sgn sort sort_desc sqrt ' +
  'stddev_over_time stdvar_over_time sum_over_time time timestamp vector year acos asin atan cos sin tan deg rad pi').split(' ');
const AGGREGATIONS = 'sum avg min max count group stddev stdvar topk bottomk quantile count_values'.split(' ');
const KEYWORDS = 'by without on ignoring group_left group_right offset bool and or unless'.split(' ');

// Completion data, cached for a minute across visits.
const cache = new Map();
function cached(key, fn) {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < 60000) return hit.p;
  const p = fn().catch(() => { cache.delete(key); return []; });
  cache.set(key, { at: Date.now(), p });
  return p;
}

const stripStrings = (s) => s.replace(/"(?:[^"\\]|\\.)*(?:"|$)/g, '""');

/** What to complete at `pos`: {kind: metric|label|value, prefix, from, label?, metric?} or null. */
export function completionContext(text, pos) {
  const before = text.slice(0, pos);
  const plain = stripStrings(before);
  const brace = plain.lastIndexOf('{');
  const inBraces = brace > plain.lastIndexOf('}');
  const metricBefore = (i) => (/([a-zA-Z_:][\w:]*)\s*$/.exec(plain.slice(0, i)) || [])[1] || null;
  if (inBraces) {
    const metric = metricBefore(brace);
    const v = /([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/.exec(before);
    if (v) return { kind: 'value', label: v[1], prefix: v[2], from: pos - v[2].length, metric };
    const l = /(?:^|[{,])\s*([a-zA-Z_]\w*)?$/.exec(plain.slice(brace));
    if (l) return { kind: 'label', prefix: l[1] || '', from: pos - (l[1] || '').length, metric, inSelector: true };
    return null;
  }
  const g = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)$/.exec(plain);
  if (g) {
    const w = /([a-zA-Z_]\w*)?$/.exec(g[1]);
    return { kind: 'label', prefix: w[1] || '', from: pos - (w[1] || '').length, metric: null };
  }
  if (/\[[^\]]*$/.test(plain)) return null;
  const m = /(?:^|[^\w:.])([a-zA-Z_:][\w:]*)$/.exec(plain);
  if (m) return { kind: 'metric', prefix: m[1], from: pos - m[1].length };
  return null;
}

/** Char index in `line` of a 1-based byte column (the server counts UTF-8 bytes). */
function charIndex(line, col) {
  const bytes = new TextEncoder().encode(line);
  return new TextDecoder().decode(bytes.slice(0, Math.max(0, col - 1))).length;
}

export default function explore(ctx) {
  const api = ctx.api;
  let committed = (ctx.param('q') || '').trim();
  let tab = ctx.param('tab') === 'table' ? 'table' : 'graph';
  let mode = ['instant', 'range'].includes(ctx.param('mode')) ? ctx.param('mode') : tab === 'table' ? 'instant' : 'range';
  let chart = null;

  ctx.root.innerHTML = String(html`
    <h1>Explore</h1>
    <form class="aw-explore-form" autocomplete="off">
      <div class="aw-editor">
        <textarea id="aw-expr" name="q" rows="3" spellcheck="false" autocapitalize="off" aria-label="PromQL expression"
          placeholder="PromQL, e.g. rate(http_requests_total[5m]) — Enter runs, Shift+Enter adds a line, Ctrl+Space completes"
          role="combobox" aria-autocomplete="list" aria-expanded="false" aria-controls="aw-complete"></textarea>
        <ul id="aw-complete" class="aw-complete" role="listbox" aria-label="Completions" hidden></ul>
      </div>
      <div class="aw-err-slot"></div>
      <div class="aw-toolbar">
        <button type="submit" class="primary">Run query</button>
        <fieldset class="seg"><legend class="sr">Query type</legend>
          <label><input type="radio" name="mode" value="instant"> Instant</label>
          <label><input type="radio" name="mode" value="range"> Range</label>
        </fieldset>
        <label>Step <input name="step" size="7" inputmode="text"></label>
        <span class="aw-qstats muted" aria-live="polite"></span>
      </div>
    </form>
    <div class="aw-tabs" role="tablist" aria-label="Result view">
      <button type="button" role="tab" data-tab="graph">Graph</button>
      <button type="button" role="tab" data-tab="table">Table</button>
    </div>
    <div class="aw-result" role="tabpanel"></div>`);
  const form = ctx.root.querySelector('form');
  const ta = form.querySelector('textarea');
  const list = form.querySelector('.aw-complete');
  const errSlot = form.querySelector('.aw-err-slot');
  const stepIn = form.querySelector('input[name=step]');
  const statsEl = form.querySelector('.aw-qstats');
  const result = ctx.root.querySelector('.aw-result');
  ta.value = committed;
  stepIn.value = ctx.param('step') || '';

  function syncControls() {
    for (const r of form.querySelectorAll('input[name=mode]')) r.checked = r.value === mode;
    for (const b of ctx.root.querySelectorAll('[role=tab]')) {
      b.setAttribute('aria-selected', String(b.dataset.tab === tab));
      b.classList.toggle('on', b.dataset.tab === tab);
    }
    stepIn.placeholder = `auto (${fmtDuration(ctx.range().step)})`;
    stepIn.disabled = mode !== 'range';
  }
  syncControls();

  function run() {
    committed = ta.value.trim();
    hideList();
    ctx.setParams({ q: committed || null, mode, tab, step: stepIn.value.trim() || null }, true);
    ctx.reload(true);
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); run(); });
  form.addEventListener('change', (ev) => {
    if (ev.target.name === 'mode') { mode = ev.target.value; syncControls(); if (committed) run(); }
    if (ev.target.name === 'step' && committed && mode === 'range') run();
  });
  ctx.root.querySelector('.aw-tabs').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-tab]');
    if (!b || b.dataset.tab === tab) return;
    tab = b.dataset.tab;
    mode = tab === 'table' ? 'instant' : 'range';
    syncControls();
    run();
  });

  // ---- completion ----
  let items = [];
  let active = 0;
  let cctx = null;
  let reqSeq = 0;

  function hideList() {
    list.hidden = true;
    items = [];
    ta.setAttribute('aria-expanded', 'false');
    ta.removeAttribute('aria-activedescendant');
  }

  function caretXY() {
    const cs = getComputedStyle(ta);
    const mirror = document.createElement('div');
    for (const p of ['fontFamily', 'fontSize', 'lineHeight', 'paddingTop', 'paddingLeft', 'paddingRight', 'borderTopWidth', 'borderLeftWidth', 'letterSpacing', 'tabSize']) mirror.style[p] = cs[p];
    mirror.style.cssText += `;position:absolute;visibility:hidden;white-space:pre-wrap;word-wrap:break-word;box-sizing:border-box;width:${ta.offsetWidth}px`;
    mirror.textContent = ta.value.slice(0, ta.selectionStart);
    const mark = document.createElement('span');
    mark.textContent = '\u200b';
    mirror.append(mark);
    document.body.append(mirror);
    const x = mark.offsetLeft;
    const y = mark.offsetTop + mark.offsetHeight - ta.scrollTop;
    mirror.remove();
    return { x, y };
  }

  async function suggest(force = false) {
    const c = completionContext(ta.value, ta.selectionStart);
    if (!c || (!force && c.kind === 'metric' && c.prefix.length < 1)) { hideList(); return; }
    const seq = ++reqSeq;
    let cands;
    if (c.kind === 'metric') {
      const names = await cached('metrics', () => api.labelValues('__name__'));
      cands = [...names.map((n) => ({ t: n, k: 'metric' })), ...AGGREGATIONS.map((n) => ({ t: n, k: 'aggr', fn: true })), ...FUNCTIONS.map((n) => ({ t: n, k: 'func', fn: true })), ...KEYWORDS.map((n) => ({ t: n, k: 'keyword' }))];
    } else if (c.kind === 'label') {
      const names = await cached(`labels:${c.metric || ''}`, () => api.get('/api/v1/labels', c.metric ? { 'match[]': c.metric } : undefined));
      cands = names.filter((n) => n !== '__name__').map((n) => ({ t: n, k: 'label' }));
    } else {
      const vals = await cached(`values:${c.label}:${c.metric || ''}`, () => api.labelValues(c.label, c.metric || undefined));
      cands = vals.map((n) => ({ t: n, k: 'value' }));
    }
    if (seq !== reqSeq || document.activeElement !== ta) return;
    const p = c.prefix.toLowerCase();
    const starts = cands.filter((x) => x.t.toLowerCase().startsWith(p));
    const has = p ? cands.filter((x) => !x.t.toLowerCase().startsWith(p) && x.t.toLowerCase().includes(p)) : [];
    items = [...starts, ...has].filter((x) => x.t !== c.prefix || c.kind === 'value').slice(0, 200);
    cctx = c;
    if (!items.length) { hideList(); return; }
    active = 0;
    list.innerHTML = items.map((x, i) => `<li role="option" id="aw-opt-${i}" data-i="${i}" aria-selected="${i === 0}"><span>${esc(x.t)}</span><small>${x.k}</small></li>`).join('');
    const { x, y } = caretXY();
    list.style.left = `${Math.max(0, Math.min(x, ta.offsetWidth - 260))}px`;
    list.style.top = `${Math.min(y + 4, ta.offsetHeight + 2)}px`;
    list.hidden = false;
    ta.setAttribute('aria-expanded', 'true');
    ta.setAttribute('aria-activedescendant', 'aw-opt-0');
  }

  function move(d) {
    const old = list.children[active];
    if (old) old.setAttribute('aria-selected', 'false');
    active = (active + d + items.length) % items.length;
    const li = list.children[active];
    li.setAttribute('aria-selected', 'true');
    li.scrollIntoView({ block: 'nearest' });
    ta.setAttribute('aria-activedescendant', li.id);
  }

  function accept(i) {
    const x = items[i];
    const c = cctx;
    if (!x || !c) return;
    const pos = ta.selectionStart;
    let ins = x.t;
    let caret = null;
    const after = ta.value.slice(pos);
    if (c.kind === 'metric' && x.fn && !after.startsWith('(')) ins += '(';
    if (c.kind === 'label' && c.inSelector && !/^\s*(=|!=|=~|!~)/.test(after)) { ins += '=""'; caret = ins.length - 1; }
    let replaceTo = pos;
    if (c.kind === 'value') {
      // Replace the whole value up to its closing quote, step past it, and close the selector.
      ins = `${x.t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
      const q = /^(?:[^"\\,}\n]|\\.)*"/.exec(after);
      if (q) replaceTo = pos + q[0].length;
      if (!/^[^{]*\}/.test(ta.value.slice(replaceTo))) { ins += '}'; caret = ins.length - 1; }
    }
    ta.setRangeText(ins, c.from, replaceTo, 'end');
    if (caret != null) ta.setSelectionRange(c.from + caret, c.from + caret);
    hideList();
    if (caret != null && c.kind === 'label') suggest().catch(() => {});
  }

  ta.addEventListener('keydown', (ev) => {
    if (!list.hidden && items.length) {
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') { ev.preventDefault(); move(ev.key === 'ArrowDown' ? 1 : -1); return; }
      if (ev.key === 'Enter' || ev.key === 'Tab') { ev.preventDefault(); accept(active); return; }
      if (ev.key === 'Escape') { ev.preventDefault(); hideList(); return; }
    }
    if (ev.key === ' ' && ev.ctrlKey) { ev.preventDefault(); suggest(true).catch(() => {}); return; }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); run(); }
  });
  ta.addEventListener('input', (ev) => {
    if (ev.inputType && ev.inputType.startsWith('delete') && list.hidden) return;
    suggest().catch(() => {});
  });
  ta.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== ta) hideList(); }, 150));
  list.addEventListener('mousedown', (ev) => {
    const li = ev.target.closest('li[data-i]');
    if (!li) return;
    ev.preventDefault();
    accept(+li.dataset.i);
  });

  // ---- errors and results ----
  function showError(e) {
    const m = /(\d+):(\d+): parse error: ([^]*?)(?: \(HTTP \d+\))?$/.exec(e.message);
    if (!m) { patch(errSlot, errorBox(e)); return; }
    const line = +m[1];
    const col = +m[2];
    const lines = committed.split('\n');
    const text = lines[line - 1] ?? '';
    const ci = charIndex(text, col);
    const ch = text[ci] ?? ' ';
    patch(errSlot, html`<div class="aw-error aw-query-error" role="alert" data-line="${line}" data-col="${col}">
      <div>${e.message}</div>
      <pre class="aw-err-pos" aria-label="position ${line}:${col}"><code>${text.slice(0, ci)}<mark>${ch}</mark>${text.slice(ci + 1)}
${' '.repeat(ci)}^ ${m[3]}</code></pre></div>`);
    if (document.activeElement === ta) {
      const abs = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + ci;
      ta.setSelectionRange(abs, abs);
    }
  }

  function dropChart() { if (chart) { chart.destroy(); chart = null; } }

  function renderTable(series, type) {
    if (type === 'string') { patch(result, html`<div class="aw-table-wrap"><table class="aw-table"><tbody><tr><td>string</td><td>${series[0]?.text}</td></tr></tbody></table></div>`); return; }
    const range = type === 'matrix';
    const rows = series.slice(0, 1000);
    patch(result, html`<div class="aw-table-wrap"><table class="aw-table aw-explore-table">
      <thead><tr><th>Series</th><th class="num">${range ? 'Last value' : 'Value'}</th>${range ? html`<th class="num">Samples</th>` : ''}<th>Time</th></tr></thead>
      <tbody>${rows.map((s) => {
        const last = s.points[s.points.length - 1] || [];
        return html`<tr><td class="mono">${labelString(s.metric)}</td><td class="num mono">${last.length ? fmtNum(last[1]) : '—'}</td>${range ? html`<td class="num">${s.points.length}</td>` : ''}<td class="muted">${last.length ? fmtTime(last[0]) : ''}</td></tr>`;
      })}</tbody></table></div>
      ${series.length > rows.length ? html`<p class="muted">Showing ${rows.length} of ${series.length} series.</p>` : ''}`);
  }
  const fmtNum = (v) => (Number.isFinite(v) ? String(v) : fmtValue(v));

  return {
    async load() {
      syncControls();
      if (!committed) {
        dropChart();
        patch(errSlot, '');
        statsEl.textContent = '';
        patch(result, html`<div class="aw-empty">Enter a PromQL expression above and press Enter. Try
          ${['up', 'sum by (job) (up)', 'rate(http_requests_total[5m])', 'node_load1'].map((q) => html`<a class="mono" href="/explore?q=${encodeURIComponent(q)}">${q}</a> `)}</div>`);
        return;
      }
      const r = ctx.range();
      const userStep = parseDuration(stepIn.value.trim());
      const step = mode === 'range' && userStep > 0 ? userStep : r.step;
      const t0 = performance.now();
      let data;
      try {
        data = mode === 'range' ? await api.queryRange(committed, r.start, r.end, step) : await api.query(committed, r.end);
      } catch (e) {
        if (isAbort(e)) throw e;
        showError(e);
        statsEl.textContent = '';
        dropChart();
        patch(result, '');
        return;
      }
      const ms = Math.round(performance.now() - t0);
      patch(errSlot, '');
      const series = toSeries(data);
      const samples = series.reduce((n, s) => n + s.points.length, 0);
      statsEl.textContent = `${series.length} series · ${samples} samples · ${ms} ms${mode === 'range' ? ` · step ${fmtDuration(step)}` : ` · at ${fmtTime(r.end)}`}`;
      if (tab === 'table') { dropChart(); renderTable(series, data.resultType); return; }
      if (data.resultType === 'string') { dropChart(); renderTable(series, 'string'); return; }
      if (!chart) {
        result.replaceChildren();
        result._awHtml = null;
        chart = createChart(result, { unit: 'short', title: committed, onRange: (a, b) => ctx.setRange(a, b) });
        chart.root.classList.add('tall');
      }
      const shown = series.slice(0, 500);
      chart.update(shown.map((s) => ({ name: data.resultType === 'scalar' ? 'scalar' : labelString(s.metric), labels: s.metric, points: s.points })), { start: r.start, end: r.end, step: mode === 'range' ? step : 0 });
      let note = result.querySelector(':scope > .aw-note');
      const text = !series.length ? 'The query returned no series in this time range.' : series.length > shown.length ? `Graphing the first ${shown.length} of ${series.length} series.` : mode === 'instant' ? 'Instant query: one point per series at the end of the range; pick Range to graph over time.' : '';
      if (text && !note) { note = h('p', { class: 'aw-note muted' }); result.append(note); }
      if (note) { if (text) note.textContent = text; else note.remove(); }
    },
    destroy() { hideList(); },
  };
}
