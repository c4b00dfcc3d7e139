/**
 * What the use* helpers of the suites (useFactory, useHarness, useHttpHost) return: a stand-in for
 * a value their beforeAll creates, so a describe block can name it before it exists. Every property
 * read goes to the current value (methods bound to it); a read before beforeAll has run throws.
 */
export function readThrough<T extends object>(current: () => T | undefined, what: string): T {
  return new Proxy({} as T, {
    get: (_target, key) => {
      const target = current();
      if (target === undefined) throw new Error(`${what} is started in beforeAll`);
      const value = Reflect.get(target, key) as unknown;
      // Class instances (LocalHost, the front end) keep their `this`.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
