/**
 * The factory version in host.json is the release's (scripts/set-orchestration-version.ts): the
 * committed host.json carries package.json's version, a tag sets it, a bad version changes nothing.
 */
import { readFileSync } from 'node:fs';
import { readHostJson } from '../../src/local/host/host-json';
import { releaseVersion, withDefaultVersion } from '../../scripts/set-orchestration-version';

const hostJsonText = readFileSync('host.json', 'utf8');
const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('factory version in host.json', () => {
  it("is package.json's version, with the documented defaults for the strategies", () => {
    expect(readHostJson('host.json', { TASK_HUB_NAME: 'ImageFactoryTest' }).versioning).toEqual({
      defaultVersion: packageVersion,
      matchStrategy: 'CurrentOrOlder',
      failureStrategy: 'Reject',
    });
  });

  it('takes a release tag and keeps every other setting', () => {
    expect(releaseVersion('v1.2.0', packageVersion)).toBe('1.2.0');
    expect(releaseVersion(undefined, '0.3.1')).toBe('0.3.1');
    const updated = JSON.parse(withDefaultVersion(hostJsonText, '1.2.0')) as Record<string, unknown>;
    const original = JSON.parse(hostJsonText) as { extensions: { durableTask: Record<string, unknown> } };
    expect(updated).toEqual({
      ...original,
      extensions: {
        ...original.extensions,
        durableTask: { ...original.extensions.durableTask, defaultVersion: '1.2.0' },
      },
    });
  });

  it('refuses what the runtime would not compare as a version', () => {
    expect(() => releaseVersion('release-7', packageVersion)).toThrow(
      "'release-7' is not a release version: use major.minor.patch",
    );
  });
});
