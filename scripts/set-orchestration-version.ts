/**
 * Sets host.json `extensions.durableTask.defaultVersion` — the factory version every new build is
 * stamped with (context.df.version) — from package.json's version, or from the release tag given as
 * the argument (`v1.2.0` or `1.2.0`). Run by the release before packaging (azure.yaml `prepackage`
 * hook; docs/runbook.md "Release"), never edited by hand. `--check` only verifies that host.json
 * carries package.json's version (exit 1 otherwise).
 *
 *   npx tsx scripts/set-orchestration-version.ts            # from package.json
 *   npx tsx scripts/set-orchestration-version.ts v1.2.0     # from a git tag
 *   npx tsx scripts/set-orchestration-version.ts --check
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Versions the runtime compares numerically (System.Version: 2–4 dot-separated integers). */
const RELEASE_VERSION = /^\d+\.\d+(\.\d+){0,2}$/;

export function releaseVersion(arg: string | undefined, packageVersion: string): string {
  const version = (arg ?? packageVersion).replace(/^v/, '');
  if (!RELEASE_VERSION.test(version))
    throw new Error(
      `'${arg ?? packageVersion}' is not a release version: use major.minor.patch (e.g. 1.2.0 or tag v1.2.0), ` +
        'which the Durable runtime compares numerically.',
    );
  return version;
}

/** host.json text with defaultVersion set; every other setting and the key order kept. */
export function withDefaultVersion(hostJsonText: string, version: string): string {
  const doc = JSON.parse(hostJsonText) as { extensions?: { durableTask?: Record<string, unknown> } };
  const durableTask = doc.extensions?.durableTask;
  if (durableTask === undefined) throw new Error('host.json has no extensions.durableTask block.');
  durableTask.defaultVersion = version;
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function main(argv: string[]): number {
  const root = path.resolve(__dirname, '..');
  const hostJsonPath = path.join(root, 'host.json');
  const packageVersion = (
    JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }
  ).version;
  const text = readFileSync(hostJsonPath, 'utf8');
  if (argv[0] === '--check') {
    const current = (JSON.parse(text) as { extensions?: { durableTask?: { defaultVersion?: unknown } } })
      .extensions?.durableTask?.defaultVersion;
    if (current === packageVersion) return 0;
    process.stderr.write(
      `host.json defaultVersion is ${JSON.stringify(current)}, package.json version is '${packageVersion}': ` +
        'run scripts/set-orchestration-version.ts.\n',
    );
    return 1;
  }
  const version = releaseVersion(argv[0], packageVersion);
  writeFileSync(hostJsonPath, withDefaultVersion(text, version));
  process.stdout.write(`host.json durableTask.defaultVersion = ${version}\n`);
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
