/**
 * GET /api/builds/{id}/view in a real headless Chromium (the Debian package, driven by
 * playwright-core): the page renders the stages as the build goes, polling the JSON route with the
 * same `code` key it was opened with. Skipped, with a message, when /usr/bin/chromium is missing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startHttpFrontEnd, type HttpFrontEnd } from '../../src/local/host/http/server';
import { startFactory, type Factory } from '../pipeline/harness';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'browser-test-key';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `SKIPPED: the status page browser test needs ${CHROMIUM} (apt-get install -y chromium); it was not found.`,
  );
}
const browserIt = hasChromium ? it : it.skip;

describe('build status page in headless Chromium', () => {
  let factory: Factory;
  let front: HttpFrontEnd;
  let profile: string;
  let browser: BrowserContext | undefined;

  beforeAll(async () => {
    factory = await startFactory();
    front = await startHttpFrontEnd({
      registry: factory.host.registry,
      engine: factory.host.engine,
      invoke: factory.host.invokeFunction.bind(factory.host),
      port: 0,
      keys: { functionKeys: {}, hostKeys: { default: KEY }, masterKey: 'master-key-browser' },
      taskHubName: 'ImageFactoryTest',
    });
    profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  });
  afterAll(async () => {
    await browser?.close();
    await front.close();
    await factory.stop();
    rmSync(profile, { recursive: true, force: true });
  });

  // No DOM types here (lib has no 'dom'): read attributes and text through locators.
  const stageStates = async (page: Page) => {
    const items = await page.locator('[data-stage]').all();
    return Promise.all(
      items.map(
        async (item) => `${await item.getAttribute('data-stage')}:${await item.getAttribute('data-state')}`,
      ),
    );
  };

  browserIt('shows each stage state, the pending approval, then the rejection live', async () => {
    const started = await fetch(`${front.url}/api/builds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': KEY },
      body: JSON.stringify({ pipeline: 'ubuntu-2204-base', reason: 'browser test' }),
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    await factory.untilApprovalPending(id, 'TEST');

    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(front.url)) external.push(request.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));

    // Without the key the page itself is refused (authLevel function), like the JSON route.
    expect((await fetch(`${front.url}/api/builds/${id}/view`)).status).toBe(401);

    await page.goto(`${front.url}/api/builds/${id}/view?code=${KEY}`);
    await page.waitForSelector('[data-stage="TEST"][data-state="awaitingApproval"]', { timeout: 10_000 });
    expect(await stageStates(page)).toEqual(['ENG:done', 'TEST:awaitingApproval', 'PROD:pending']);
    // The timeline carries each stage's times: ENG started and ended, TEST started, PROD not yet.
    const time = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC';
    expect(await page.locator('[data-stage="ENG"]').innerText()).toMatch(new RegExp(`${time} → ${time}`));
    expect(await page.locator('[data-stage="TEST"]').innerText()).toMatch(new RegExp(`${time} → …`));
    expect(await page.locator('[data-stage="PROD"]').innerText()).not.toMatch(new RegExp(time));
    const text = await page.locator('body').innerText();
    expect(text).toContain('ubuntu-2204-base');
    expect(text).toMatch(/\d{4}\.\d+\.\d+/); // the image version

    await factory.decide(id, 'TEST', 'rejected', 'carol@contoso.com');
    await factory.host.waitFor(id);
    // The page keeps polling while the build runs and shows the outcome without a reload.
    await page.waitForSelector('[data-stage="TEST"][data-state="rejected"]', { timeout: 15_000 });
    const after = await page.locator('body').innerText();
    expect(after).toContain('carol@contoso.com');
    expect(after).toContain('CHG0012345');
    expect(after).toContain('rejected');
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
  });

  browserIt('shows a failed build: the failed stage, the reason and the log excerpt', async () => {
    factory.sim.scriptRunCommand(({ script }) =>
      script.includes('auditd')
        ? { exitCode: 3, stdout: 'auditd inactive', stderr: '' }
        : { exitCode: 0, stdout: '', stderr: '' },
    );
    const started = await fetch(`${front.url}/api/builds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': KEY },
      body: JSON.stringify({ pipeline: 'ubuntu-2204-base', reason: 'browser failure test' }),
    });
    const { id } = (await started.json()) as { id: string };
    await factory.host.waitFor(id);
    expect(browser).toBeDefined(); // launched by the test above
    const page = await browser!.newPage();
    await page.goto(`${front.url}/api/builds/${id}/view?code=${KEY}`);
    await page.waitForSelector('#failure:not([hidden])', { timeout: 10_000 });
    const failure = await page.locator('#failure').innerText();
    expect(failure).toContain('TestFailed');
    expect(failure).toContain('auditd inactive');
    expect(await page.locator('#outcome').innerText()).toBe('failed');
    expect(await stageStates(page)).toEqual(['ENG:failed', 'TEST:skipped', 'PROD:skipped']);
  });
});
