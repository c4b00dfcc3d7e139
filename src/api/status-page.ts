/**
 * GET /api/builds/{id}/view: one self-contained page (no external assets) that shows a build's
 * stages as a timeline and polls the JSON route for live state. The function key travels as
 * `?code=` exactly as the page was opened. Its <script> and <style> carry the response's CSP nonce
 * (src/api/security-headers.ts).
 */
export function statusPage(buildId: string, nonce: string): string {
  // `<` escaped: an id such as `</script><script>…` from the route must not end the script element.
  const id = JSON.stringify(buildId).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Build ${buildId.replace(/[<>&"]/g, '')}</title>
<style nonce="${nonce}">
body{font:14px system-ui,sans-serif;margin:2rem;color:#222}
h1{font-size:1.3rem}.meta{color:#555}
ol{list-style:none;padding:0;display:flex;gap:1rem;flex-wrap:wrap}
li{border:2px solid #ccc;border-radius:8px;padding:.8rem 1rem;min-width:12rem}
li[data-state=done]{border-color:#2a7}li[data-state=failed],li[data-state=rejected],li[data-state=timedOut]{border-color:#c33}
li[data-state=awaitingApproval]{border-color:#e90}li[data-state=promoting],li[data-state=running],li[data-state=testing]{border-color:#37c}
.failure{background:#fee;border:1px solid #c33;padding:1rem;white-space:pre-wrap}
</style></head>
<body><h1>Build <span id="id"></span></h1>
<p class="meta">Pipeline <b id="pipeline">…</b> · version <b id="version">…</b> · <span id="outcome">…</span> · step <span id="step">…</span></p>
<p id="message"></p>
<ol id="stages"></ol>
<div id="failure" class="failure" hidden></div>
<script nonce="${nonce}">
const buildId = ${id};
document.getElementById('id').textContent = buildId;
const code = new URLSearchParams(location.search).get('code');
const url = location.pathname.replace(/\\/view$/, '') + (code ? '?code=' + encodeURIComponent(code) : '');
function text(el, value) { document.getElementById(el).textContent = value ?? ''; }
async function refresh() {
  const response = await fetch(url);
  if (!response.ok) { text('message', 'Cannot read the build: HTTP ' + response.status); return; }
  const build = await response.json();
  text('pipeline', build.pipeline); text('version', build.imageVersion); text('outcome', build.outcome);
  text('step', build.step + (build.currentStage ? ' (' + build.currentStage + ')' : '')); text('message', build.message);
  const list = document.getElementById('stages');
  list.replaceChildren(...build.stages.map((stage) => {
    const li = document.createElement('li');
    li.dataset.state = stage.state; li.dataset.stage = stage.name;
    const approval = stage.approval ? '\\napproval: ' + (stage.approval.decision ?? 'pending until ' + stage.approval.deadline) + (stage.approval.approver ? ' by ' + stage.approval.approver : '') + (stage.approval.changeTicket ? ' (' + stage.approval.changeTicket + ')' : '') : '';
    const regions = (stage.regions ?? []).map((r) => r.name + ' ' + r.progress + '%').join(', ');
    const time = (iso) => iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : '';
    const times = stage.startedAt ? '\\n' + time(stage.startedAt) + (stage.endedAt ? ' → ' + time(stage.endedAt) : ' → …') : '';
    li.innerText = stage.name + ': ' + stage.state + times + (regions ? '\\n' + regions : '') + approval;
    return li;
  }));
  const failure = document.getElementById('failure');
  if (build.failure) { failure.hidden = false; failure.textContent = build.failure.code + ': ' + build.failure.message + (build.failure.logExcerpt ? '\\n\\n' + build.failure.logExcerpt : ''); }
  if (build.outcome === 'running') setTimeout(refresh, 2000);
}
refresh();
</script></body></html>`;
}
