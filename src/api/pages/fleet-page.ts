/**
 * GET /api/fleet/view: the operator's start page. It polls GET /api/fleet and shows approvals
 * waiting across builds (time left to each deadline), per pipeline what is latest in each stage's
 * tenant and since when, the next cadence slot and a duration trend, revocations, and the builds
 * with filters (pipeline, outcome, started within). Every <script>/<style> carries the nonce.
 */
import { KEY_FORM, PAGE_CSS, PAGE_SCRIPT } from './kit';

export function fleetPage(nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>Image Factory · fleet</title>
<style nonce="${nonce}">${PAGE_CSS}.trend{position:relative;height:11rem;max-width:44rem}</style>
<script nonce="${nonce}" src="../assets/chart.umd.min.js"></script></head>
<body><header><h1>Image Factory</h1><span>Fleet</span><span class="small" id="asof" aria-live="polite"></span></header>
<main>
${KEY_FORM}
<section aria-labelledby="h-approvals"><h2 id="h-approvals">Waiting for approval</h2><div id="approvals" class="muted">…</div></section>
<section aria-labelledby="h-pipelines"><h2 id="h-pipelines">Pipelines</h2><div id="pipelines" class="muted">…</div></section>
<section aria-labelledby="h-revocations"><h2 id="h-revocations">Revocations</h2><div id="revocations" class="muted">…</div></section>
<section aria-labelledby="h-builds"><h2 id="h-builds">Builds</h2>
<form class="filters" id="filters">
<label for="f-pipeline">Pipeline<select id="f-pipeline"><option value="">all</option></select></label>
<label for="f-outcome">Outcome<select id="f-outcome"><option value="">all</option></select></label>
<label for="f-since">Started<select id="f-since"><option value="">any time</option><option value="3600000">in the last hour</option><option value="86400000">in the last day</option><option value="604800000">in the last week</option></select></label>
</form>
<div id="builds" class="muted">…</div></section>
</main>
<script nonce="${nonce}">${PAGE_SCRIPT}
let fleet;
const filters = { pipeline: '', outcome: '', since: '' };
for (const [name, value] of new URLSearchParams(location.search)) if (name in filters) filters[name] = value;
function table(headers, rows, empty) {
  if (rows.length === 0) return el('p', { class: 'muted', text: empty });
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c))))));
}
const buildLink = (id) => el('a', { href: API_BASE + '/builds/' + encodeURIComponent(id) + '/view', text: id });
function renderApprovals() {
  document.getElementById('approvals').replaceChildren(table(
    ['Build', 'Pipeline', 'Stage', 'Version', 'Asked', 'Deadline', 'Time left'],
    fleet.pendingApprovals.map((a) => [buildLink(a.buildId), a.pipeline, a.stage, a.imageVersion, when(a.requestedAt), when(a.deadline),
      el('span', { class: a.msLeft < 3600000 ? 's-failed' : '', text: a.msLeft > 0 ? dur(a.msLeft) : 'past due' })]),
    'Nothing is waiting for approval.'));
}
function renderPipelines() {
  const asOf = Date.parse(fleet.asOf);
  document.getElementById('pipelines').replaceChildren(...fleet.pipelines.map((p) => el('div', { 'data-pipeline': p.name },
    el('h3', { class: 'small', text: p.name + (p.description ? ' — ' + p.description : '') }),
    table(['Stage', 'Latest version', 'Since', 'Age'], p.latest.map((l) => [l.stage,
      l.version ? el('a', { href: API_BASE + '/builds/' + encodeURIComponent(l.buildId) + '/view', text: l.version }) : el('span', { class: 'muted', text: 'none yet' }),
      l.since ? when(l.since) : '', l.since ? dur(asOf - Date.parse(l.since)) : '']), ''),
    p.durations.length === 0
      ? el('p', { class: 'small muted', text: 'No finished build yet: no duration trend.' })
      : el('div', { class: 'trend' }, el('canvas', { role: 'img', 'aria-label': 'Build duration trend of ' + p.name + ': ' + p.durations.map((d) => d.minutes + ' min').join(', ') })),
    el('p', { class: 'small muted' },
      p.nextSlot ? ['Next cadence slot ', when(p.nextSlot), p.cadenceEnabled ? '' : ' (the cadence timer is off)'] : 'No cadence: builds start only on request.',
      p.running ? ' · ' + p.running + ' running' : ''))));
}
const OUTCOME_COLOURS = { succeeded: '#1a7f37', failed: '#cf222e', rejected: '#cf222e', timedOut: '#cf222e', canceled: '#6e7781' };
const charts = [];
// The duration trend per pipeline (Chart.js, served by the app): minutes per finished build, oldest first.
function renderTrends() {
  while (charts.length) charts.pop().destroy();
  if (typeof Chart === 'undefined') return;
  for (const p of fleet.pipelines) {
    const canvas = document.querySelector('[data-pipeline="' + CSS.escape(p.name) + '"] canvas');
    if (!canvas) continue;
    charts.push(new Chart(canvas, {
      type: 'bar',
      data: {
        labels: p.durations.map((d) => timeFormat.format(new Date(d.createdTime))),
        datasets: [{ label: 'minutes', data: p.durations.map((d) => d.minutes), backgroundColor: p.durations.map((d) => OUTCOME_COLOURS[d.outcome] ?? '#0969da') }],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, title: { display: true, text: 'Build duration (minutes, factory time), oldest first; red: did not succeed' },
          tooltip: { callbacks: { afterLabel: (item) => p.durations[item.dataIndex].buildId + ' · ' + word('outcome', p.durations[item.dataIndex].outcome) } } },
        scales: { y: { beginAtZero: true } },
      },
    }));
  }
}
function renderRevocations() {
  document.getElementById('revocations').replaceChildren(table(
    ['Pipeline', 'Version', 'State', 'Reason', 'By', 'Asked'],
    fleet.revocations.map((r) => [r.pipeline, r.version, el('span', { class: 'badge s-' + r.state, text: r.state }), r.reason ?? '', r.requestedBy ?? '', when(r.createdTime)]),
    'No version has been revoked.'));
}
function renderBuilds() {
  const since = filters.since ? Date.parse(fleet.asOf) - Number(filters.since) : 0;
  const shown = fleet.builds.filter((b) => (!filters.pipeline || b.pipeline === filters.pipeline)
    && (!filters.outcome || b.outcome === filters.outcome) && (!since || Date.parse(b.createdTime) >= since));
  document.getElementById('builds').replaceChildren(table(
    ['Build', 'Pipeline', 'Outcome', 'Now', 'Version', 'Started', 'Took'],
    shown.map((b) => [buildLink(b.id), b.pipeline ?? '', badge('outcome', b.outcome),
      b.outcome === 'running' ? word('step', b.step) + (b.currentStage ? ' (' + b.currentStage + ')' : '') : (b.revoked ? 'version revoked' : ''),
      b.imageVersion ?? '', when(b.createdTime), dur(Date.parse(b.lastUpdatedTime) - Date.parse(b.createdTime))]),
    'No build matches.'));
}
function fillSelect(id, values, label) {
  const select = document.getElementById(id);
  const current = filters[id.slice(2)];
  select.replaceChildren(el('option', { value: '', text: 'all' }), ...values.map((v) => el('option', { value: v, text: label(v), selected: v === current })));
  select.value = current;
}
function render() {
  document.getElementById('asof').replaceChildren('updated ', when(fleet.asOf));
  fillSelect('f-pipeline', fleet.pipelines.map((p) => p.name), (v) => v);
  fillSelect('f-outcome', Object.keys(WORDS.outcome), (v) => word('outcome', v));
  document.getElementById('f-since').value = filters.since;
  renderApprovals(); renderPipelines(); renderTrends(); renderRevocations(); renderBuilds();
  document.body.dataset.loaded = 'true';
}
document.getElementById('filters').addEventListener('change', (event) => {
  filters[event.target.id.slice(2)] = event.target.value;
  const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
  history.replaceState(null, '', location.pathname + (params.size ? '?' + params : ''));
  if (fleet) renderBuilds();
});
let timer;
async function refresh() {
  clearTimeout(timer);
  try { fleet = await api('/fleet'); document.getElementById('error').hidden = true; render(); }
  catch (error) { showError(error); if (error instanceof KeyNeeded) return; }
  timer = setTimeout(refresh, 3000);
}
keyForm(refresh);
refresh();
</script></body></html>`;
}
