// A hand-written SVG time-series chart: lines with gaps, time and value axes,
// hover cursor + tooltip, drag to select a time range, and a toggling legend.
//
// const chart = createChart(parent, { unit, onRange(from, to) });
// chart.update(series, { start, end, step });   series: [{name, labels, points: [[t, v]]}]
//
// The root element has class "aw-chart" and data-series = JSON of what it
// plotted (values as numbers; NaN/±Inf as "NaN", "+Inf", "-Inf"), plus
// data-start / data-end / data-step of the range it drew.
import { esc, fmtValue, fmtTime, jsonValue, labelString } from './util.js';

export const PALETTE = [
  '#5794f2', '#73bf69', '#f2cc0c', '#ff9830', '#f2495c', '#b877d9', '#37b1b8', '#fa6400',
  '#8ab8ff', '#96d98d', '#c4162a', '#1f60c4', '#8f3bb8', '#56a64b', '#e0b400', '#ca95e5',
  '#ffb357', '#ff7383', '#3274d9', '#447ebc',
];

const SVGNS = 'http://www.w3.org/2000/svg';
const M = { top: 8, right: 12, bottom: 22 };
let chartSeq = 0;

/** Nice axis ticks covering [min, max] with about `count` intervals. */
export function niceTicks(min, max, count) {
  const span = max - min;
  let step = 10 ** Math.floor(Math.log10(span / count));
  const err = span / count / step;
  if (err >= 7.5) step *= 10;
  else if (err >= 3.5) step *= 5;
  else if (err >= 1.5) step *= 2;
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return { lo, hi, ticks };
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000];
const pad = (n) => String(n).padStart(2, '0');

/** Time ticks aligned in local time, with labels. */
export function timeTicks(start, end, count) {
  const span = Math.max(1, end - start);
  const iv = TIME_STEPS.find((s) => span / s <= count) || TIME_STEPS[TIME_STEPS.length - 1];
  const off = -new Date(start * 1000).getTimezoneOffset() * 60;
  const out = [];
  for (let t = Math.ceil((start + off) / iv) * iv - off; t <= end; t += iv) {
    const d = new Date(t * 1000);
    let label;
    if (iv < 60) label = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    else if (iv >= 86400 || (d.getHours() === 0 && d.getMinutes() === 0 && span > 86400)) label = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    else label = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    out.push({ t, label });
  }
  return out;
}

/** Index of the point with time nearest t (points sorted by time). */
function nearest(points, t) {
  let lo = 0;
  let hi = points.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < t) lo = mid + 1; else hi = mid;
  }
  if (lo > 0 && Math.abs(points[lo - 1][0] - t) <= Math.abs(points[lo][0] - t)) lo--;
  return lo;
}

const swatch = (color) => `<svg class="sw" width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${color}"/></svg>`;

export function createChart(parent, opts = {}) {
  const id = ++chartSeq;
  const root = document.createElement('div');
  root.className = 'aw-chart';
  root.dataset.series = '[]';
  const box = document.createElement('div');
  box.className = 'aw-plot';
  const svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('class', 'aw-svg');
  svg.setAttribute('role', 'img');
  const tip = document.createElement('div');
  tip.className = 'aw-tip';
  tip.hidden = true;
  const legend = document.createElement('div');
  legend.className = 'aw-legend';
  box.append(svg, tip);
  root.append(box, legend);
  parent.append(root);

  let series = [];
  let range = { start: 0, end: 1, step: 0 };
  const hidden = new Set();
  let geo = null; // layout of the last draw
  let drag = null;
  let frame = 0;

  const keyOf = (s) => `${s.name}\u0000${labelString(s.labels)}`;
  const visible = () => series.filter((s) => !hidden.has(s.key));

  function scheduleDraw() {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; draw(); });
  }
  const ro = new ResizeObserver(scheduleDraw);
  ro.observe(box);

  function draw() {
    const W = box.clientWidth;
    const H = box.clientHeight;
    if (W < 20 || H < 20) return;
    const { start, end } = range;
    const vis = visible();
    let min = Infinity;
    let max = -Infinity;
    for (const s of vis) {
      for (const [t, v] of s.points) {
        if (Number.isFinite(v) && t >= start - 1e-9 && t <= end + 1e-9) { if (v < min) min = v; if (v > max) max = v; }
      }
    }
    const empty = min > max;
    if (opts.min != null) min = Math.min(min, opts.min);
    if (opts.max != null) max = Math.max(max, opts.max);
    if (empty && !(min <= max)) { min = 0; max = 1; }
    if (min === max) {
      const d = Math.abs(min) * 0.1 || 1;
      min -= d; max += d;
    }
    const yt = niceTicks(min, max, Math.max(2, Math.floor(H / 45)));
    const lo = opts.min != null ? Math.max(yt.lo, opts.min) : yt.lo;
    const hi = opts.max != null ? Math.min(yt.hi, opts.max) : yt.hi;
    const ylabels = yt.ticks.filter((v) => v >= lo && v <= hi).map((v) => ({ v, s: fmtValue(v, opts.unit) }));
    const left = Math.min(90, 10 + 6.5 * Math.max(3, ...ylabels.map((l) => l.s.length)));
    const pw = W - left - M.right;
    const ph = H - M.top - M.bottom;
    const X = (t) => left + ((t - start) / (end - start || 1)) * pw;
    const Y = (v) => M.top + (1 - (v - lo) / (hi - lo || 1)) * ph;
    geo = { left, pw, ph, X, start, end, W, H };

    const parts = [`<defs><clipPath id="aw-clip-${id}"><rect x="${left}" y="${M.top - 1}" width="${pw}" height="${ph + 2}"/></clipPath></defs>`];
    parts.push('<g class="grid">');
    for (const l of ylabels) {
      const y = Y(l.v).toFixed(1);
      parts.push(`<line x1="${left}" x2="${left + pw}" y1="${y}" y2="${y}"/>`);
      parts.push(`<text class="ylab" x="${left - 6}" y="${y}" dy="0.32em" text-anchor="end">${esc(l.s)}</text>`);
    }
    for (const tk of timeTicks(start, end, Math.max(2, Math.floor(pw / 90)))) {
      const xv = X(tk.t);
      const x = xv.toFixed(1);
      const anchor = xv > W - 22 ? 'end' : 'middle';
      parts.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}"/>`);
      parts.push(`<text class="xlab" x="${anchor === 'end' ? W - 1 : x}" y="${H - 6}" text-anchor="${anchor}">${esc(tk.label)}</text>`);
    }
    parts.push('</g>');
    parts.push(`<g clip-path="url(#aw-clip-${id})" fill="none" stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round">`);
    const gapAfter = range.step ? range.step * 1.5 : Infinity;
    for (const s of vis) {
      let d = '';
      let prevT = null;
      let segLen = 0;
      for (const [t, v] of s.points) {
        if (!Number.isFinite(v)) { if (segLen === 1) d += 'h0'; prevT = null; segLen = 0; continue; }
        const x = X(t).toFixed(1);
        const y = Y(v).toFixed(1);
        if (prevT == null || t - prevT > gapAfter) {
          if (segLen === 1) d += 'h0';
          d += `M${x} ${y}`;
          segLen = 1;
        } else {
          d += `L${x} ${y}`;
          segLen++;
        }
        prevT = t;
      }
      if (segLen === 1) d += 'h0';
      if (d) parts.push(`<path d="${d}" stroke="${s.color}"/>`);
    }
    parts.push('</g>');
    if (empty) parts.push(`<text class="nodata" x="${left + pw / 2}" y="${M.top + ph / 2}" text-anchor="middle">No data</text>`);
    parts.push(`<line class="cursor" x1="0" x2="0" y1="${M.top}" y2="${M.top + ph}" visibility="hidden"/>`);
    parts.push(`<rect class="sel" x="0" y="${M.top}" width="0" height="${ph}" visibility="hidden"/>`);
    parts.push(`<rect class="overlay" x="${left}" y="${M.top}" width="${pw}" height="${ph}" fill="transparent"/>`);
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    svg.innerHTML = parts.join('');
    svg.setAttribute('aria-label', `${opts.title ? `${opts.title}: ` : ''}${series.length} series from ${fmtTime(start)} to ${fmtTime(end)}`);
  }

  function drawLegend() {
    if (!series.length || opts.legend === false) { legend.innerHTML = ''; legend.hidden = true; return; }
    legend.hidden = false;
    legend.innerHTML = series.map((s, i) => {
      const off = hidden.has(s.key);
      return `<button type="button" class="aw-leg${off ? ' off' : ''}" data-i="${i}" aria-pressed="${!off}" title="${esc(labelString(s.labels))}">${swatch(s.color)}<span>${esc(s.name)}</span></button>`;
    }).join('');
  }

  legend.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-i]');
    if (!b) return;
    const s = series[+b.dataset.i];
    if (!s) return;
    if (ev.shiftKey || ev.ctrlKey || ev.metaKey) {
      const onlyThis = !hidden.has(s.key) && series.every((o) => o === s || hidden.has(o.key));
      hidden.clear();
      if (!onlyThis) for (const o of series) if (o !== s) hidden.add(o.key);
    } else if (hidden.has(s.key)) hidden.delete(s.key);
    else hidden.add(s.key);
    drawLegend();
    draw();
    const again = legend.querySelector(`button[data-i="${b.dataset.i}"]`);
    if (again) again.focus();
  });

  // ---- hover and drag ----
  const localX = (ev) => ev.clientX - svg.getBoundingClientRect().left;
  const tAt = (x) => geo.start + ((x - geo.left) / geo.pw) * (geo.end - geo.start);

  function hover(x) {
    const cursor = svg.querySelector('.cursor');
    if (!geo || !cursor) return;
    let t = tAt(x);
    if (range.step) t = range.start + Math.round((t - range.start) / range.step) * range.step;
    const rows = [];
    for (const s of visible()) {
      const i = nearest(s.points, t);
      if (i < 0) continue;
      const [pt, v] = s.points[i];
      if (range.step ? Math.abs(pt - t) > range.step / 2 : false) continue;
      rows.push({ s, v, pt });
    }
    if (!range.step && rows.length) t = rows.reduce((a, r) => (Math.abs(r.pt - tAt(x)) < Math.abs(a - tAt(x)) ? r.pt : a), rows[0].pt);
    const cx = geo.X(t);
    cursor.setAttribute('x1', cx);
    cursor.setAttribute('x2', cx);
    cursor.setAttribute('visibility', 'visible');
    rows.sort((a, b) => (Number.isFinite(b.v) ? b.v : -Infinity) - (Number.isFinite(a.v) ? a.v : -Infinity));
    const showLabels = rows.length <= 8;
    const max = 20;
    let body = `<div class="t">${esc(fmtTime(t))}</div>`;
    if (!rows.length) body += '<div class="muted">no samples</div>';
    for (const r of rows.slice(0, max)) {
      const ls = labelString(r.s.labels);
      body += `<div class="r">${swatch(r.s.color)}<span class="n">${esc(r.s.name)}</span><b>${esc(fmtValue(r.v, opts.unit))}</b></div>`;
      if (showLabels && ls !== r.s.name && ls !== '{}') body += `<div class="l">${esc(ls)}</div>`;
    }
    if (rows.length > max) body += `<div class="muted">… ${rows.length - max} more</div>`;
    tip.innerHTML = body;
    tip.hidden = false;
    const tw = tip.offsetWidth;
    tip.style.left = `${cx + 14 + tw > geo.W ? Math.max(0, cx - 14 - tw) : cx + 14}px`;
    tip.style.top = `${M.top}px`;
  }
  function unhover() {
    tip.hidden = true;
    const cursor = svg.querySelector('.cursor');
    if (cursor) cursor.setAttribute('visibility', 'hidden');
  }
  const clampX = (x) => Math.max(geo.left, Math.min(geo.left + geo.pw, x));

  svg.addEventListener('pointermove', (ev) => {
    if (!geo) return;
    const x = localX(ev);
    if (drag) {
      const sel = svg.querySelector('.sel');
      const a = clampX(drag.x0);
      const b = clampX(x);
      sel.setAttribute('x', Math.min(a, b));
      sel.setAttribute('width', Math.abs(b - a));
      sel.setAttribute('visibility', 'visible');
      tip.hidden = true;
      return;
    }
    if (x < geo.left || x > geo.left + geo.pw) { unhover(); return; }
    hover(x);
  });
  svg.addEventListener('pointerleave', () => { if (!drag) unhover(); });
  svg.addEventListener('pointerdown', (ev) => {
    if (!geo || ev.button !== 0 || !opts.onRange || !ev.target.classList.contains('overlay')) return;
    drag = { x0: localX(ev) };
    svg.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  const endDrag = (ev, cancel) => {
    if (!drag) return;
    const x0 = clampX(drag.x0);
    const x1 = clampX(localX(ev));
    drag = null;
    const sel = svg.querySelector('.sel');
    if (sel) sel.setAttribute('visibility', 'hidden');
    if (!cancel && Math.abs(x1 - x0) >= 5) {
      const a = Math.floor(tAt(Math.min(x0, x1)));
      const b = Math.ceil(tAt(Math.max(x0, x1)));
      if (b > a) opts.onRange(a, b);
    }
  };
  svg.addEventListener('pointerup', (ev) => endDrag(ev, false));
  svg.addEventListener('pointercancel', (ev) => endDrag(ev, true));

  return {
    root,
    /** Replaces the data; keeps hidden series hidden by name and labels. */
    update(newSeries, r) {
      range = { start: r.start, end: r.end, step: r.step || 0 };
      series = newSeries.map((s, i) => ({ ...s, labels: s.labels || {}, color: s.color || PALETTE[i % PALETTE.length] }));
      for (const s of series) s.key = keyOf(s);
      const keys = new Set(series.map((s) => s.key));
      for (const k of [...hidden]) if (!keys.has(k)) hidden.delete(k);
      root.dataset.series = JSON.stringify(series.map((s) => ({
        name: s.name, labels: s.labels, points: s.points.map(([t, v]) => [t, jsonValue(v)]),
      })));
      root.dataset.start = range.start;
      root.dataset.end = range.end;
      root.dataset.step = range.step;
      drawLegend();
      draw();
      if (!tip.hidden) unhover();
    },
    destroy() {
      ro.disconnect();
      if (frame) cancelAnimationFrame(frame);
      root.remove();
    },
  };
}
