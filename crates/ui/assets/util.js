// Small shared helpers: safe HTML templating, DOM patching, and formatting of
// values, times and label sets. No dependencies.

// ---- HTML templating -------------------------------------------------------

/** A string that is already HTML and must not be escaped again. */
export class Raw {
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}
export const raw = (s) => new Raw(String(s));

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);

function part(v) {
  if (v == null || v === false) return '';
  if (v instanceof Raw) return v.s;
  if (Array.isArray(v)) return v.map(part).join('');
  return esc(v);
}

/** Tagged template: interpolations are escaped unless they are Raw (or arrays of Raw). */
export function html(strings, ...vals) {
  let out = strings[0];
  for (let i = 0; i < vals.length; i++) out += part(vals[i]) + strings[i + 1];
  return new Raw(out);
}

/**
 * Replaces el's content with `content` (Raw or string of HTML) only when it
 * changed, keeping keyboard focus on the element with the same
 * data-key if there was one. Styles that must not be inline attributes
 * (widths, colors) are applied from data attributes afterwards.
 */
export function patch(el, content) {
  const s = Array.isArray(content) ? content.join('') : String(content);
  if (el._awHtml === s) return false;
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.key : null;
  el.innerHTML = s;
  el._awHtml = s;
  applyStyles(el);
  if (key) {
    const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
  return true;
}

/** data-w="42.5" → width: 42.5%; data-bg="#abc" → background color; data-fg → color. */
export function applyStyles(root) {
  for (const e of root.querySelectorAll('[data-w]')) e.style.width = `${Math.max(0, Math.min(100, +e.dataset.w || 0))}%`;
  for (const e of root.querySelectorAll('[data-bg]')) e.style.background = e.dataset.bg;
  for (const e of root.querySelectorAll('[data-fg]')) e.style.color = e.dataset.fg;
}

/** Creates an element: h('div', {class: 'x', onclick: fn}, child, ...). */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else if (k === 'html') e.innerHTML = String(v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) e.append(c);
  return e;
}

// ---- numbers and units -----------------------------------------------------

/** Parses a Prometheus sample value ("1.5", "NaN", "+Inf", "-Inf"). */
export function parseValue(s) {
  if (typeof s === 'number') return s;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  return n;
}

/** JSON-safe value for data-series: numbers, or "NaN", "+Inf", "-Inf". */
export function jsonValue(v) {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

function trim(s) {
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}

/** A number with about 3–4 significant digits, or exactly `decimals` decimals. */
export function num(v, decimals) {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  if (decimals != null && decimals >= 0) return v.toFixed(Math.min(20, decimals));
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e15 || a < 1e-6) return v.toExponential(2);
  if (a >= 100) return trim(v.toFixed(1));
  if (a >= 1) return trim(v.toFixed(2));
  return trim(v.toPrecision(3));
}

function scaled(v, decimals, base, steps) {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < steps.length - 1) { x /= base; i++; }
  return `${num(x, decimals)}${steps[i]}`;
}

const DURATIONS = [[86400, ' d'], [3600, ' h'], [60, ' min'], [1, ' s'], [1e-3, ' ms'], [1e-6, ' µs'], [1e-9, ' ns']];
function duration(sec, decimals) {
  if (sec === 0) return '0 s';
  const a = Math.abs(sec);
  for (const [f, u] of DURATIONS) if (a >= f || f === 1e-9) return num(sec / f, decimals) + u;
  return num(sec, decimals) + ' s';
}

/**
 * Formats a value in a Grafana unit: percent (0–100), percentunit (0–1),
 * s, ms, µs/us, ns, bytes/decbytes, bits, short, reqps, ops, none.
 */
export function fmtValue(v, unit = 'short', decimals) {
  if (v == null) return '—';
  if (!Number.isFinite(v)) return num(v);
  switch (unit) {
    case 'percent': return `${num(v, decimals)}%`;
    case 'percentunit': return `${num(v * 100, decimals)}%`;
    case 's': case 'dtdurations': return duration(v, decimals);
    case 'ms': return duration(v / 1e3, decimals);
    case 'µs': case 'us': return duration(v / 1e6, decimals);
    case 'ns': return duration(v / 1e9, decimals);
    case 'bytes': return scaled(v, decimals, 1024, [' B', ' KiB', ' MiB', ' GiB', ' TiB', ' PiB']);
    case 'decbytes': return scaled(v, decimals, 1000, [' B', ' kB', ' MB', ' GB', ' TB', ' PB']);
    case 'bits': return scaled(v, decimals, 1000, [' b', ' kb', ' Mb', ' Gb', ' Tb']);
    case 'reqps': return `${short(v, decimals)} req/s`;
    case 'ops': return `${short(v, decimals)} ops/s`;
    case 'none': return num(v, decimals);
    default:
      if (unit && unit.startsWith('suffix:')) return `${short(v, decimals)}${unit.slice(7)}`;
      return short(v, decimals);
  }
}
export function short(v, decimals) {
  return Math.abs(v) < 1000 ? num(v, decimals) : scaled(v, decimals, 1000, ['', 'k', 'M', 'G', 'T', 'P']);
}

// ---- durations and times ---------------------------------------------------

const UNIT_S = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Parses a Prometheus duration ("1h30m", "5m", "250ms", "15") into seconds; NaN if invalid. */
export function parseDuration(s) {
  if (s == null) return NaN;
  s = String(s).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let m;
  let pos = 0;
  while ((m = re.exec(s))) { total += Number(m[1]) * UNIT_S[m[2]]; pos = re.lastIndex; }
  return pos === s.length && pos > 0 ? total : NaN;
}

/** Seconds → compact duration ("90" → "1m30s", "3600" → "1h"). */
export function fmtDuration(sec) {
  if (!Number.isFinite(sec)) return '—';
  if (sec < 1) return `${Math.round(sec * 1000)}ms`;
  let out = '';
  let rest = Math.round(sec);
  for (const [u, f] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (rest >= f) { out += Math.floor(rest / f) + u; rest %= f; }
  }
  return out || '0s';
}

const pad = (n) => String(n).padStart(2, '0');

/** Unix seconds → local "YYYY-MM-DD HH:MM:SS". */
export function fmtTime(t) {
  const d = new Date(t * 1000);
  if (Number.isNaN(d.getTime())) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Unix seconds → local "HH:MM" (or "MM-DD HH:MM" when not today). */
export function fmtShortTime(t) {
  const d = new Date(t * 1000);
  const now = new Date();
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.toDateString() === now.toDateString() ? hm : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/** Anything time-like (RFC 3339 string, ms or s number) → unix seconds, or null. */
export function toUnix(x) {
  if (x == null || x === '') return null;
  if (typeof x === 'number') return x > 1e11 ? x / 1000 : x;
  const ms = Date.parse(x);
  if (Number.isNaN(ms) || ms <= 0) return null; // "0001-01-01T00:00:00Z" means never
  return ms / 1000;
}

/** "12s ago", "5m ago", "in 3h"; "never" for null. */
export function ago(x) {
  const t = toUnix(x);
  if (t == null) return 'never';
  const d = Date.now() / 1000 - t;
  const a = Math.abs(d);
  let s;
  if (a < 1) return 'just now';
  if (a < 60) s = `${Math.round(a)}s`;
  else if (a < 3600) s = `${Math.round(a / 60)}m`;
  else if (a < 86400) s = `${Math.round(a / 3600)}h`;
  else s = `${Math.round(a / 86400)}d`;
  return d >= 0 ? `${s} ago` : `in ${s}`;
}

/** A <time> element with a relative text and the absolute local time as its title. */
export function timeAgo(x) {
  const t = toUnix(x);
  if (t == null) return html`<span class="muted">never</span>`;
  return html`<time datetime="${new Date(t * 1000).toISOString()}" title="${fmtTime(t)}">${ago(t)}</time>`;
}

// ---- label sets -----------------------------------------------------------

/** {__name__: "up", job: "x"} → 'up{job="x"}'. */
export function labelString(metric = {}) {
  const name = metric.__name__ || '';
  const rest = Object.keys(metric).filter((k) => k !== '__name__').sort()
    .map((k) => `${k}=${JSON.stringify(String(metric[k]))}`);
  return rest.length || !name ? `${name}{${rest.join(', ')}}` : name;
}

/** Grafana legendFormat: "{{job}} {{ instance }}" with labels; empty/"__auto" → label set. */
export function legendName(metric, legendFormat) {
  if (!legendFormat || legendFormat === '__auto') return labelString(metric);
  return legendFormat.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, k) => metric[k] ?? '');
}

/** Label chips: key="value" as small spans. */
export function labelChips(labels = {}, skip = []) {
  return Object.keys(labels).filter((k) => !skip.includes(k)).sort()
    .map((k) => html`<span class="chip"><b>${k}</b>=${labels[k]}</span>`);
}

/** A colored badge: tone is ok | warn | bad | info | muted. */
export function badge(text, tone) {
  return html`<span class="badge ${tone || 'muted'}">${text}</span>`;
}

export function toneOf(state) {
  const s = String(state ?? '').toLowerCase();
  if (['up', 'ok', 'healthy', 'success', 'succeeded', 'sent', 'delivered', 'recovered', 'active', 'inactive', 'resolved'].includes(s)) return 'ok';
  if (['down', 'err', 'error', 'unhealthy', 'failed', 'firing', 'critical', 'bad'].includes(s)) return 'bad';
  if (['pending', 'retrying', 'attempt_failed', 'degraded', 'warning', 'suppressed'].includes(s)) return 'warn';
  return 'muted';
}

/** An error box. */
export function errorBox(err, prefix = '') {
  const msg = err && err.message ? err.message : String(err);
  return html`<div class="aw-error" role="alert">${prefix}${msg}</div>`;
}

export const isAbort = (e) => e && e.name === 'AbortError';

/** Percent text of a 0..1 ratio with enough digits to tell 99.9 from 100. */
export function pct(ratio, digits = 2) {
  if (ratio == null || !Number.isFinite(ratio)) return '—';
  return `${trim((ratio * 100).toFixed(digits))}%`;
}
