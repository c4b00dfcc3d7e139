import {
  checkCadence,
  formatSlot,
  instanceIdForSlot,
  isDue,
  nextSlot,
  parseSlot,
  secondTuesday,
  shouldBuild,
  slotFor,
  type Cadence,
} from '../../src/domain/cadence';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/**
 * Timer fires from `from` (inclusive) to `to` (exclusive), every `step` hours (an odd step walks
 * through every hour of the day), shifted by `jitterMs`.
 */
function* hours(from: string, to: string, jitterMs = 0, step = 1): Generator<Date> {
  for (let t = Date.parse(from); t < Date.parse(to); t += step * HOUR) yield new Date(t + jitterMs);
}

/** Patch Tuesdays read off a calendar (not computed), for every month of 2026 and 2027. */
const PATCH_TUESDAYS = [
  '2026-01-13', '2026-02-10', '2026-03-10', '2026-04-14', '2026-05-12', '2026-06-09',
  '2026-07-14', '2026-08-11', '2026-09-08', '2026-10-13', '2026-11-10', '2026-12-08',
  '2027-01-12', '2027-02-09', '2027-03-09', '2027-04-13', '2027-05-11', '2027-06-08',
  '2027-07-13', '2027-08-10', '2027-09-14', '2027-10-12', '2027-11-09', '2027-12-14',
]; // prettier-ignore

describe('secondTuesday', () => {
  it('matches the calendar for every month of 2026 and 2027', () => {
    const computed = [2026, 2027].flatMap((year) =>
      Array.from({ length: 12 }, (_, i) => secondTuesday(year, i + 1).toISOString()),
    );
    expect(computed).toEqual(PATCH_TUESDAYS.map((day) => `${day}T00:00:00.000Z`));
  });

  it('is a Tuesday between the 8th and the 14th in every month of 2000..2100', () => {
    for (let year = 2000; year <= 2100; year++)
      for (let month = 1; month <= 12; month++) {
        const day = secondTuesday(year, month);
        expect([day.getUTCDay(), day.getUTCMonth() + 1]).toEqual([2, month]);
        expect(day.getUTCDate()).toBeGreaterThanOrEqual(8);
        expect(day.getUTCDate()).toBeLessThanOrEqual(14);
      }
  });

  it('refuses a month outside 1..12', () => {
    expect(() => secondTuesday(2026, 13)).toThrow(/month 1..12/);
    expect(() => secondTuesday(2026, 0)).toThrow(/month 1..12/);
  });
});

describe('slotFor over a simulated two years of hourly timer fires', () => {
  it('Patch Tuesday + 2 days at 06:00: one slot per month, the table day + 2, never after now', () => {
    const cadence: Cadence = { kind: 'patchTuesday', offsetDays: 2, at: '06:00' };
    const seen: string[] = [];
    for (const now of hours('2026-01-20T00:00Z', '2028-01-01T00:00Z', 17 * 60_000)) {
      const slot = slotFor(cadence, now);
      expect(parseSlot(slot).getTime()).toBeLessThanOrEqual(now.getTime());
      if (seen.at(-1) !== slot) seen.push(slot);
    }
    const expected = PATCH_TUESDAYS.map((day) => {
      const thursday = new Date(Date.parse(`${day}T06:00:00Z`) + 2 * DAY);
      return `${thursday.toISOString().slice(0, 16)}Z`;
    });
    expect(seen).toEqual(expected); // in order, each exactly once
    expect(seen).toContain('2026-11-12T06:00Z');
  });

  it('Patch Tuesday + 0 agrees with the cron "second Tuesday" (0 6 8-14 * 2, AND of days)', () => {
    const patch: Cadence = { kind: 'patchTuesday', offsetDays: 0, at: '06:00' };
    const cron: Cadence = { kind: 'cron', expression: '0 6 8-14 * 2' };
    // The whole sequence of slots, then the slot seen by timer fires every 5 hours.
    const chain: string[] = [];
    for (let at = new Date('2026-01-01T00:00Z'); chain.length < 24; at = nextSlot(patch, at))
      chain.push(formatSlot(nextSlot(patch, at)));
    expect(chain).toEqual(PATCH_TUESDAYS.map((day) => `${day}T06:00Z`));
    for (const now of hours('2026-01-01T00:00Z', '2028-01-01T00:00Z', 0, 5)) {
      expect(slotFor(cron, now)).toBe(slotFor(patch, now));
    }
  });

  it('offsets cross month and year ends', () => {
    const plus21: Cadence = { kind: 'patchTuesday', offsetDays: 21, at: '00:30' };
    // December 2026: Patch Tuesday the 8th + 21 days = the 29th; on January 2nd that is still the slot.
    expect(slotFor(plus21, new Date('2027-01-02T00:00:00Z'))).toBe('2026-12-29T00:30Z');
    const plus27: Cadence = { kind: 'patchTuesday', offsetDays: 27, at: '06:00' };
    // December 2027: the 14th + 27 days = 2028-01-10; the slot before it is November's (9th + 27 = Dec 6th).
    expect(slotFor(plus27, new Date('2028-01-10T05:59:59Z'))).toBe('2027-12-06T06:00Z');
    expect(slotFor(plus27, new Date('2028-01-10T06:00:00Z'))).toBe('2028-01-10T06:00Z');
    // January 2026: the 13th + 27 = February 9th, one day before February's own Patch Tuesday.
    expect(slotFor(plus27, new Date('2026-02-09T12:00:00Z'))).toBe('2026-02-09T06:00Z');
    expect(nextSlot(plus27, new Date('2026-02-09T06:00:00Z')).toISOString()).toBe('2026-03-09T06:00:00.000Z');
  });

  it('weekly Sunday 03:00: every slot a Sunday, 52 or 53 a year, boundaries exact', () => {
    const weekly: Cadence = { kind: 'weekly', dayOfWeek: 0, at: '03:00' };
    expect(slotFor(weekly, new Date('2026-11-22T02:59:59.999Z'))).toBe('2026-11-15T03:00Z');
    expect(slotFor(weekly, new Date('2026-11-22T03:00:00Z'))).toBe('2026-11-22T03:00Z');
    const slots = new Set<string>();
    for (const now of hours('2026-01-01T00:00Z', '2027-01-01T00:00Z')) slots.add(slotFor(weekly, now));
    // 2025-12-28 (the slot before 2026 began) + the 52 Sundays of 2026.
    expect(slots.size).toBe(53);
    for (const slot of slots) expect(parseSlot(slot).getUTCDay()).toBe(0);
  });

  it('cron with 5 and 6 fields (6: seconds first; off-minute slots keep their seconds)', () => {
    const monday4 = { kind: 'cron', expression: '0 4 * * 1' } as const;
    expect(slotFor(monday4, new Date('2026-11-22T12:00:00Z'))).toBe('2026-11-16T04:00Z');
    expect(slotFor({ kind: 'cron', expression: '0 0 4 * * 1' }, new Date('2026-11-22T12:00Z'))).toBe(
      '2026-11-16T04:00Z',
    );
    const halfPast = { kind: 'cron', expression: '30 0 4 * * 1' } as const;
    expect(slotFor(halfPast, new Date('2026-11-16T04:00:30.400Z'))).toBe('2026-11-16T04:00:30Z');
    expect(slotFor(halfPast, new Date('2026-11-16T04:00:29.999Z'))).toBe('2026-11-09T04:00:30Z');
    // Every second: the slot is the current second, however far it is from anything else.
    expect(slotFor({ kind: 'cron', expression: '* * * * * *' }, new Date('2026-11-16T04:00:07.900Z'))).toBe(
      '2026-11-16T04:00:07Z',
    );
  });

  it('nextSlot is the first slot after, and slotFor of it is itself, for every kind', () => {
    const cadences: Cadence[] = [
      { kind: 'patchTuesday', offsetDays: 0, at: '00:00' },
      { kind: 'patchTuesday', offsetDays: 27, at: '23:59' },
      { kind: 'weekly', dayOfWeek: 6, at: '23:30' },
      { kind: 'cron', expression: '15 */6 * * *' },
    ];
    for (const cadence of cadences)
      for (const now of hours('2026-01-01T00:00Z', '2027-01-01T00:00Z', 1234, 7)) {
        const slot = parseSlot(slotFor(cadence, now)).getTime();
        const next = nextSlot(cadence, now);
        expect(slot).toBeLessThanOrEqual(now.getTime());
        expect(next.getTime()).toBeGreaterThan(now.getTime());
        expect(slotFor(cadence, next)).toBe(formatSlot(next));
        expect(slotFor(cadence, new Date(next.getTime() - 1))).toBe(formatSlot(new Date(slot)));
      }
  });
});

describe('isDue', () => {
  const cadence: Cadence = { kind: 'patchTuesday', offsetDays: 2, at: '06:00' };

  it('a first fire is due; a double fire or a past-due fire in the same slot is not', () => {
    const first = isDue(cadence, undefined, new Date('2026-11-12T06:00:00Z'));
    expect(first).toEqual({ due: true, slot: '2026-11-12T06:00Z' });
    expect(isDue(cadence, first.slot, new Date('2026-11-12T06:00:00.010Z'))).toEqual({
      due: false,
      slot: '2026-11-12T06:00Z',
    });
    expect(isDue(cadence, first.slot, new Date('2026-11-15T09:30:00Z')).due).toBe(false);
  });

  it('a late fire for an unhandled slot is due, and missed months collapse into the latest slot', () => {
    expect(isDue(cadence, '2026-10-15T06:00Z', new Date('2026-11-15T09:30:00Z'))).toEqual({
      due: true,
      slot: '2026-11-12T06:00Z',
    });
    expect(isDue(cadence, '2026-07-16T06:00Z', new Date('2026-11-13T00:00:00Z'))).toEqual({
      due: true,
      slot: '2026-11-12T06:00Z',
    });
  });

  it('is not due when the handled slot is later than now (clock skew, a changed cadence)', () => {
    expect(isDue(cadence, '2026-12-10T06:00Z', new Date('2026-11-20T00:00:00Z')).due).toBe(false);
  });

  it('refuses a previous slot it did not write', () => {
    for (const bad of ['2026-11-12T06:00:00.000Z', '2026-11-12 06:00Z', '2026-13-12T06:00Z', ''])
      expect(() => isDue(cadence, bad, new Date('2026-11-20T00:00Z'))).toThrow(
        expect.objectContaining({ code: 'InvalidSlot' }),
      );
  });
});

describe('instanceIdForSlot', () => {
  const cadence: Cadence = { kind: 'patchTuesday', offsetDays: 2, at: '06:00' };

  it('gives a double fire, a past-due fire and a restart the same instance id', () => {
    const fires = [
      '2026-11-12T06:00:00Z',
      '2026-11-12T06:00:01Z',
      '2026-11-15T09:30:00Z',
      '2026-12-10T05:59:59Z',
    ];
    const ids = fires.map((at) => instanceIdForSlot('ubuntu-2204-base', slotFor(cadence, new Date(at))));
    expect(new Set(ids)).toEqual(new Set(['cadence-ubuntu-2204-base-20261112T0600Z']));
    expect(instanceIdForSlot('ubuntu-2204-base', slotFor(cadence, new Date('2026-12-10T06:00Z')))).toBe(
      'cadence-ubuntu-2204-base-20261210T0600Z',
    );
  });

  it('is a valid durable instance id, distinct per pipeline and slot', () => {
    const ids = new Set<string>();
    const longName = `a${'b'.repeat(63)}`;
    for (const pipeline of ['ubuntu-2204-base', 'windows-2022-base', longName])
      for (const now of hours('2026-01-01T00:00Z', '2026-02-01T00:00Z', 30_000)) {
        const id = instanceIdForSlot(pipeline, slotFor({ kind: 'cron', expression: '30 * * * * *' }, now));
        expect(id).toMatch(/^[A-Za-z0-9._-]{1,100}$/); // no / \ # ? or control characters
        ids.add(id);
      }
    expect(ids.size).toBe(3 * 31 * 24);
  });

  it('refuses pipeline names and slots that would make an invalid or ambiguous id', () => {
    for (const bad of ['', 'a/b', 'a#b', 'a?b', 'a\\b', 'a b', 'x'.repeat(65), '-x'])
      expect(() => instanceIdForSlot(bad, '2026-11-12T06:00Z')).toThrow(
        expect.objectContaining({ code: 'InvalidPipelineName' }),
      );
    expect(() => instanceIdForSlot('ubuntu', '2026-11-12T06:00:00Z')).toThrow(
      expect.objectContaining({ code: 'InvalidSlot' }),
    );
  });
});

describe('bad cadences get a clear error', () => {
  const now = new Date('2026-11-20T00:00:00Z');
  const cases: [unknown, RegExp][] = [
    [{ kind: 'patchTuesday', offsetDays: 28, at: '06:00' }, /offsetDays must be an integer 0..27, got 28/],
    [{ kind: 'patchTuesday', offsetDays: -1, at: '06:00' }, /offsetDays .* got -1/],
    [{ kind: 'patchTuesday', offsetDays: 1.5, at: '06:00' }, /offsetDays .* got 1.5/],
    [{ kind: 'patchTuesday', offsetDays: 2, at: '24:00' }, /at must be 'HH:MM'.*"24:00"/],
    [{ kind: 'weekly', dayOfWeek: 1, at: '6:00' }, /at must be 'HH:MM'.*"6:00"/],
    [
      { kind: 'weekly', dayOfWeek: 7, at: '06:00' },
      /dayOfWeek must be an integer 0 \(Sunday\)..6 \(Saturday\), got 7/,
    ],
    [{ kind: 'cron', expression: '0 0 * *' }, /cron expression '0 0 \* \*' is invalid/],
    [{ kind: 'cron', expression: '1 2 3 4 5 6 7' }, /is invalid/],
    [{ kind: 'cron', expression: '61 * * * *' }, /is invalid.*minute/],
    [{ kind: 'cron', expression: '0 0 30 2 *' }, /'0 0 30 2 \*' never fires/],
    [{ kind: 'monthly', at: '06:00' }, /unknown cadence kind "monthly"/],
  ];
  it.each(cases)('%j', (cadence, message) => {
    for (const call of [
      () => checkCadence(cadence as Cadence),
      () => slotFor(cadence as Cadence, now),
      () => nextSlot(cadence as Cadence, now),
      () => isDue(cadence as Cadence, undefined, now),
    ])
      expect(call).toThrow(
        expect.objectContaining({ code: 'InvalidCadence', message: expect.stringMatching(message) }),
      );
  });

  it('refuses an invalid Date', () => {
    expect(() => slotFor({ kind: 'weekly', dayOfWeek: 1, at: '06:00' }, new Date('nope'))).toThrow(
      /now must be a valid Date/,
    );
  });
});

describe('shouldBuild', () => {
  const last = { sourceVersion: '22.04.202511050', recipeHash: 'a' };
  const same = { currentSourceVersion: last.sourceVersion, currentRecipeHash: last.recipeHash };

  it('skips when neither the source image version nor the recipe changed, and says why', () => {
    expect(shouldBuild({ onlyWhenChanged: true, lastSuccessful: last, ...same })).toEqual({
      build: false,
      reason: 'unchanged since the last successful build (source 22.04.202511050, same recipe)',
    });
  });

  it('builds when something changed, nothing was built yet, the version is unknown, or always', () => {
    const verdict = (input: Partial<Parameters<typeof shouldBuild>[0]>) =>
      shouldBuild({ onlyWhenChanged: true, lastSuccessful: last, ...same, ...input });
    expect(verdict({ currentSourceVersion: '22.04.202512010' })).toEqual({
      build: true,
      reason: 'source image changed (22.04.202511050 → 22.04.202512010)',
    });
    expect(verdict({ currentRecipeHash: 'b' })).toEqual({ build: true, reason: 'the recipe changed' });
    expect(verdict({ currentSourceVersion: 'x', currentRecipeHash: 'b' }).reason).toMatch(
      /source .* and the recipe/,
    );
    expect(verdict({ lastSuccessful: undefined })).toEqual({
      build: true,
      reason: 'no successful build yet',
    });
    expect(verdict({ currentSourceVersion: '', lastSuccessful: { ...last, sourceVersion: '' } }).build).toBe(
      true,
    );
    expect(verdict({ onlyWhenChanged: false })).toEqual({
      build: true,
      reason: expect.stringContaining('every slot'),
    });
  });
});
