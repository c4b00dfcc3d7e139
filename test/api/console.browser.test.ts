/**
 * The console pages in a real headless Chromium (the Debian package, driven by playwright-core):
 * the build timeline for a running, rejected, succeeded, revoked, canceled, timed-out and failed
 * build, the fleet page with twenty builds, and the link the start answer returns (the page asks
 * for the key once and keeps it for the tab). Each page: no console errors, no request off the
 * factory, axe-core finds no serious or critical violation, and a screenshot is kept in
 * test-artifacts/console/ (the README's copies are in docs/images/). Skipped, with a message,
 * when /usr/bin/chromium is missing.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startHttpFrontEnd, type HttpFrontEnd } from '../../src/local/host/http/server';
import { startFactory, type Factory } from '../pipeline/harness';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'browser-test-key';
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts', 'console');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `SKIPPED: the console browser test needs ${CHROMIUM} (apt-get install -y chromium); it was not found.`,
  );
}
const browserIt = hasChromium ? it : it.skip;

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('console pages in headless Chromium', () => {
  let factory: Factory;
  let front: HttpFrontEnd;
  let profile: string;
  let browser: BrowserContext;
  /** Per page: console errors, page errors and requests that left the factory. */
  const problems = new Map<Page, string[]>();

  beforeAll(async () => {
    // From now: the fleet counts time left on the factory's clock, never behind this machine's.
    factory = await startFactory(
      {},
      // Twenty builds from one key: above the per-caller rate and queue caps of an operator's API.
      {
        API_RATE_LIMIT_BURST: '1000',
        MAX_QUEUED_BUILDS_PER_PIPELINE: '100',
        MAX_QUEUED_BUILDS_PER_BUILD_SLOT: '100',
      },
      Date.now(),
    );
    front = await startHttpFrontEnd({
      registry: factory.host.registry,
      engine: factory.host.engine,
      invoke: factory.host.invokeFunction.bind(factory.host),
      port: 0,
      keys: { functionKeys: {}, hostKeys: { default: KEY }, masterKey: 'master-key-browser' },
      taskHubName: 'ImageFactoryTest',
    });
    profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    mkdirSync(ARTIFACTS, { recursive: true });
    if (hasChromium)
      browser = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: LAUNCH_ARGS,
        viewport: { width: 1280, height: 900 },
        locale: 'en-GB',
        timezoneId: 'Europe/Amsterdam',
      });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await front.close();
    await factory.stop();
    rmSync(profile, { recursive: true, force: true });
  });

  const api = async (path: string, body?: unknown, key = KEY) => {
    const response = await fetch(`${front.url}/api${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': key },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const start = async (body: Record<string, unknown> = {}) => {
    const started = await api('/builds', { pipeline: 'ubuntu-2204-base', reason: 'browser test', ...body });
    expect(started.status).toBe(202);
    return started.body as { id: string; viewUri: string };
  };

  async function open(path: string, withKey = true): Promise<Page> {
    const page = await browser.newPage();
    const seen: string[] = [];
    problems.set(page, seen);
    page.on('console', (message) => {
      if (message.type() === 'error') seen.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => seen.push(`page: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith(front.url)) seen.push(`external: ${request.url()}`);
    });
    await page.goto(`${front.url}${path}${withKey ? `?code=${KEY}` : ''}`);
    return page;
  }

  /** No console errors, axe: no serious or critical violation, and the screenshot. */
  async function check(page: Page, name: string): Promise<void> {
    await page.evaluate(AXE);
    const violations = await page.evaluate<string[]>(
      `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id + ': ' + v.help + ' (' + v.nodes.map((n) => n.target.join(' ')).join(', ') + ')'))`,
    );
    expect(violations).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    expect(problems.get(page)).toEqual([]);
  }

  const stageState = (page: Page, stage: string) =>
    page.locator(`#stages [data-stage="${stage}"]`).getAttribute('data-state');

  let rejectedId: string;

  browserIt(
    'a running build: human words, local times with ISO on hover, the key leaves the address bar; then rejected live',
    async () => {
      const { id } = await start();
      rejectedId = id;
      await factory.untilApprovalPending(id, 'TEST');
      const page = await open(`/api/builds/${id}/view`);
      await page.waitForSelector('#stages [data-stage="TEST"][data-state="awaitingApproval"]', {
        timeout: 10_000,
      });
      // The key is kept for the tab, not left in the address bar or history.
      expect(page.url()).toBe(`${front.url}/api/builds/${id}/view`);
      const text = await page.locator('main').innerText();
      expect(text).toContain('waiting for approval');
      expect(text).not.toContain('awaitingApproval');
      expect(await page.locator('#pending').innerText()).toMatch(
        /^Waiting for TEST approval of \d{4}\.\d+\.\d+/,
      );
      // Times are local words; the exact instant is on hover.
      const started = page.locator('#summary time').first();
      expect(await started.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(await started.innerText()).not.toMatch(/T\d\d:|Z$/);
      // The timeline: ENG's stage bar, its steps, and the open approval wait.
      const labels = await page.locator('#timeline .label').allInnerTexts();
      expect(labels).toEqual(expect.arrayContaining(['Stage ENG', 'approval wait (TEST)']));
      expect(labels.some((l) => l.startsWith('building the image'))).toBe(true);
      expect(labels.some((l) => l.startsWith('testing on a VM'))).toBe(true);
      await check(page, 'build-running');

      await factory.decide(id, 'TEST', 'rejected', 'carol@contoso.com');
      await factory.host.waitFor(id);
      await page.waitForSelector('body[data-outcome="rejected"]', { timeout: 15_000 });
      expect(await stageState(page, 'TEST')).toBe('rejected');
      const testRow = await page
        .locator('#stages tr', { has: page.locator('[data-stage="TEST"]') })
        .innerText();
      expect(testRow).toContain('rejected by carol@contoso.com (CHG0012345)');
      // A stage that stopped has no open "→ …".
      expect(await page.locator('#stages').innerText()).not.toContain('→ …');
      await check(page, 'build-rejected');
    },
  );

  let succeeded: { id: string; version: string };

  browserIt(
    'a succeeded build: every stage done, the audit ledger as tagged, tests with their output',
    async () => {
      const { id } = await start();
      await factory.untilApprovalPending(id, 'TEST');
      await factory.decide(id, 'TEST', 'approved');
      await factory.untilApprovalPending(id, 'PROD');
      await factory.decide(id, 'PROD', 'approved', 'dave@contoso.com');
      await factory.host.waitFor(id);
      const page = await open(`/api/builds/${id}/view`);
      await page.waitForSelector('body[data-outcome="succeeded"]', { timeout: 10_000 });
      for (const stage of ['ENG', 'TEST', 'PROD']) expect(await stageState(page, stage)).toBe('done');
      const version = (await api(`/builds/${id}`)).body.imageVersion as string;
      // Azure keeps at most 16 KB of UTF-16 text as custom status: the timeline, tests and ledger fit.
      const custom = (await factory.host.getStatus(id))?.customStatus;
      expect(JSON.stringify(custom).length).toBeLessThan(8 * 1024);
      succeeded = { id, version };
      expect(await page.locator('#message').innerText()).toBe(`${version} is latest in ENG, TEST, PROD`);
      const ledger = await page.locator('#ledger').innerText();
      expect(ledger).toContain(`imagefactory.buildId\t${id}`);
      expect(ledger).toMatch(/imagefactory\.testResult\tpassed \(\d+ scripts\)/);
      expect(ledger).toContain('dave@contoso.com');
      expect(await page.locator('#tests').innerText()).toContain('passed');
      // Each version links to its resource in the Azure portal, in its stage's tenant.
      const link = await page.locator('#stages a').first().getAttribute('href');
      expect(link).toMatch(
        /^https:\/\/portal\.azure\.com\/#@[0-9a-f-]+\/resource\/subscriptions\/.+\/versions\//,
      );
      await check(page, 'build-succeeded');
    },
  );

  browserIt(
    'a revoked version: the revocation is a resource, the build lists it, the page no longer says "is latest"',
    async () => {
      const { id, version } = succeeded;
      // Revoke takes the master key only (docs/security.md).
      const revoke = await api(
        `/versions/ubuntu-2204-base/${version}/revoke`,
        { reason: 'CVE-2026-0001' },
        'master-key-browser',
      );
      expect(revoke.status).toBe(202);
      const revocationUri = revoke.body.revocationUri as string;
      // No host name configured here: relative links, never the request's Host.
      expect(revocationUri).toBe(`/api/revocations/revoke-ubuntu-2204-base-${version}`);
      await factory.host.waitFor(revoke.body.id as string);
      const revocation = await api(`/revocations/revoke-ubuntu-2204-base-${version}`);
      expect(revocation.body).toMatchObject({
        pipeline: 'ubuntu-2204-base',
        version,
        state: 'revoked',
        reason: 'CVE-2026-0001',
        stages: [
          { stage: 'ENG', result: 'revoked' },
          { stage: 'TEST', result: 'revoked' },
          { stage: 'PROD', result: 'revoked' },
        ],
      });
      expect((await api(`/builds/${id}`)).body.revocations).toEqual([
        expect.objectContaining({
          id: `revoke-ubuntu-2204-base-${version}`,
          state: 'revoked',
          revocationUri,
        }),
      ]);
      expect((await api('/revocations/revoke-nothing-1.2.3')).status).toBe(404);
      expect((await api('/revocations/not-a-revocation')).status).toBe(400);

      const page = await open(`/api/builds/${id}/view`);
      await page.waitForSelector('#revoked:not([hidden])', { timeout: 10_000 });
      expect(await page.locator('#revoked').innerText()).toContain('Revoked.');
      expect(await page.locator('#revoked').innerText()).toContain('CVE-2026-0001');
      expect(await page.locator('main').innerText()).not.toContain('is latest in');
      await check(page, 'build-revoked');
    },
  );

  browserIt('a canceled build: canceled stages without "→ …", and what clean-up deleted', async () => {
    const { id } = await start();
    await factory.untilApprovalPending(id, 'TEST');
    expect((await api(`/builds/${id}/cancel`, { reason: 'wrong source' })).status).toBe(202);
    await factory.host.waitFor(id);
    const page = await open(`/api/builds/${id}/view`);
    await page.waitForSelector('body[data-outcome="canceled"]', { timeout: 10_000 });
    expect(await stageState(page, 'TEST')).toBe('canceled');
    expect(await page.locator('#stages').innerText()).not.toContain('→ …');
    expect(await page.locator('#more').innerText()).toMatch(/deleted version \d{4}\.\d+\.\d+ in ENG/);
    await check(page, 'build-canceled');
  });

  browserIt('a timed-out build: the approval wait ran to its deadline', async () => {
    const { id } = await start();
    await factory.untilApprovalPending(id, 'TEST');
    await factory.host.waitFor(id);
    const page = await open(`/api/builds/${id}/view`);
    await page.waitForSelector('body[data-outcome="timedOut"]', { timeout: 10_000 });
    expect(await page.locator('#outcome').innerText()).toBe('timed out');
    expect(await page.locator('#timeline').innerText()).toContain('approval wait (TEST): timedOut');
    expect(await page.locator('#stages').innerText()).not.toContain('→ …');
    await check(page, 'build-timed-out');
  });

  browserIt('a failed build: the failed stage, the reason and the log excerpt', async () => {
    factory.sim.scriptRunCommand(({ script }) =>
      script.includes('auditd')
        ? { exitCode: 3, stdout: 'auditd inactive', stderr: '' }
        : { exitCode: 0, stdout: '', stderr: '' },
    );
    const { id } = await start({ reason: 'browser failure test' });
    await factory.host.waitFor(id);
    factory.sim.scriptRunCommand(() => ({ exitCode: 0, stdout: '', stderr: '' }));
    const page = await open(`/api/builds/${id}/view`);
    await page.waitForSelector('#failure:not([hidden])', { timeout: 10_000 });
    const failure = await page.locator('#failure').innerText();
    expect(failure).toContain('TestFailed');
    expect(failure).toContain('auditd inactive');
    expect(await page.locator('#outcome').innerText()).toBe('failed');
    for (const [stage, state] of [
      ['ENG', 'failed'],
      ['TEST', 'skipped'],
      ['PROD', 'skipped'],
    ] as const)
      expect(await stageState(page, stage)).toBe(state);
    expect(await page.locator('#tests').innerText()).toContain('exit 3');
    await check(page, 'build-failed');
  });

  browserIt(
    "the start answer's viewUri opens: the page asks for the key once and keeps it for the tab",
    async () => {
      const { id, viewUri: link } = await start({ overrides: { stopAfterStage: 'ENG' } });
      // No host name configured here: the link is relative to the API that answered.
      const viewUri = new URL(link, front.url).href;
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(viewUri);
      await page.waitForSelector('#keyform:not([hidden])', { timeout: 10_000 });
      expect(await page.locator('#keymessage').innerText()).toContain('Enter a function key');
      await page.fill('#key', 'wrong-key');
      await page.click('#keyform button');
      await page.waitForSelector('#keyform:not([hidden])');
      await page.waitForFunction(
        `document.getElementById('keymessage').textContent.includes('not accepted')`,
      );
      await page.fill('#key', KEY);
      await page.click('#keyform button');
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
      expect(await page.locator('#id').innerText()).toBe(id);
      // Kept for the tab: a reload and the fleet link open without asking again.
      await page.reload();
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
      expect({
        keyform: await page.locator('#keyform').isHidden(),
        message: await page.locator('#keymessage').innerText(),
      }).toEqual({ keyform: true, message: '' });
      await page.click('#fleetlink');
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
      expect(await page.locator('#keyform').isHidden()).toBe(true);
      expect(errors).toEqual([]);
      // The page itself holds no data: without a key it is served, the JSON it reads is not.
      expect((await fetch(viewUri)).status).toBe(200);
      expect((await fetch(viewUri.replace(/\/view$/, ''))).status).toBe(401);
      await factory.host.waitFor(id);
    },
  );

  browserIt(
    'the fleet with twenty builds: approvals pending, latest per stage, revocations, filters',
    async () => {
      const ids: string[] = [];
      // 6 builds so far; 13 more that stop after ENG, and one left waiting for TEST.
      for (let i = 0; i < 13; i++)
        ids.push((await start({ overrides: { stopAfterStage: 'ENG' }, reason: `fleet ${i}` })).id);
      for (const id of ids) await factory.host.waitFor(id);
      const { id: waiting } = await start({ reason: 'waits for TEST' });
      await factory.untilApprovalPending(waiting, 'TEST');
      const fleet = await api('/fleet');
      expect(fleet.body.totalBuilds).toBe(20);

      const page = await open('/api/fleet/view');
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
      expect(page.url()).toBe(`${front.url}/api/fleet/view`);
      expect(await page.locator('#builds tbody tr').count()).toBe(20);
      const approvals = await page.locator('#approvals tbody tr').allInnerTexts();
      expect(approvals).toHaveLength(1);
      expect(approvals[0]).toContain(waiting);
      expect(approvals[0]).toMatch(/\t\d+ (d|h)( \d+ (h|min))?$/); // time left to the deadline
      // The revoked version is no longer latest anywhere; the revocation is listed.
      const ubuntu = await page.locator('[data-pipeline="ubuntu-2204-base"]').innerText();
      expect(ubuntu).not.toContain(succeeded.version);
      expect(ubuntu).toMatch(/ENG\t\d{4}\.\d+\.\d+/);
      expect(ubuntu).toMatch(/PROD\tnone yet/);
      expect(ubuntu).toContain('Next cadence slot');
      expect(await page.locator('#revocations').innerText()).toContain(succeeded.version);
      // The duration trend is a Chart.js chart (served by the app) with one bar per finished build.
      const finished = ((await api('/fleet')).body.builds as { pipeline: string; outcome: string }[]).filter(
        (b) => b.pipeline === 'ubuntu-2204-base' && b.outcome !== 'running',
      ).length;
      expect(
        await page.evaluate<number>(
          `Chart.getChart(document.querySelector('[data-pipeline="ubuntu-2204-base"] canvas')).data.datasets[0].data.length`,
        ),
      ).toBe(finished);
      await check(page, 'fleet');

      await page.selectOption('#f-outcome', 'rejected');
      expect(await page.locator('#builds tbody tr').allInnerTexts()).toEqual([
        expect.stringContaining(rejectedId),
      ]);
      expect(page.url()).toBe(`${front.url}/api/fleet/view?outcome=rejected`);
      await page.selectOption('#f-outcome', '');
      await page.selectOption('#f-pipeline', 'windows-2022-base');
      expect(await page.locator('#builds').innerText()).toBe('No build matches.');
    },
  );
});
