// The ops view (docs/guides/ops-view.md): services and instances with health, version, discovery
// freshness and configuration status; cells and placement; event-log lag; coherence checks; card
// stand-in and decline rates; alerts firing; the last hour's charts; and the customer status banner.
// Everything shown comes from GET /staff/api/ops/overview and /series (operations role); whatever the
// staff edge could not learn is shown as unknown with why. Text goes in through textContent only.

import { signIn, hasRole } from './session.js';
import { api } from './api.js';
import { $, h, showError } from './dom.js';

const REFRESH_MS = 10_000;
const SVG = 'http://www.w3.org/2000/svg';

async function refresh() {
  try {
    const [overview, series] = await Promise.all([api('GET', '/staff/api/ops/overview'), api('GET', '/staff/api/ops/series')]);
    render(overview);
    renderCharts(series, overview);
  } catch (error) {
    $('ops-collected').textContent = `Could not load the overview: ${error.message}`;
  }
}

function render(o) {
  $('ops-collected').textContent = `Collected ${new Date(o.at).toLocaleTimeString()} in ${o.collectSeconds.toFixed(2)} s.` + (o.discoveryWhy ? ` ${o.discoveryWhy}.` : '');
  renderBanner(o.banner);
  renderAlerts(o.alerts, o.degradation);
  renderServices(o.services);
  renderCells(o.placement);
  renderCards(o.cards);
  renderEventLog(o.eventLog);
  renderCoherence(o.coherence);
  renderConfig(o.staffEdgeConfig);
}

function renderBanner(banner) {
  const current = $('ops-banner-current');
  if (!banner) {
    current.className = 'muted';
    current.replaceChildren('No banner: customers see nothing.');
    return;
  }
  current.className = `banner-preview ${banner.level}`;
  current.replaceChildren(
    h('strong', {}, `${banner.level} (${banner.source}${banner.setAt ? `, set ${new Date(banner.setAt).toLocaleString()}` : ''}): `),
    h('span', { dataset: { testid: 'ops-banner-text' } }, banner.message));
}

function renderAlerts(alerts, degradation) {
  $('ops-alerts').replaceChildren(...(alerts.length === 0
    ? [h('li', { class: 'ok' }, 'None.')]
    : alerts.map((a) => h('li', { class: a.severity, dataset: { testid: 'ops-alert', alert: a.name } }, h('strong', {}, a.name), ` (${a.severity}): ${a.summary}`))));
  $('ops-degradation').hidden = !degradation;
  $('ops-degradation').textContent = degradation ? `Degraded for customers: ${degradation}` : '';
}

function renderServices(services) {
  const rows = [];
  for (const service of services) {
    if (service.instances.length === 0) {
      rows.push(h('tr', { dataset: { testid: 'ops-service', service: service.name } },
        h('td', {}, service.name), h('td', { colspan: 6, class: 'muted' }, `no instances${service.detail ? ` (${service.detail})` : ''}${service.viewAuthoritative ? '' : ' — discovery view not authoritative'}`)));
      continue;
    }
    for (const i of service.instances) {
      const serving = i.health === 'SERVING';
      rows.push(h('tr', { dataset: { testid: 'ops-instance', service: service.name, instance: i.instanceId } },
        h('td', {}, service.name),
        h('td', { class: 'mono' }, i.instanceId, h('br'), h('span', { class: 'muted' }, i.address)),
        h('td', {}, i.version),
        h('td', { class: serving ? 'health-serving' : 'health-bad', dataset: { testid: 'ops-instance-health' } }, i.health, i.why ? h('div', { class: 'muted' }, i.why) : null),
        h('td', {}, i.discoveryFreshness),
        h('td', {}, i.configStatus),
        h('td', { class: 'muted' }, service.viewAuthoritative ? 'current' : 'last known good')));
    }
  }
  $('ops-services').replaceChildren(h('table', {},
    h('thead', {}, h('tr', {}, ...['Service', 'Instance', 'Version', 'Health', 'Discovery', 'Configuration', 'Registry view'].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows)));
}

function renderCells(p) {
  if (p.status === 'unknown') {
    $('ops-cells').replaceChildren(h('p', { class: 'muted' }, `Unknown: ${p.why}.`));
    return;
  }
  $('ops-cells').replaceChildren(
    h('p', {}, `Placement map version ${p.version}, ${p.partitionCount} partitions, cluster ${p.clusterId} (${p.status}${p.why ? `: ${p.why}` : ''}).`),
    h('table', {}, h('thead', {}, h('tr', {}, ...['Cell', 'Partitions', 'Instances serving'].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...p.cells.map((c) => h('tr', { dataset: { testid: 'ops-cell', cell: c.name } },
        h('td', {}, c.name), h('td', { class: 'amount' }, String(c.partitions)),
        h('td', { class: c.instancesServing > 0 ? 'health-serving' : 'health-bad' }, `${c.instancesServing} of ${c.instances}`))))));
}

const rate = (value, unit = '/s') => (value === null || value === undefined ? 'unknown' : `${value.toFixed(2)}${unit}`);

function renderCards(c) {
  $('ops-cards').replaceChildren(c.status !== 'known'
    ? h('p', { class: 'muted' }, c.status)
    : h('dl', {},
      h('dt', {}, 'Stand-in decisions'), h('dd', { dataset: { testid: 'ops-stand-in-rate' } }, rate(c.standInsPerSecond)),
      h('dt', {}, 'Declines'), h('dd', {}, `${rate(c.declinesPerSecond)}${c.declineRatio === null ? '' : ` (${(c.declineRatio * 100).toFixed(1)} % of decisions)`}`),
      h('dt', {}, 'All decisions'), h('dd', {}, rate(c.decisionsPerSecond))));
}

function renderEventLog(e) {
  $('ops-event-log').replaceChildren(e.cells.length === 0
    ? h('p', { class: 'muted' }, e.status)
    : h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Cell'), h('th', { class: 'amount' }, 'Oldest unrelayed event'), h('th', { class: 'amount' }, 'Events behind'),
      h('th', { class: 'amount' }, 'Partitions refused (store behind the log)'))),
      h('tbody', {}, ...e.cells.map((c) => h('tr', {}, h('td', {}, c.cell), h('td', { class: 'amount' }, `${c.lagSeconds.toFixed(1)} s`),
        h('td', { class: 'amount' }, c.lagEvents === null ? '?' : String(c.lagEvents)),
        h('td', { class: 'amount', dataset: { testid: `ops-behind-log-${c.cell}` } }, c.partitionsBehindLog === null ? '?' : String(c.partitionsBehindLog)))))));
}

function renderCoherence(c) {
  if (c.cells.length === 0) {
    $('ops-coherence').replaceChildren(h('p', { class: 'muted' }, c.status));
    return;
  }
  const results = ['ok', 'missing', 'error', 'timeout'];
  $('ops-coherence').replaceChildren(
    h('p', { class: c.missingSinceLastSample > 0 ? 'error' : 'muted' }, `Missing since the last sample: ${c.missingSinceLastSample ?? 'unknown'}. Counts since each checker started:`),
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Cell'), ...results.map((r) => h('th', { class: 'amount' }, r)))),
      h('tbody', {}, ...c.cells.map((cell) => h('tr', {}, h('td', {}, cell.cell),
        ...results.map((r) => h('td', { class: 'amount' }, String(cell.checksByResult[r] ?? 0))))))));
}

function renderConfig(c) {
  $('ops-config').replaceChildren(!c
    ? h('p', { class: 'muted' }, 'Unknown: this staff edge has no configuration client.')
    : h('dl', {},
      h('dt', {}, 'Confirmed by the configuration service'), h('dd', {}, c.fresh ? 'yes' : 'no: serving last known good values'),
      h('dt', {}, 'Started from its cache file'), h('dd', {}, c.startedFromCache ? 'yes' : 'no'),
      h('dt', {}, 'Keys kept despite an untrusted not-found'), h('dd', {}, c.untrustedKeys.length ? c.untrustedKeys.join(', ') : 'none'),
      h('dt', {}, 'Malformed values refused'), h('dd', {}, String(c.malformedValues))));
}

const CHARTS = [
  { key: 'standInsPerSecond', title: 'Stand-in decisions /s' },
  { key: 'declinesPerSecond', title: 'Card declines /s' },
  { key: 'eventLogLagSeconds', title: 'Event log lag (s)' },
  { key: 'instancesUnreachable', title: 'Instances unreachable' },
];

function renderCharts(series) {
  $('ops-charts').replaceChildren(...CHARTS.map((chart) => {
    const points = series.points.map((p) => ({ t: Date.parse(p.at), v: p[chart.key] })).filter((p) => p.v !== null && p.v !== undefined);
    const latest = points.length ? points[points.length - 1].v : null;
    return h('div', { class: 'chart', dataset: { testid: 'ops-chart', metric: chart.key } },
      h('h3', {}, h('span', {}, chart.title), h('span', {}, latest === null ? '—' : Number(latest).toFixed(2))),
      points.length < 2 ? h('p', { class: 'muted empty' }, 'Not enough samples yet.') : sparkline(points, series.windowSeconds * 1000));
  }));
}

/** An inline SVG line of the points over the window ending now, scaled to its maximum (at least 1). */
function sparkline(points, windowMs) {
  const end = Date.now();
  const start = end - windowMs;
  const max = Math.max(1, ...points.map((p) => p.v));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 300 60');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `maximum ${max.toFixed(2)}`);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points.map((p) => `${(((p.t - start) / windowMs) * 300).toFixed(1)},${(58 - (p.v / max) * 56).toFixed(1)}`).join(' '));
  svg.append(line);
  return svg;
}

async function setBanner(event) {
  event.preventDefault();
  showError($('ops-banner-error'), null);
  $('ops-banner-set').disabled = true;
  try {
    const result = await api('PUT', '/staff/api/ops/banner', {
      body: { level: $('ops-banner-level').value, message: $('ops-banner-message').value, reason: $('ops-banner-reason').value || undefined },
    });
    renderBanner(result.banner);
    $('ops-banner-message').value = '';
    $('ops-banner-reason').value = '';
  } catch (error) {
    showError($('ops-banner-error'), error);
  } finally {
    $('ops-banner-set').disabled = false;
  }
}

async function clearBanner() {
  showError($('ops-banner-error'), null);
  $('ops-banner-clear').disabled = true;
  try {
    const reason = $('ops-banner-reason').value;
    await api('DELETE', `/staff/api/ops/banner${reason ? `?reason=${encodeURIComponent(reason)}` : ''}`);
    renderBanner(null);
    $('ops-banner-reason').value = '';
  } catch (error) {
    showError($('ops-banner-error'), error);
  } finally {
    $('ops-banner-clear').disabled = false;
  }
}

// Last, so that every constant above is initialised before the first render.
const me = await signIn();
if (!hasRole(me, 'operations')) {
  $('ops-refused').hidden = false;
} else {
  $('ops').hidden = false;
  $('ops-banner-form').addEventListener('submit', setBanner);
  $('ops-banner-clear').addEventListener('click', clearBanner);
  await refresh();
  setInterval(refresh, REFRESH_MS);
}
