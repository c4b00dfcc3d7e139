import { planRetention, type RetainedVersion } from '../../src/domain/retention/plan';
import { FactoryError } from '../../src/shared/errors';

const base =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/ubuntu/versions/';
const v = (name: string, extra: Partial<RetainedVersion> = {}): RetainedVersion => ({
  id: base + name,
  excludeFromLatest: false,
  tags: { 'imagefactory.testResult': 'passed (3 scripts)' },
  ...extra,
});
const NOW = '2026-11-10T06:00:00.000Z';
const daysAgo = (d: number) => new Date(Date.parse(NOW) - d * 86_400_000).toISOString();

describe('retention plan (one image definition, one gallery)', () => {
  it('keeps the newest N by version number, sets end of life on older ones, deletes after the grace period', () => {
    const plan = planRetention({
      versions: [
        v('2026.1001.9', { endOfLifeDate: daysAgo(40) }),
        v('2026.1110.10'),
        v('2026.1110.9'),
        v('2026.1020.1', { endOfLifeDate: daysAgo(5) }),
        v('2026.1015.1'),
      ],
      policy: { keepNewest: 2, graceDays: 30 },
      now: NOW,
      inUse: new Map(),
    });
    expect(plan).toEqual([
      { kind: 'keep', id: base + '2026.1110.10', why: 'newest' },
      { kind: 'keep', id: base + '2026.1110.9', why: 'newest' },
      { kind: 'keep', id: base + '2026.1020.1', why: 'inGrace' },
      { kind: 'setEndOfLife', id: base + '2026.1015.1', endOfLifeDate: NOW },
      { kind: 'delete', id: base + '2026.1001.9', endOfLifeDate: daysAgo(40) },
    ]);
  });

  it('never touches the latest nor the last good version, and skips a version in use', () => {
    const failed = { 'imagefactory.testResult': 'failed' };
    const plan = planRetention({
      versions: [
        v('3.0.0', { excludeFromLatest: true, tags: failed }),
        v('2.0.0', { tags: failed, endOfLifeDate: daysAgo(90) }),
        v('1.5.0', { excludeFromLatest: true, endOfLifeDate: daysAgo(90), tags: { ...failed } }),
        v('1.0.0', { excludeFromLatest: true, endOfLifeDate: daysAgo(90) }),
        v('0.9.0', { excludeFromLatest: true, endOfLifeDate: daysAgo(90) }),
      ],
      policy: { keepNewest: 1, graceDays: 0 },
      now: NOW,
      inUse: new Map([[(base + '0.9.0').toLowerCase(), ['/subscriptions/s/.../virtualMachines/web-1']]]),
    });
    expect(plan.map((a) => [a.kind, a.id.split('/').pop(), 'why' in a ? a.why : undefined])).toEqual([
      ['keep', '3.0.0', 'newest'],
      ['keep', '2.0.0', 'latest'],
      ['delete', '1.5.0', undefined],
      ['keep', '1.0.0', 'lastGood'],
      ['skipInUse', '0.9.0', undefined],
    ]);
    expect(plan[4]).toMatchObject({ usedBy: ['/subscriptions/s/.../virtualMachines/web-1'] });
  });

  it('refuses a bad policy or time, naming every problem', () => {
    const refuse = (run: () => unknown): FactoryError => {
      try {
        run();
      } catch (error) {
        return error as FactoryError;
      }
      throw new Error('accepted');
    };
    const policy = refuse(() =>
      planRetention({ versions: [], policy: { keepNewest: 0, graceDays: -1 }, now: NOW, inUse: new Map() }),
    );
    expect(policy.code).toBe('InvalidRetentionPolicy');
    expect(policy.message).toContain('keepNewest must be a whole number from 1 to 100 (got 0)');
    expect(policy.message).toContain('graceDays must be a whole number from 0 to 3650 (got -1)');
    const time = refuse(() =>
      planRetention({ versions: [], policy: { keepNewest: 1, graceDays: 1 }, now: 'soon', inUse: new Map() }),
    );
    expect(time.code).toBe('InvalidRetentionRun');
  });
});
