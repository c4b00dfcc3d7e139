/**
 * V8 links at most 1,536 transitions from a map. Once the empty object's map has them all, two
 * objects that get the same new first property no longer share a map (each gets one of its own), and
 * every object built property by property from `{}` is slow to use (docs/engineering-guide.md, "What
 * the CPU figure also measures"). No imports: the worker-like P1 replay loads it beside the app only.
 */

/** Whether the empty object's map still has room; undefined without --allow-natives-syntax. */
export function emptyObjectHasRoom(): boolean | undefined {
  let haveSameMap: (a: object, b: object) => boolean;
  try {
    // A V8 intrinsic: only a Function built from text can use it, and only with the flag.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
  } catch {
    return undefined;
  }
  // A property name no object of this process had first.
  const name = `v8Probe${process.pid}${Math.random().toString(36).slice(2)}`;
  const first: Record<string, number> = {};
  const second: Record<string, number> = {};
  first[name] = 1;
  second[name] = 1;
  return haveSameMap(first, second);
}
