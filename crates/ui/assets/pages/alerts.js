// Alerts: firing/pending alerts (rules engine and Alertmanager-only ones),
// rule groups, silences, and notification delivery history.
import { ago, badge, errorBox, fmtDuration, fmtTime, fmtValue, h, html, isAbort, labelChips, num, parseValue, patch, raw, timeAgo, toneOf } from '../util.js';

const labelKey = (labels) => JSON.stringify(Object.keys(labels || {}).sort().map((k) => [k, labels[k]]));

function matcherText(m) {
  const op = m.isRegex ? (m.isEqual === false ? '!~' : '=~') : m.isEqual === false ? '!=' : '=';
  return `${m.name}${op}"${m.value}"`;
}

function annotationsBlock(a = {}) {
  const keys = Object.keys(a);
  if (!keys.length) return '';
  const main = ['summary', 'description'].filter((k) => a[k]);
  const rest = keys.filter((k) => !main.includes(k)).sort();
  return html`<div class="aw-annots">${main.map((k) => html`<p class="${k}">${a[k]}</p>`)}${rest.length ? html`<dl>${rest.map((k) => html`<dt>${k}</dt><dd>${a[k]}</dd>`)}</dl>` : ''}</div>`;
}

export default function alerts(ctx) {
  const api = ctx.api;
  const sections = {};
  for (const [key, title] of [['alerts', 'Active alerts'], ['silences', 'Silences'], ['rules', 'Rule groups'], ['notifications', 'Notification history']]) {
    const body = h('div', { class: 'aw-section-body' });
    const flash = h('div', { class: 'aw-flash', 'aria-live': 'polite' });
    sections[key] = { el: h('section', { class: `aw-section aw-${key}`, id: key }, h('h2', { text: title }), flash, body), body, flash };
  }
  ctx.root.append(h('h1', { text: 'Alerts' }), ...Object.values(sections).map((s) => s.el));
  let lastAlerts = [];
  // <details> the user opened or closed survive refreshes.
  const toggled = new Map();
  ctx.root.addEventListener('toggle', (ev) => {
    const k = ev.target.dataset && ev.target.dataset.details;
    if (k) toggled.set(k, ev.target.open);
  }, true);
  const openAttr = (key, dflt) => ((toggled.has(key) ? toggled.get(key) : dflt) ? ' open' : '');

  async function silence(labels, btn) {
    btn.disabled = true;
    const now = new Date();
    const body = {
      matchers: Object.keys(labels).sort().map((name) => ({ name, value: String(labels[name]), isRegex: false, isEqual: true })),
      startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + 2 * 3600 * 1000).toISOString(),
      createdBy: 'aerowatch-ui',
      comment: 'silenced from the UI',
    };
    if (ctx.isCurrent()) document.body.dataset.ready = '0';
    try {
      const res = await api.post('/api/v2/silences', body);
      patch(sections.alerts.flash, html`<p class="ok small">Silenced ${labels.alertname || 'the alert'} for 2 h (silence ${res && res.silenceID}).</p>`);
    } catch (e) {
      if (isAbort(e)) return;
      patch(sections.alerts.flash, errorBox(e, 'Could not create the silence: '));
    }
    await ctx.reload(true);
  }

  async function expire(id, btn) {
    btn.disabled = true;
    if (ctx.isCurrent()) document.body.dataset.ready = '0';
    try {
      await api.del(`/api/v2/silence/${encodeURIComponent(id)}`);
      patch(sections.silences.flash, html`<p class="ok small">Silence ${id} expired.</p>`);
    } catch (e) {
      if (isAbort(e)) return;
      patch(sections.silences.flash, errorBox(e, 'Could not expire the silence: '));
    }
    await ctx.reload(true);
  }

  ctx.root.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    if (b.dataset.action === 'silence') {
      const a = lastAlerts[+b.dataset.i];
      if (a) silence(a.labels, b).catch(() => {});
    } else if (b.dataset.action === 'expire') {
      expire(b.dataset.id, b).catch(() => {});
    }
  });

  function renderAlerts(v1, v2) {
    const { body } = sections.alerts;
    if (v1.error && v2.error) { patch(body, html`${errorBox(v1.error)}${errorBox(v2.error)}`); return; }
    const amByKey = new Map((v2.value || []).map((a) => [labelKey(a.labels), a]));
    const list = [];
    const seen = new Set();
    for (const a of v1.value?.alerts || []) {
      const k = labelKey(a.labels);
      seen.add(k);
      const am = amByKey.get(k);
      list.push({ labels: a.labels || {}, annotations: a.annotations, state: a.state, since: a.activeAt, value: a.value, am, source: 'rule' });
    }
    for (const a of v2.value || []) {
      if (seen.has(labelKey(a.labels))) continue;
      list.push({ labels: a.labels || {}, annotations: a.annotations, state: a.status?.state === 'suppressed' ? 'suppressed' : 'firing', since: a.startsAt, am: a, source: 'alertmanager' });
    }
    const order = { firing: 0, pending: 1, suppressed: 2 };
    list.sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3) || String(a.labels.alertname).localeCompare(String(b.labels.alertname)));
    lastAlerts = list;
    const errs = [v1.error && errorBox(v1.error, 'Rules engine alerts: '), v2.error && errorBox(v2.error, 'Alertmanager alerts: ')];
    if (!list.length) {
      patch(body, html`${errs}<div class="aw-empty">No alerts are firing or pending. Alerts come from rule files (<code>rule_files:</code>), <code>alert_rules:</code>, presets (<code>presets: [openaero]</code>), SLOs and recovery.</div>`);
      return;
    }
    const firing = list.filter((a) => a.state === 'firing').length;
    patch(body, html`${errs}<p class="muted small">${firing} firing, ${list.filter((a) => a.state === 'pending').length} pending, ${list.filter((a) => a.state === 'suppressed').length} suppressed.</p>
      <ul class="aw-alert-list">${list.map((a, i) => {
        const silencedBy = a.am?.status?.silencedBy || [];
        const inhibitedBy = a.am?.status?.inhibitedBy || [];
        const sev = a.labels.severity;
        return html`<li class="aw-alert ${a.state}" data-alertname="${a.labels.alertname || ''}" data-state="${a.state}">
          <div class="aw-alert-head">
            ${badge(a.state, a.state === 'firing' ? 'bad' : a.state === 'pending' ? 'warn' : 'muted')}
            <strong>${a.labels.alertname || '(no alertname)'}</strong>
            ${sev ? badge(sev, /crit|page|high/.test(sev) ? 'bad' : /warn|medium|ticket/.test(sev) ? 'warn' : 'info') : ''}
            ${a.source === 'alertmanager' ? badge('Alertmanager only', 'info') : ''}
            ${silencedBy.length ? badge('silenced', 'muted') : ''}${inhibitedBy.length ? badge('inhibited', 'muted') : ''}
            <span class="muted small">since ${timeAgo(a.since)}${a.value != null ? html` · value ${num(parseValue(a.value))}` : ''}</span>
            <span class="grow"></span>
            ${silencedBy.length ? html`<span class="muted small">by ${silencedBy.join(', ')}</span>`
              : html`<button type="button" class="small" data-action="silence" data-i="${i}" data-key="silence-${i}" title="Silence exactly these labels for 2 hours">Silence 2 h</button>`}
          </div>
          <div class="chips">${labelChips(a.labels, ['alertname'])}</div>
          ${annotationsBlock(a.annotations)}
        </li>`;
      })}</ul>`);
  }

  function renderSilences(res) {
    const { body } = sections.silences;
    if (res.error) { patch(body, errorBox(res.error)); return; }
    const all = (res.value || []).slice().sort((a, b) => String(b.startsAt).localeCompare(String(a.startsAt)));
    const live = all.filter((s) => s.status?.state !== 'expired');
    const expired = all.filter((s) => s.status?.state === 'expired');
    const row = (s, canExpire) => html`<tr data-silence="${s.id}">
      <td>${badge(s.status?.state || '?', s.status?.state === 'active' ? 'info' : 'muted')}</td>
      <td><div class="chips">${(s.matchers || []).map((m) => html`<span class="chip mono">${matcherText(m)}</span>`)}</div></td>
      <td><span title="${fmtTime(Date.parse(s.startsAt) / 1000)} → ${fmtTime(Date.parse(s.endsAt) / 1000)}">${s.status?.state === 'pending' ? `starts ${ago(s.startsAt)}` : s.status?.state === 'expired' ? `ended ${ago(s.endsAt)}` : `ends ${ago(s.endsAt)}`}</span></td>
      <td>${s.createdBy}<div class="muted small">${s.comment}</div></td>
      <td>${canExpire ? html`<button type="button" class="small" data-action="expire" data-id="${s.id}" data-key="expire-${s.id}">Expire</button>` : ''}</td></tr>`;
    const head = html`<thead><tr><th>State</th><th>Matchers</th><th>When</th><th>Created by</th><th><span class="sr">Actions</span></th></tr></thead>`;
    patch(body, html`${live.length ? html`<div class="aw-table-wrap"><table class="aw-table">${head}<tbody>${live.map((s) => row(s, true))}</tbody></table></div>`
      : html`<div class="aw-empty">No active or pending silences. Use “Silence 2 h” on an alert, or <code>amtool silence add</code>.</div>`}
      ${expired.length ? html`<details class="aw-expired" data-details="expired"${raw(openAttr('expired', false))}><summary>${expired.length} expired</summary><div class="aw-table-wrap"><table class="aw-table">${head}<tbody>${expired.slice(0, 100).map((s) => row(s, false))}</tbody></table></div></details>` : ''}`);
  }

  function renderRules(res) {
    const { body } = sections.rules;
    if (res.error) { patch(body, errorBox(res.error)); return; }
    const groups = res.value?.groups || [];
    if (!groups.length) {
      patch(body, html`<div class="aw-empty">No rule groups loaded. Add <code>rule_files:</code>, <code>alert_rules:</code> or <code>presets: [openaero]</code> to the config.</div>`);
      return;
    }
    patch(body, groups.map((g) => html`<details class="aw-group" data-details="group:${g.name}"${raw(openAttr(`group:${g.name}`, true))}>
      <summary><strong>${g.name}</strong> <span class="muted small">${g.file} · every ${fmtDuration(g.interval)} · last ${timeAgo(g.lastEvaluation)} took ${fmtValue(g.evaluationTime, 's')}</span></summary>
      <div class="aw-table-wrap"><table class="aw-table">
        <thead><tr><th>Rule</th><th>State</th><th>Health</th><th>Last evaluation</th><th class="num">Took</th></tr></thead>
        <tbody>${(g.rules || []).map((r) => html`<tr data-rule="${r.name}">
          <td><strong>${r.name}</strong> <span class="muted small">${r.type}</span><div class="mono small aw-query"><a href="/explore?q=${encodeURIComponent(r.query || '')}">${r.query}</a></div>
            ${r.lastError ? html`<div class="bad small">${r.lastError}</div>` : ''}</td>
          <td>${r.type === 'alerting' ? badge(r.state || 'inactive', r.state === 'firing' ? 'bad' : r.state === 'pending' ? 'warn' : 'ok') : html`<span class="muted">—</span>`}
            ${r.type === 'alerting' && r.alerts?.length ? html`<div class="muted small">${r.alerts.length} alert${r.alerts.length > 1 ? 's' : ''}</div>` : ''}</td>
          <td>${badge(r.health || 'unknown', r.health === 'ok' ? 'ok' : r.health === 'err' ? 'bad' : 'muted')}</td>
          <td>${timeAgo(r.lastEvaluation)}</td>
          <td class="num">${fmtValue(r.evaluationTime, 's')}</td></tr>`)}</tbody></table></div></details>`));
  }

  function renderNotifications(res) {
    const { body } = sections.notifications;
    if (res.error) { patch(body, errorBox(res.error)); return; }
    const list = (Array.isArray(res.value) ? res.value : res.value?.notifications || []).slice()
      .sort((a, b) => String(b.time).localeCompare(String(a.time)) || (b.id || 0) - (a.id || 0));
    if (!list.length) {
      patch(body, html`<div class="aw-empty">No notifications sent yet. Receivers are configured under <code>alertmanager:</code> (Slack, PagerDuty, email, webhooks).</div>`);
      return;
    }
    const shown = list.slice(0, 100);
    patch(body, html`<div class="aw-table-wrap"><table class="aw-table">
      <thead><tr><th>Time</th><th>Receiver</th><th>Status</th><th>Alerts</th><th>Outcome</th><th class="num">Attempts</th><th class="num">Took</th></tr></thead>
      <tbody>${shown.map((n) => html`<tr data-notification="${n.id}">
        <td>${timeAgo(n.time)}</td>
        <td>${n.receiver}<div class="muted small">${n.integration}${n.index != null ? `/${n.index}` : ''}</div></td>
        <td>${badge(n.status, n.status === 'resolved' ? 'ok' : 'bad')}</td>
        <td>${(n.alerts || []).map((a) => html`<div>${a.alertname || a.fingerprint}${a.status && a.status !== n.status ? html` <span class="muted small">(${a.status})</span>` : ''}</div>`)}</td>
        <td>${badge(n.outcome, toneOf(n.outcome))}${n.last_error ? html`<div class="bad small">${n.last_error}</div>` : ''}</td>
        <td class="num">${n.attempts}</td>
        <td class="num">${n.duration_ms != null ? `${n.duration_ms} ms` : ''}</td></tr>`)}</tbody></table></div>
      ${list.length > shown.length ? html`<p class="muted small">Showing the latest ${shown.length} of ${list.length}.</p>` : ''}`);
  }

  const settle = (p) => p.then((value) => ({ value }), (error) => { if (isAbort(error)) throw error; return { error }; });

  return {
    async load() {
      const [v1, v2, rules, sil, notes] = await Promise.all([
        settle(api.get('/api/v1/alerts')),
        settle(api.get('/api/v2/alerts')),
        settle(api.get('/api/v1/rules')),
        settle(api.get('/api/v2/silences')),
        settle(api.get('/api/v1/notifications')),
      ]);
      renderAlerts(v1, v2);
      renderSilences(sil);
      renderRules(rules);
      renderNotifications(notes);
    },
  };
}
