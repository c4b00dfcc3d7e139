/**
 * Resource provider registration as deployed: azure.yaml's preprovision hook runs
 * infra/scripts/register-providers.sh (posix) / .ps1 (windows), which registers exactly
 * infra/providers.json's list with `az provider register … --wait` (run here with a stand-in `az`
 * that records its arguments); the TEST/PROD onboarding runs the same script for its subscriptions.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { pipelineProviders, registeredProviders } from '../../src/domain/resource-providers';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const SUB = '0b0b0b0b-0000-4000-8000-00000000000b';

/** Runs the posix hook script with a stand-in `az` on PATH; returns its exit code and az's argv lines. */
function runHook(args: string[]): { status: number | null; calls: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'register-providers-'));
  try {
    const log = path.join(dir, 'az.log');
    const az = path.join(dir, 'az');
    writeFileSync(az, `#!/bin/sh\necho "$*" >> "${log}"\n`);
    chmodSync(az, 0o755);
    writeFileSync(log, '');
    const result = spawnSync('bash', [path.join(root, 'infra/scripts/register-providers.sh'), ...args], {
      env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, AZURE_SUBSCRIPTION_ID: '' },
      encoding: 'utf8',
    });
    const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    return { status: result.status, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('resource provider registration hook', () => {
  it('azure.yaml runs the registration script before provisioning, on posix and windows', () => {
    const azure = parse(read('azure.yaml')) as {
      hooks?: { preprovision?: Record<string, { shell?: string; run?: string; continueOnError?: boolean }> };
    };
    const hook = azure.hooks?.preprovision;
    expect(hook?.posix).toMatchObject({ shell: 'sh', continueOnError: false });
    expect(hook?.posix?.run).toContain('infra/scripts/register-providers.sh eng');
    expect(hook?.windows).toMatchObject({ shell: 'pwsh', continueOnError: false });
    expect(hook?.windows?.run).toContain('infra/scripts/register-providers.ps1 -Kind eng');
    // the windows twin reads the same list and waits too
    const ps1 = read('infra/scripts/register-providers.ps1');
    expect(ps1).toContain("'..\\providers.json'");
    expect(ps1).toContain(
      'az provider register --namespace $provider.namespace --subscription $Subscription --wait',
    );
  });

  it('the ENG hook registers exactly the eng list of infra/providers.json, waiting for each', () => {
    const { status, calls } = runHook(['eng', SUB]);
    expect(status).toBe(0);
    expect(calls).toEqual(
      registeredProviders('eng').map(
        (ns) => `provider register --namespace ${ns} --subscription ${SUB} --wait`,
      ),
    );
    expect(calls).toEqual(
      expect.arrayContaining([
        expect.stringContaining('Microsoft.VirtualMachineImages'),
        expect.stringContaining('Microsoft.ContainerInstance'),
        expect.stringContaining('Microsoft.KeyVault'),
      ]),
    );
  });

  it('onboarding a TEST/PROD subscription registers the stage list (galleries need Microsoft.Compute)', () => {
    const { status, calls } = runHook(['stage', SUB]);
    expect(status).toBe(0);
    expect(calls).toEqual(
      registeredProviders('stage').map(
        (ns) => `provider register --namespace ${ns} --subscription ${SUB} --wait`,
      ),
    );
    expect(calls[0]).toContain('Microsoft.Compute');
    expect(read('docs/onboarding-a-tenant.md')).toContain(
      'infra/scripts/register-providers.sh stage <subscription-id>',
    );
  });

  it('refuses an unknown kind without calling az', () => {
    const { status, calls } = runHook(['prod', SUB]);
    expect(status).toBe(2);
    expect(calls).toEqual([]);
  });

  it('preflight checks only namespaces the hook or the onboarding registers', () => {
    for (const kind of ['eng', 'stage'] as const)
      for (const ns of pipelineProviders(kind)) expect(registeredProviders(kind)).toContain(ns);
    expect(
      execFileSync('bash', ['-n', path.join(root, 'infra/scripts/register-providers.sh')]).toString(),
    ).toBe('');
  });
});
