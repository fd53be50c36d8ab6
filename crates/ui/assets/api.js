// Fetch helpers for Aerowatch's Prometheus-compatible JSON APIs.
import { parseValue } from './util.js';

export class ApiError extends Error {
  constructor(message, status, type) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
  }
}

/**
 * Sends a request and returns the payload: `data` of a
 * {"status":"success","data":...} envelope, else the whole JSON body.
 * Throws ApiError with the server's error text on failure (AbortError
 * passes through untouched). `ok` lists extra statuses whose JSON body is
 * still the answer (e.g. 503 from /api/health).
 */
export async function request(method, path, { params, body, signal, ok = [] } = {}) {
  const url = new URL(path, location.origin);
  if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v == null || v === '') continue;
      for (const x of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(x));
    }
  }
  const init = { method, signal, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`cannot reach the server (${e.message})`, 0, 'network');
  }
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : null; } catch { json = undefined; }
  if (!res.ok && !ok.includes(res.status)) {
    let msg;
    if (json && typeof json === 'object') msg = json.error || json.message || text;
    else if (typeof json === 'string') msg = json;
    else msg = text.trim() || res.statusText;
    const type = json && json.errorType;
    throw new ApiError(`${type ? `${type}: ` : ''}${msg} (HTTP ${res.status})`, res.status, type);
  }
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    if (json.status === 'error') throw new ApiError(json.error || 'error', res.status, json.errorType);
    if (json.status === 'success' && 'data' in json) return json.data;
  }
  if (json === undefined) throw new ApiError(`not JSON from ${path} (HTTP ${res.status})`, res.status, 'format');
  return json;
}

export const get = (path, params, opts = {}) => request('GET', path, { ...opts, params });
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
export const del = (path, opts = {}) => request('DELETE', path, opts);

/** An API bound to one page's AbortSignal. */
export function bind(signal) {
  return {
    get: (path, params, opts = {}) => get(path, params, { ...opts, signal }),
    post: (path, body, opts = {}) => post(path, body, { ...opts, signal }),
    del: (path, opts = {}) => del(path, { ...opts, signal }),
    query: (expr, time) => get('/api/v1/query', { query: expr, time }, { signal }),
    queryRange: (expr, start, end, step) => get('/api/v1/query_range', { query: expr, start, end, step }, { signal }),
    labelValues: (name, match) => get(`/api/v1/label/${encodeURIComponent(name)}/values`, { 'match[]': match }, { signal }),
  };
}

/**
 * Normalizes a query result into series: [{metric, points: [[t, v], ...]}]
 * (vector → one point each, scalar → one unlabelled series).
 */
export function toSeries(data) {
  if (!data) return [];
  const r = data.result;
  switch (data.resultType) {
    case 'matrix':
      return r.map((s) => ({ metric: s.metric || {}, points: (s.values || []).map(([t, v]) => [t, parseValue(v)]) }));
    case 'vector':
      return r.map((s) => ({ metric: s.metric || {}, points: [[s.value[0], parseValue(s.value[1])]] }));
    case 'scalar':
      return [{ metric: {}, points: [[r[0], parseValue(r[1])]] }];
    case 'string':
      return [{ metric: {}, points: [[r[0], NaN]], text: r[1] }];
    default:
      return [];
  }
}

const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** A nice step for a range: ≈ range/points, at least 1 s, at most 11,000 points. */
export function niceStep(rangeSec, points = 250) {
  const raw = Math.max(1, rangeSec / points);
  let step = NICE_STEPS.find((s) => s >= raw) || Math.ceil(raw / 86400) * 86400;
  while (rangeSec / step > 11000) step *= 2;
  return step;
}
