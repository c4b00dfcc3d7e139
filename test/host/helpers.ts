import { VirtualClock } from '../../src/shared/clock';
import { LocalHost } from '../../src/local/host';

export const SAMPLE_APP = 'test/fixtures/sample-app/index.ts';

export async function startSampleHost(
  options: { databasePath?: string } = {},
): Promise<{ host: LocalHost; clock: VirtualClock; log: string[] }> {
  const clock = new VirtualClock(Date.UTC(2026, 10, 1, 8, 0, 0));
  const log: string[] = [];
  const host = await LocalHost.start({
    appEntry: SAMPLE_APP,
    clock,
    log: (line) => log.push(line),
    ...options,
  });
  return { host, clock, log };
}

/** History event types in order, for golden comparisons. */
export function eventTypes(history: Record<string, unknown>[] | undefined): string[] {
  return (history ?? []).map((event) => String(event.EventType));
}
