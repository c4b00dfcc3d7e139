/**
 * GET /api/builds/{id}/view: a build as a timeline, live while it runs (polls GET /api/builds/{id}):
 * every step and stage as a bar with its duration, approval waits, the stages with their versions
 * (linked to the Azure portal), the audit ledger as the gallery tags hold it, test output tails,
 * ignored decisions, what compensation deleted, the revocation. Local times, ISO on hover.
 */
import { KEY_FORM, PAGE_CSS, PAGE_SCRIPT, escapeHtml, scriptJson } from './pages/kit';

const TIMELINE_CSS = `
.summary{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
.summary dt{color:var(--muted)}.summary dd{margin:0}
.rows{display:grid;grid-template-columns:minmax(12rem,22rem) 1fr 7rem;gap:.25rem .8rem;align-items:center}
.rows .label{font-size:.85rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.rows .label.stage{font-weight:600}
.track{position:relative;height:1.1rem;background:#f0f2f4;border-radius:3px}
.bar{position:absolute;top:0;bottom:0;border-radius:3px;min-width:3px;background:var(--run)}
.bar.s-done,.bar.s-succeeded,.bar.s-approved{background:var(--ok)}.bar.s-failed,.bar.s-rejected,.bar.s-timedOut,.bar.s-canceled{background:var(--bad)}
.bar.s-awaitingApproval,.bar.s-waiting{background:#bf8700}.bar.open{background-image:repeating-linear-gradient(45deg,transparent 0 6px,rgba(255,255,255,.35) 6px 12px)}
.took{font-size:.85rem;color:var(--muted);text-align:right}
`;

export function statusPage(buildId: string, nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>Build ${escapeHtml(buildId)} · Image Factory</title>
<style nonce="${nonce}">${PAGE_CSS}${TIMELINE_CSS}</style></head>
<body><header><h1>Image Factory</h1><a id="fleetlink" href="#">Fleet</a><span>Build <span id="id"></span></span><span class="small" id="outcome" aria-live="polite"></span></header>
<main>
${KEY_FORM}
<section aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2><dl class="summary" id="summary"></dl><p id="message"></p>
<div id="revoked" class="notice" hidden></div><div id="pending" class="notice" hidden></div><div id="failure" class="error" hidden></div></section>
<section aria-labelledby="h-timeline"><h2 id="h-timeline">Timeline</h2><div id="timeline" class="rows"></div></section>
<section aria-labelledby="h-stages"><h2 id="h-stages">Stages</h2><div id="stages"></div></section>
<section aria-labelledby="h-ledger"><h2 id="h-ledger">Audit ledger (gallery version tags)</h2><div id="ledger"></div></section>
<section aria-labelledby="h-tests"><h2 id="h-tests">Tests</h2><div id="tests"></div></section>
<section aria-labelledby="h-more"><h2 id="h-more">Ignored decisions and clean-up</h2><div id="more"></div></section>
</main>
<script nonce="${nonce}">${PAGE_SCRIPT}
const buildId = ${scriptJson(buildId)};
document.getElementById('id').textContent = buildId;
document.getElementById('fleetlink').href = API_BASE + '/fleet/view';
const TERMINAL = new Set(['done', 'failed', 'rejected', 'timedOut', 'canceled', 'skipped']);
const portal = (tenantId, id) => 'https://portal.azure.com/#@' + encodeURIComponent(tenantId) + '/resource' + id;
function table(headers, rows, empty) {
  if (rows.length === 0) return el('p', { class: 'muted', text: empty });
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c))))));
}
function summary(build) {
  const rows = [['Pipeline', build.pipeline], ['Version', build.imageVersion], ['Outcome', badge('outcome', build.outcome)],
    ['Now', build.outcome === 'running' ? word('step', build.step) + (build.currentStage ? ' (' + build.currentStage + ')' : '') : word('step', 'done')],
    ['Source image', build.sourceImageVersion], ['Recipe hash', build.recipeHash], ['Requested by', build.requestedBy], ['Reason', build.reason],
    ['Started', when(build.createdTime)], ['Took', dur(Date.parse(build.lastUpdatedTime) - Date.parse(build.createdTime)) + (build.outcome === 'running' ? ' so far' : '')]];
  document.getElementById('summary').replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]));
}
function timeline(build) {
  const end = (iso) => (iso ? Date.parse(iso) : Date.parse(build.lastUpdatedTime));
  const rows = [];
  for (const stage of build.stages) {
    if (!stage.startedAt) continue;
    rows.push({ label: 'Stage ' + stage.name, cls: 'stage', state: stage.state, from: Date.parse(stage.startedAt), to: end(stage.endedAt), open: !stage.endedAt && !TERMINAL.has(stage.state), start: stage.startedAt });
    for (const entry of build.timeline.filter((t) => (t.stage ?? build.stages[0].name) === stage.name))
      rows.push({ label: word('step', entry.step) + (entry.what ? ': ' + entry.what : ''), state: entry.endedAt ? 'done' : (build.outcome === 'running' ? 'running' : build.outcome), from: Date.parse(entry.startedAt), to: end(entry.endedAt), open: !entry.endedAt && build.outcome === 'running', start: entry.startedAt });
    const a = stage.approval;
    if (a) rows.push({ label: 'approval wait (' + stage.name + ')' + (a.decision ? ': ' + a.decision : ''), state: a.decision ?? 'waiting', from: Date.parse(a.requestedAt), to: a.decidedAt ? Date.parse(a.decidedAt) : end(undefined), open: !a.decision && build.outcome === 'running', start: a.requestedAt });
  }
  for (const entry of build.timeline.filter((t) => !t.stage && !build.stages.some((s) => s.startedAt && s.name === build.stages[0].name && false)))
    if (!rows.some((r) => r.start === entry.startedAt)) rows.unshift({ label: word('step', entry.step) + (entry.what ? ': ' + entry.what : ''), state: entry.endedAt ? 'done' : build.outcome, from: Date.parse(entry.startedAt), to: end(entry.endedAt), open: !entry.endedAt && build.outcome === 'running', start: entry.startedAt });
  const from = Math.min(Date.parse(build.createdTime), ...rows.map((r) => r.from));
  const to = Math.max(Date.parse(build.lastUpdatedTime), ...rows.map((r) => r.to));
  const span = Math.max(1, to - from);
  const nodes = rows.flatMap((r) => {
    const bar = el('div', { class: 'bar s-' + r.state + (r.open ? ' open' : ''), title: r.start + ' (' + dur(r.to - r.from) + ')' });
    // CSSOM, not a style attribute: the CSP allows no inline style attributes.
    bar.style.left = ((r.from - from) / span) * 100 + '%';
    bar.style.width = (Math.max(0, r.to - r.from) / span) * 100 + '%';
    return [el('div', { class: 'label' + (r.cls ? ' ' + r.cls : ''), title: r.label, text: r.label }), el('div', { class: 'track', role: 'img', 'aria-label': r.label + ': ' + dur(r.to - r.from) }, bar),
      el('div', { class: 'took' }, dur(r.to - r.from) + (r.open ? ' so far' : ''))];
  });
  document.getElementById('timeline').replaceChildren(...(nodes.length ? nodes : [el('p', { class: 'muted', text: 'Not started yet.' })]));
}
function stageTimes(stage) {
  if (!stage.startedAt) return '';
  if (stage.endedAt) return el('span', {}, when(stage.startedAt), ' → ', when(stage.endedAt));
  // Stopped without an end (rejected, canceled, skipped): no open arrow, the state says it ended.
  if (TERMINAL.has(stage.state)) return el('span', {}, 'from ', when(stage.startedAt));
  return el('span', {}, when(stage.startedAt), ' → …');
}
function stages(build, revoked) {
  document.getElementById('stages').replaceChildren(table(['Stage', 'State', 'Version', 'Regions', 'Approval', 'When'],
    build.stages.map((s) => {
      const a = s.approval;
      const decision = !a ? '' : a.decision
        ? el('span', {}, (a.decision === 'timedOut' ? 'timed out' : a.decision) + (a.approver ? ' by ' + a.approver : '') + (a.changeTicket ? ' (' + a.changeTicket + ')' : '') + (a.comment ? ': ' + a.comment : '') + ' ', a.decidedAt ? when(a.decidedAt) : '')
        : el('span', {}, 'waiting until ', when(a.deadline));
      return [el('span', { 'data-stage': s.name, 'data-state': s.state, text: s.name }), badge('stage', s.state),
        s.versionId ? el('span', {}, el('a', { href: portal(s.tenantId, s.versionId), rel: 'noreferrer', target: '_blank', text: build.imageVersion ?? 'version' }), revoked ? ' (revoked)' : '') : '',
        (s.regions ?? []).map((r) => r.name + ' ' + r.progress + '%').join(', '), decision, stageTimes(s)];
    }), ''));
}
function render(build) {
  document.getElementById('outcome').replaceChildren(badge('outcome', build.outcome));
  summary(build);
  const revocation = (build.revocations ?? [])[0];
  const revoked = revocation && revocation.state !== 'failed';
  const revokedBox = document.getElementById('revoked');
  revokedBox.hidden = !revocation;
  if (revocation) revokedBox.replaceChildren(el('strong', { text: revocation.state === 'revoked' ? 'Revoked. ' : revocation.state === 'revoking' ? 'Being revoked. ' : 'Revocation failed. ' }),
    build.imageVersion + ' ' + (revocation.state === 'failed' ? 'is still in use: ' + (revocation.failure ?? '') : 'is excluded from latest in every stage') + '. Reason: ' + (revocation.reason ?? '') + ' (' + (revocation.requestedBy ?? '') + ', ', when(revocation.createdTime), ').');
  // The run's own last message says "is latest in …"; after a revoke that is no longer true.
  document.getElementById('message').textContent = revoked ? '' : (build.message ?? '');
  const pending = document.getElementById('pending');
  pending.hidden = !build.pendingApproval || build.outcome !== 'running';
  if (build.pendingApproval) pending.replaceChildren('Waiting for ' + build.pendingApproval.stage + ' approval of ' + build.pendingApproval.imageVersion + ' (request ' + build.pendingApproval.requestId + ') until ', when(build.pendingApproval.deadline), '.');
  const failure = document.getElementById('failure');
  failure.hidden = !build.failure;
  if (build.failure) failure.textContent = build.failure.code + ': ' + build.failure.message + (build.failure.hint ? '\\nHint: ' + build.failure.hint : '') + (build.failure.logExcerpt ? '\\n\\n' + build.failure.logExcerpt : '');
  timeline(build);
  stages(build, revoked);
  // Each version's tags: the build's ledger plus its stage's approval, as auditTags() writes them.
  const tagged = build.ledger ? build.stages.filter((s) => s.versionId || s.state === 'done') : [];
  document.getElementById('ledger').replaceChildren(...(tagged.length ? tagged.map((s) => el('div', {}, el('h3', { class: 'small', text: s.name }),
    table(['Tag', 'Value'], Object.entries({ ...build.ledger, ...(s.approval && s.approval.decision === 'approved' ? { 'imagefactory.approver': s.approval.approver, 'imagefactory.changeTicket': s.approval.changeTicket } : {}) }).map(([k, v]) => [el('code', { text: k }), v]), ''))) : [el('p', { class: 'muted', text: 'No version carries tags yet.' })]));
  document.getElementById('tests').replaceChildren(table(['Script', 'Result', 'Output (last lines)'],
    build.tests.map((t) => [(t.stage ? t.stage + ': ' : '') + t.name, el('span', { class: 'badge s-' + (t.exitCode === 0 ? 'done' : 'failed'), text: t.exitCode === 0 ? 'passed' : 'exit ' + t.exitCode }), el('pre', { text: t.outputTail || '(no output)' })]),
    build.outcome === 'running' ? 'Results appear when the build ends.' : 'No test ran.'));
  document.getElementById('more').replaceChildren(
    table(['Stage', 'Decision', 'By', 'Why ignored', 'At'], build.ignoredDecisions.map((d) => [d.stage, d.decision, d.approver, d.reason + (d.detail ? ': ' + d.detail : ''), when(d.at)]), 'No decision was ignored.'),
    build.cleanedUp.length ? el('ul', {}, build.cleanedUp.map((c) => el('li', { text: c }))) : el('p', { class: 'muted', text: 'Nothing was cleaned up.' }));
  document.body.dataset.outcome = build.outcome;
  document.body.dataset.loaded = 'true';
}
let timer;
async function refresh() {
  clearTimeout(timer);
  let build;
  try { build = await api('/builds/' + encodeURIComponent(buildId)); document.getElementById('error').hidden = true; render(build); }
  catch (error) { showError(error); if (error instanceof KeyNeeded) return; }
  // Live while it runs, and while a revocation is under way.
  if (!build || build.outcome === 'running' || (build.revocations ?? []).some((r) => r.state === 'revoking')) timer = setTimeout(refresh, 2000);
}
keyForm(refresh);
refresh();
</script></body></html>`;
}
