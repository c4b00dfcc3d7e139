/**
 * What every console page shares: the style sheet, and the browser script that finds the API next
 * to the page, keeps the function key for the tab (sessionStorage; behind App Service
 * authentication none is needed), builds DOM nodes (text only, never HTML from data) and writes
 * times in local words with the ISO time on hover. Each page puts these in tags that carry the
 * response's CSP nonce.
 */
import { OUTCOME_WORDS, STAGE_WORDS, STEP_WORDS } from '../words';

/** JSON for a <script> element: `<` escaped so data can never close the element. */
export const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const PAGE_CSS = `
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;--wait:#9a6700;--run:#0969da;--skip:#6e7781}
*{box-sizing:border-box}[hidden]{display:none!important}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--ink);background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.7rem 1.5rem;display:flex;gap:1.5rem;align-items:baseline;flex-wrap:wrap}
header a{color:#fff}header .badge{background:#fff;padding:0 .5rem}header h1{font-size:1.15rem;margin:0}
main{padding:1rem 1.5rem;max-width:90rem}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:1rem;margin:0 0 1rem}
h2{font-size:1rem;margin:0 0 .6rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.85rem}
.muted{color:var(--muted)}.small{font-size:.85rem}
.badge{display:inline-block;border-radius:1rem;padding:0 .55rem;font-size:.8rem;font-weight:600;border:1px solid currentColor;white-space:nowrap}
.s-succeeded,.s-done,.s-revoked{color:var(--ok)}.s-failed,.s-rejected,.s-timedOut,.s-canceled{color:var(--bad)}
.s-running,.s-promoting,.s-testing,.s-revoking{color:var(--run)}.s-awaitingApproval{color:var(--wait)}
.s-pending,.s-skipped{color:var(--skip)}
.filters{display:flex;gap:1rem;flex-wrap:wrap;margin-bottom:.6rem}
label{font-size:.85rem;color:var(--muted);display:flex;flex-direction:column;gap:.15rem}
select,input,button{font:inherit;padding:.25rem .4rem}
.notice{border-left:4px solid var(--wait);background:#fff8c5;padding:.6rem .8rem}
.error{border-left:4px solid var(--bad);background:#ffebe9;padding:.6rem .8rem;white-space:pre-wrap}
pre{background:#f6f8fa;border:1px solid var(--line);padding:.6rem;overflow:auto;max-height:16rem;font-size:.8rem}
#keyform{display:flex;gap:.6rem;align-items:end}
`;

/** Browser script shared by the pages (plain JS; the pages' own script runs after it). */
export const PAGE_SCRIPT = `
const WORDS = { step: ${scriptJson(STEP_WORDS)}, stage: ${scriptJson(STAGE_WORDS)}, outcome: ${scriptJson(OUTCOME_WORDS)} };
const word = (kind, value) => (value != null && Object.prototype.hasOwnProperty.call(WORDS[kind], value) ? WORDS[kind][value] : (value ?? ''));
const KEY_ITEM = 'imageFactory.functionKey';
// The key may arrive once as ?code= (a link the API returned); it is kept for this tab only and
// taken out of the address bar, so it is not left in history or shared with the link.
(function takeKeyFromUrl() {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  if (!code) return;
  sessionStorage.setItem(KEY_ITEM, code);
  params.delete('code');
  history.replaceState(null, '', location.pathname + (params.size ? '?' + params : '') + location.hash);
})();
const API_BASE = location.pathname.replace(/\\/(fleet|builds\\/[^/]+)\\/view$/, '');
class KeyNeeded extends Error {}
function askForKey(message) {
  const form = document.getElementById('keyform');
  document.getElementById('keymessage').textContent = message;
  form.hidden = false;
  document.getElementById('key').focus();
}
function keyForm(onKey) {
  document.getElementById('keyform').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = document.getElementById('key').value.trim();
    if (!value) return;
    sessionStorage.setItem(KEY_ITEM, value);
    document.getElementById('keyform').hidden = true;
    onKey();
  });
}
async function api(path) {
  const key = sessionStorage.getItem(KEY_ITEM);
  const response = await fetch(API_BASE + path, { headers: key ? { 'x-functions-key': key } : {} });
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem(KEY_ITEM);
    askForKey(key ? 'That key was not accepted. Enter a function key for this factory.' : 'Enter a function key for this factory (kept for this tab only).');
    throw new KeyNeeded();
  }
  if (!response.ok) {
    let detail = '';
    try { detail = (await response.json()).detail ?? ''; } catch {}
    throw new Error('HTTP ' + response.status + (detail ? ': ' + detail : ''));
  }
  return response.json();
}
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) node.append(child);
  return node;
}
function dur(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
  const h = Math.floor(m / 60);
  if (h < 48) return h + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
  return Math.floor(h / 24) + ' d' + (h % 24 ? ' ' + (h % 24) + ' h' : '');
}
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
function when(iso) {
  if (!iso) return '';
  return el('time', { datetime: iso, title: iso, text: timeFormat.format(new Date(iso)) });
}
function badge(kind, value) { return el('span', { class: 'badge s-' + value, text: word(kind, value) }); }
function showError(error) {
  if (error instanceof KeyNeeded) return;
  const box = document.getElementById('error');
  box.hidden = false;
  box.textContent = 'Cannot read the factory: ' + error.message;
}
`;

/** The key form every page carries (shown only when the API asks for a key). */
export const KEY_FORM = `<form id="keyform" hidden><p id="keymessage"></p><label for="key">Function key<input id="key" type="password" autocomplete="off"></label><button type="submit">Open</button></form>
<p id="error" class="error" role="alert" hidden></p>`;
