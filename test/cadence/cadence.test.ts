import { instanceIdForSlot, secondTuesday, shouldBuild, slotFor } from '../../src/domain/cadence';

describe('patch cadence', () => {
  it('finds Patch Tuesday for every month of 2026 and 2027', () => {
    const expected: Record<string, string> = {
      '2026-1': '2026-01-13',
      '2026-2': '2026-02-10',
      '2026-3': '2026-03-10',
      '2026-4': '2026-04-14',
      '2026-5': '2026-05-12',
      '2026-6': '2026-06-09',
      '2026-7': '2026-07-14',
      '2026-8': '2026-08-11',
      '2026-9': '2026-09-08',
      '2026-10': '2026-10-13',
      '2026-11': '2026-11-10',
      '2026-12': '2026-12-08',
      '2027-1': '2027-01-12',
      '2027-2': '2027-02-09',
      '2027-3': '2027-03-09',
      '2027-4': '2027-04-13',
      '2027-5': '2027-05-11',
      '2027-6': '2027-06-08',
      '2027-7': '2027-07-13',
      '2027-8': '2027-08-10',
      '2027-9': '2027-09-14',
      '2027-10': '2027-10-12',
      '2027-11': '2027-11-09',
      '2027-12': '2027-12-14',
    };
    for (const [key, day] of Object.entries(expected)) {
      const [year, month] = key.split('-').map(Number) as [number, number];
      expect(secondTuesday(year, month).toISOString().slice(0, 10)).toBe(day);
    }
  });

  it('gives one slot per month for "N days after Patch Tuesday", over a simulated year of hourly fires', () => {
    const cadence = { kind: 'patchTuesday' as const, offsetDays: 2, at: '06:00', onlyWhenChanged: true };
    const slots = new Set<string>();
    for (let t = Date.UTC(2026, 0, 20); t < Date.UTC(2027, 0, 20); t += 3600_000) {
      const slot = slotFor(cadence, new Date(t));
      expect(slot.getTime()).toBeLessThanOrEqual(t);
      slots.add(slot.toISOString());
    }
    expect(slots.size).toBe(13);
    expect([...slots]).toContain('2026-11-12T06:00:00.000Z');
    for (const slot of slots) expect(new Date(slot).getUTCDay()).toBe(4); // Tuesday + 2 days
  });

  it('crosses month ends with a large offset', () => {
    const cadence = { kind: 'patchTuesday' as const, offsetDays: 21, at: '00:30', onlyWhenChanged: false };
    // December 2026: Patch Tuesday 8th + 21 days = 29th; on Jan 2nd the last slot is still Dec 29th.
    expect(slotFor(cadence, new Date('2027-01-02T00:00:00Z')).toISOString()).toBe('2026-12-29T00:30:00.000Z');
  });

  it('handles weekly and cron cadences', () => {
    const weekly = { kind: 'weekly' as const, dayOfWeek: 0, at: '03:00', onlyWhenChanged: true };
    expect(slotFor(weekly, new Date('2026-11-22T02:59:00Z')).toISOString()).toBe('2026-11-15T03:00:00.000Z');
    expect(slotFor(weekly, new Date('2026-11-22T03:00:00Z')).toISOString()).toBe('2026-11-22T03:00:00.000Z');
    const cron = { kind: 'cron' as const, expression: '0 0 4 * * 1', onlyWhenChanged: true };
    expect(slotFor(cron, new Date('2026-11-22T12:00:00Z')).toISOString()).toBe('2026-11-16T04:00:00.000Z');
  });

  it('names builds per slot, so double and past-due fires map to the same instance id', () => {
    const cadence = { kind: 'patchTuesday' as const, offsetDays: 2, at: '06:00', onlyWhenChanged: true };
    const onTime = instanceIdForSlot('ubuntu-2204-base', slotFor(cadence, new Date('2026-11-12T06:00:00Z')));
    const double = instanceIdForSlot('ubuntu-2204-base', slotFor(cadence, new Date('2026-11-12T06:00:01Z')));
    const pastDue = instanceIdForSlot('ubuntu-2204-base', slotFor(cadence, new Date('2026-11-15T09:30:00Z')));
    expect(onTime).toBe('cadence-ubuntu-2204-base-20261112-0600');
    expect(double).toBe(onTime);
    expect(pastDue).toBe(onTime);
  });

  it('skips when neither the source image nor the recipe changed, and says why', () => {
    const last = { sourceVersion: '22.04.202511050', recipeHash: 'a' };
    expect(shouldBuild({ onlyWhenChanged: true, lastSuccessful: last, current: last })).toEqual({
      build: false,
      reason: expect.stringContaining('unchanged'),
    });
    expect(
      shouldBuild({
        onlyWhenChanged: true,
        lastSuccessful: last,
        current: { ...last, sourceVersion: '22.04.202512010' },
      }).build,
    ).toBe(true);
    expect(
      shouldBuild({ onlyWhenChanged: true, lastSuccessful: last, current: { ...last, recipeHash: 'b' } })
        .reason,
    ).toBe('recipe changed');
    expect(shouldBuild({ onlyWhenChanged: true, current: last }).build).toBe(true);
    expect(shouldBuild({ onlyWhenChanged: false, lastSuccessful: last, current: last }).build).toBe(true);
  });
});
