/**
 * The security gate (issue 18, item 1) end to end: local host + simulated Azure. After the tests the
 * test VM reports pending security updates and its inventory (the simulator's modelled answer, set
 * per test); under the thresholds the build goes on, the approval request carries the summary and
 * the SBOM link, and the API serves the SBOM; above them the build fails at step test with
 * SecurityGateFailed, nothing is promoted and the test VM is gone.
 */
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { PipelineDefinition } from '../../src/domain/pipeline/definition';
import type { HttpFrontEnd } from '../../src/local/host/http/server';
import { randomHostKeys, startFactory, startFrontEnd, type Factory } from './harness';
import { cycloneDxSchemaErrors } from './cyclonedx-schema';
import { leftovers, versionsOf } from './side-effects';

const withGate = (
  pipeline: PipelineDefinition,
  gate: { maxCritical: number; maxImportant: number; maxTotal: number },
): PipelineDefinition => ({ ...pipeline, test: { ...pipeline.test, securityGate: gate } });

describe('security gate on the test VM', () => {
  let factory: Factory;
  let front: HttpFrontEnd;
  const keys = randomHostKeys();
  beforeAll(async () => {
    factory = await startFactory();
    front = await startFrontEnd(factory, keys);
  });
  afterAll(async () => {
    await front.close();
    await factory.stop();
  });

  const get = async (path: string) => {
    const response = await fetch(`${front.url}${path}`, { headers: { 'x-functions-key': keys.host } });
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: (await response.json()) as Record<string, unknown>,
    };
  };

  it('under the thresholds: the build goes on to approval with the summary and a link, the SBOM is served', async () => {
    factory.sim.setSecurityFindings({
      pending: [{ id: 'libssl3', severity: 'unspecified' }],
      packages: [
        ['bash', '5.1-6ubuntu1.1'],
        ['libssl3', '3.0.2-0ubuntu1.18'],
        ['openssh-server', '1:8.9p1-3ubuntu0.10'],
      ],
    });
    const pipeline = withGate(factory.pipelines.get('ubuntu-2204-base')!, {
      maxCritical: 0,
      maxImportant: 0,
      maxTotal: 2,
    });
    const id = await factory.start(pipeline, 'gate-pass-1');
    const status = await factory.untilApprovalPending(id, 'TEST');
    expect(status.step).toBe('approve');
    expect(status.securityGate).toMatchObject({
      os: 'Linux',
      passed: true,
      packages: 3,
      pending: { total: 1, unspecified: 1, critical: 0 },
      sbomPath: `/api/builds/${id}/sbom`,
    });
    expect(status.pendingApproval?.securitySummary).toMatch(
      /^passed: .*unspecified 1 \(total 1; limits 0\/0\/2\); 3 packages$/,
    );
    expect(status.pendingApproval?.sbomPath).toBe(`/api/builds/${id}/sbom`);

    const sbom = await get(`/api/builds/${id}/sbom`);
    expect(sbom.status).toBe(200);
    expect(sbom.contentType).toBe('application/vnd.cyclonedx+json; version=1.6');
    expect(sbom.body).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1 });
    expect(sbom.body.serialNumber).toMatch(
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(sbom.body.metadata).toMatchObject({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      component: { type: 'operating-system', name: 'ubuntu-2204-base', 'bom-ref': 'image' },
      properties: [
        { name: 'imagefactory:buildId', value: id },
        { name: 'imagefactory:packageCount', value: '3' },
        { name: 'imagefactory:inventoryTruncated', value: 'false' },
      ],
    });
    expect(sbom.body.components).toEqual([
      {
        type: 'application',
        name: 'bash',
        version: '5.1-6ubuntu1.1',
        'bom-ref': 'package-1',
        purl: 'pkg:deb/ubuntu/bash@5.1-6ubuntu1.1?arch=amd64&distro=jammy',
      },
      {
        type: 'application',
        name: 'libssl3',
        version: '3.0.2-0ubuntu1.18',
        'bom-ref': 'package-2',
        purl: 'pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.18?arch=amd64&distro=jammy',
      },
      {
        type: 'application',
        name: 'openssh-server',
        version: '1:8.9p1-3ubuntu0.10',
        'bom-ref': 'package-3',
        purl: 'pkg:deb/ubuntu/openssh-server@1:8.9p1-3ubuntu0.10?arch=amd64&distro=jammy',
      },
    ]);
    // The image depends on (contains) every package it reported.
    expect(sbom.body.dependencies).toContainEqual({
      ref: 'image',
      dependsOn: ['package-1', 'package-2', 'package-3'],
    });
    // What the factory keeps and serves is valid against the official CycloneDX JSON schema.
    expect(await cycloneDxSchemaErrors(sbom.body)).toBeNull();
    expect((await get('/api/builds/no-such-build/sbom')).status).toBe(404);

    await factory.decide(id, 'TEST', 'rejected');
    expect((await factory.host.waitFor(id)).runtimeStatus).toBe('Completed');
  });

  // An Ubuntu-sized inventory: 300 packages, far more than Run Command's 4,096-byte tail carries.
  const manyPackages = (): [string, string][] =>
    Array.from({ length: 300 }, (_, i): [string, string] => [
      `lib-package-${i + 1}`,
      `1.${i}.0-0ubuntu0.22.04.1`,
    ]);

  it("the SBOM lists the full inventory read from customization.log, not the gate's truncated list", async () => {
    factory.sim.setSecurityFindings({ pending: [], packages: manyPackages() });
    const pipeline = withGate(factory.pipelines.get('ubuntu-2204-base')!, {
      maxCritical: 0,
      maxImportant: 0,
      maxTotal: 0,
    });
    const id = await factory.start(pipeline, 'gate-full-inventory-1');
    const status = await factory.untilApprovalPending(id, 'TEST');
    // The gate's own report was cut to Run Command's output tail; its counts stay complete.
    expect(status.securityGate).toMatchObject({ passed: true, packages: 300, inventoryTruncated: true });
    const sbom = await get(`/api/builds/${id}/sbom`);
    expect(sbom.status).toBe(200);
    const components = sbom.body.components as { name: string; purl: string }[];
    expect(components).toHaveLength(300);
    expect(components[299]).toMatchObject({
      name: 'lib-package-300',
      purl: 'pkg:deb/ubuntu/lib-package-300@1.299.0-0ubuntu0.22.04.1?arch=amd64&distro=jammy',
    });
    expect((sbom.body.metadata as { properties: unknown }).properties).toEqual([
      { name: 'imagefactory:buildId', value: id },
      { name: 'imagefactory:packageCount', value: '300' },
      { name: 'imagefactory:inventoryTruncated', value: 'false' },
    ]);
    expect(await cycloneDxSchemaErrors(sbom.body)).toBeNull();
    await factory.decide(id, 'TEST', 'rejected');
    expect((await factory.host.waitFor(id)).runtimeStatus).toBe('Completed');
  });

  it("an inventory in customization.log that cannot be read leaves the gate's list, marked truncated (no failure)", async () => {
    // An entry without a name is garbage to the log's reader; the gate's JSON takes it as it is.
    factory.sim.setSecurityFindings({ pending: [], packages: [...manyPackages(), ['', '1.0']] });
    const pipeline = withGate(factory.pipelines.get('ubuntu-2204-base')!, {
      maxCritical: 0,
      maxImportant: 0,
      maxTotal: 0,
    });
    const id = await factory.start(pipeline, 'gate-full-inventory-2');
    const status = await factory.untilApprovalPending(id, 'TEST');
    expect(status.securityGate).toMatchObject({ passed: true, packages: 301, inventoryTruncated: true });
    // The build said why it kept the gate's list, and went on.
    expect(JSON.stringify(status.timeline)).toMatch(/software inventory not in customization\.log \(/);
    const sbom = await get(`/api/builds/${id}/sbom`);
    const components = sbom.body.components as unknown[];
    expect(components.length).toBeGreaterThan(0);
    expect(components.length).toBeLessThan(300);
    expect((sbom.body.metadata as { properties: unknown }).properties).toContainEqual({
      name: 'imagefactory:inventoryTruncated',
      value: 'true',
    });
    expect(await cycloneDxSchemaErrors(sbom.body)).toBeNull();
    await factory.decide(id, 'TEST', 'rejected');
    expect((await factory.host.waitFor(id)).runtimeStatus).toBe('Completed');
  });

  it('above a threshold (Windows, one Critical update): fails at test with SecurityGateFailed, nothing promoted, VM torn down', async () => {
    factory.sim.setSecurityFindings({
      pending: [
        { id: 'KB5048654', severity: 'critical' },
        { id: 'KB5046540', severity: 'moderate' },
      ],
      packages: [['Microsoft Edge', '131.0.2903.86']],
    });
    factory.sim.scriptRunCommand(() => ({ exitCode: 0, stdout: 'Tests failed: 0', stderr: '' }));
    const pipeline = withGate(factory.pipelines.get('windows-2022-base')!, {
      maxCritical: 0,
      maxImportant: 5,
      maxTotal: 10,
    });
    const id = await factory.start(pipeline, 'gate-fail-1');
    const final = await factory.host.waitFor(id);
    // As for a failed test: the build's outcome is failed and the orchestration Failed.
    expect(final.runtimeStatus).toBe('Failed');
    const status = final.customStatus as BuildCustomStatus;
    expect(status.outcome).toBe('failed');
    expect(status.failure).toMatchObject({ code: 'SecurityGateFailed', step: 'test', stage: 'ENG' });
    expect(status.failure?.message).toBe(
      'security gate failed in ENG: critical 1 > 0; pending security updates: critical 1, important 0, moderate 1, low 0, unspecified 0 (total 2)',
    );
    expect(status.securityGate).toMatchObject({ os: 'Windows', passed: false, exceeded: ['critical 1 > 0'] });
    expect(status.stages.every((s) => s.state !== 'done')).toBe(true);
    expect(versionsOf(factory.sim, id)).toEqual([]);
    expect(leftovers(factory.sim)).toEqual([]);
    // Kept with the failed build too: the auditor sees what was installed.
    const sbom = await get(`/api/builds/${id}/sbom`);
    expect(sbom.body.components).toEqual([
      { type: 'application', name: 'Microsoft Edge', version: '131.0.2903.86', 'bom-ref': 'package-1' },
    ]);
    expect(await cycloneDxSchemaErrors(sbom.body)).toBeNull();
  });
});
