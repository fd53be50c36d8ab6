// The shell: client-side router, time range and refresh pickers (kept in the
// URL), theme toggle, and the page lifecycle with the test hook
// document.body.dataset.ready ("0" while a page loads, "1" once it has
// rendered its data or its error the first time).
//
// A page module's default export is a factory (ctx) => ({ load(), destroy() }).
// load() fetches and renders; the shell calls it first, on every refresh tick
// and after a time range change, never two at once.
import { bind, niceStep } from './api.js';
import { errorBox, fmtShortTime, isAbort, parseDuration, patch } from './util.js';

const ROUTES = [
  [/^\/$/, 'overview', 'Overview'],
  [/^\/explore\/?$/, 'explore', 'Explore'],
  [/^\/alerts\/?$/, 'alerts', 'Alerts'],
  [/^\/health\/?$/, 'health', 'Health'],
  [/^\/targets\/?$/, 'targets', 'Targets'],
  [/^\/dashboards\/?$/, 'dashboards', 'Dashboards'],
  [/^\/dashboards\/([^/]+)\/?$/, 'dashboards', 'Dashboard'],
  [/^\/status\/?$/, 'status', 'Status'],
];
export const RANGES = { '5m': 300, '15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800 };
export const REFRESHES = ['off', '10s', '30s', '1m', '5m'];
const GLOBAL = ['range', 'from', 'to', 'refresh'];

/** Marks the page rendered (the browser tests wait for it); the first time
 * also notes when, for the UI bench. */
function markReady() {
  document.body.dataset.ready = '1';
  window.__awReadyAt ??= performance.now();
}

const main = document.getElementById('main');
const rangeSel = document.getElementById('aw-range');
const refreshSel = document.getElementById('aw-refresh');
const customEl = document.getElementById('aw-custom');
const themeBtn = document.getElementById('aw-theme');

let navSeq = 0;
let routed = ''; // path + query the current page was built for (hash-only changes keep it)
let current = null; // { page, ac, ctx, defaults, chain, busy, timer }

function matchRoute(path) {
  for (const [re, name, title] of ROUTES) {
    const m = re.exec(path);
    if (m) return { name, title, id: m[1] ? decodeURIComponent(m[1]) : null };
  }
  return null;
}

const search = () => new URLSearchParams(location.search);

// ---- time range -----------------------------------------------------------

/** The current time range: {start, end, step, seconds, custom, key}; start/end in unix seconds. */
export function currentRange() {
  const q = search();
  const from = Number(q.get('from'));
  const to = Number(q.get('to'));
  let start;
  let end;
  let key;
  if (q.has('from') && q.has('to') && Number.isFinite(from) && Number.isFinite(to) && to > from) {
    start = from; end = to; key = 'custom';
  } else {
    key = RANGES[q.get('range')] ? q.get('range') : (current && current.defaults.range) || '1h';
    end = Math.floor(Date.now() / 1000);
    start = end - RANGES[key];
  }
  const seconds = end - start;
  return { start, end, seconds, step: niceStep(seconds), custom: key === 'custom', key };
}

function currentRefresh() {
  const r = search().get('refresh');
  if (REFRESHES.includes(r)) return r;
  return (current && current.defaults.refresh) || 'off';
}

function setURL(mutate, push) {
  const u = new URL(location.href);
  mutate(u.searchParams);
  const next = u.pathname + (u.searchParams.toString() ? `?${u.searchParams}` : '') + u.hash;
  if (next === location.pathname + location.search + location.hash) return;
  history[push ? 'pushState' : 'replaceState'](null, '', next);
  routed = location.pathname + location.search;
  syncShell();
}

function syncShell() {
  const r = currentRange();
  rangeSel.querySelector('option[value="custom"]').hidden = !r.custom;
  rangeSel.value = r.key;
  customEl.hidden = !r.custom;
  customEl.textContent = r.custom ? `${fmtShortTime(r.start)} → ${fmtShortTime(r.end)}` : '';
  refreshSel.value = currentRefresh();
  // Nav links keep the global time range and refresh.
  const q = search();
  const keep = new URLSearchParams();
  for (const k of GLOBAL) if (q.has(k)) keep.set(k, q.get(k));
  const suffix = keep.toString() ? `?${keep}` : '';
  const here = matchRoute(location.pathname);
  for (const a of document.querySelectorAll('.aw-nav a')) {
    const path = a.getAttribute('href').split('?')[0];
    a.setAttribute('href', path + (path === '/status' ? '' : suffix));
    const m = matchRoute(path);
    if (here && m && m.name === here.name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function reloadForRange() {
  const cur = current;
  if (!cur) return;
  syncShell();
  restartTimer();
  document.body.dataset.ready = '0';
  await runLoad(cur);
  if (cur === current) markReady();
}

/** Sets a custom absolute range (e.g. from a chart drag) and reloads the page's data. */
export function setCustomRange(from, to) {
  setURL((p) => { p.delete('range'); p.set('from', String(Math.floor(from))); p.set('to', String(Math.ceil(to))); }, true);
  reloadForRange();
}

rangeSel.addEventListener('change', () => {
  const v = rangeSel.value;
  if (v === 'custom') return;
  setURL((p) => { p.delete('from'); p.delete('to'); p.set('range', v); }, true);
  reloadForRange();
});
refreshSel.addEventListener('change', () => {
  const v = refreshSel.value;
  setURL((p) => p.set('refresh', v), false);
  restartTimer();
});

// ---- refresh --------------------------------------------------------------

function runLoad(cur) {
  cur.chain = cur.chain.then(async () => {
    cur.busy = true;
    try {
      await cur.page.load();
    } catch (e) {
      if (!isAbort(e) && cur === current) {
        let box = cur.ctx.root.querySelector(':scope > .aw-page-error');
        if (!box) { box = document.createElement('div'); box.className = 'aw-page-error'; cur.ctx.root.prepend(box); }
        patch(box, errorBox(e, 'This page failed to render: '));
      }
    } finally {
      cur.busy = false;
    }
  });
  return cur.chain;
}

function restartTimer() {
  const cur = current;
  if (!cur) return;
  clearInterval(cur.timer);
  cur.timer = 0;
  const sec = parseDuration(currentRefresh());
  if (!(sec > 0)) return;
  cur.timer = setInterval(() => {
    if (cur !== current || cur.busy || document.hidden) return;
    runLoad(cur);
  }, sec * 1000);
}

// ---- routing --------------------------------------------------------------

async function route() {
  const seq = ++navSeq;
  routed = location.pathname + location.search;
  document.body.dataset.ready = '0';
  if (current) {
    clearInterval(current.timer);
    current.ac.abort();
    try { current.page.destroy?.(); } catch { /* a page's cleanup must not break navigation */ }
    current = null;
  }
  const m = matchRoute(location.pathname);
  document.body.classList.toggle('aw-public', !!m && m.name === 'status');
  const root = document.createElement('div');
  root.className = `aw-page aw-page-${m ? m.name : 'missing'}`;
  main.replaceChildren(root);
  syncShell();
  if (!m) {
    document.title = 'Not found · Aerowatch';
    root.innerHTML = '<h1>Page not found</h1><p>Try the <a href="/">Overview</a>.</p>';
    markReady();
    return;
  }
  document.title = `${m.title} · Aerowatch`;
  let mod;
  try {
    mod = await import(`./pages/${m.name}.js`);
  } catch (e) {
    if (seq !== navSeq) return;
    patch(root, errorBox(e, 'Could not load this page\'s code: '));
    markReady();
    return;
  }
  if (seq !== navSeq) return;
  const ac = new AbortController();
  const cur = { ac, defaults: {}, chain: Promise.resolve(), busy: false, timer: 0 };
  cur.ctx = {
    root,
    id: m.id,
    signal: ac.signal,
    api: bind(ac.signal),
    range: currentRange,
    setRange: setCustomRange,
    param: (k) => search().get(k),
    params: () => search(),
    /** Sets page params (null deletes) in the URL without reloading. */
    setParams(obj, push = false) {
      setURL((p) => { for (const [k, v] of Object.entries(obj)) { if (v == null || v === '') p.delete(k); else p.set(k, v); } }, push);
    },
    setTitle(t) { if (cur === current) document.title = `${t} · Aerowatch`; },
    /** Page defaults for the range and refresh pickers when the URL has none. */
    setDefaults(d) {
      Object.assign(cur.defaults, d);
      if (cur === current) { syncShell(); restartTimer(); }
    },
    /** Reloads the page's data; with signal the ready hook goes "0" now and "1" after. */
    reload(signal = false) {
      if (signal && cur === current) document.body.dataset.ready = '0';
      return runLoad(cur).then(() => { if (signal && cur === current) markReady(); });
    },
    isCurrent: () => cur === current,
  };
  try {
    cur.page = mod.default(cur.ctx);
  } catch (e) {
    patch(root, errorBox(e, 'This page failed to start: '));
    markReady();
    return;
  }
  current = cur;
  syncShell();
  await runLoad(cur);
  if (cur !== current) return;
  markReady();
  restartTimer();
}

export function navigate(url, { replace = false } = {}) {
  history[replace ? 'replaceState' : 'pushState'](null, '', url);
  window.scrollTo(0, 0);
  route();
  main.focus({ preventScroll: true });
}

document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest('a[href]');
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !matchRoute(url.pathname)) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  ev.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', () => {
  if (location.pathname + location.search !== routed) route();
});

// ---- theme ---------------------------------------------------------------

const prefersDark = matchMedia('(prefers-color-scheme: dark)');
function storedTheme() {
  try { return localStorage.getItem('aw-theme'); } catch { return null; }
}
function applyTheme() {
  const t = storedTheme();
  if (t === 'dark' || t === 'light') document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
  const dark = t ? t === 'dark' : prefersDark.matches;
  themeBtn.setAttribute('aria-pressed', String(dark));
  themeBtn.title = dark ? 'Switch to the light theme' : 'Switch to the dark theme';
}
themeBtn.addEventListener('click', () => {
  const dark = themeBtn.getAttribute('aria-pressed') === 'true';
  try { localStorage.setItem('aw-theme', dark ? 'light' : 'dark'); } catch { /* private mode: this page only */ }
  if (!storedTheme()) document.documentElement.dataset.theme = dark ? 'light' : 'dark';
  else applyTheme();
  themeBtn.setAttribute('aria-pressed', String(!dark));
  window.dispatchEvent(new Event('aw-theme'));
});
prefersDark.addEventListener('change', applyTheme);
applyTheme();

route();
