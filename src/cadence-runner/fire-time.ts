/**
 * The time a timer fire is handled as: the host's `sys.UtcNow` binding data (the invocation time,
 * which the local host sets from its virtual clock), else the machine's clock.
 */
export function fireTime(
  triggerMetadata: Record<string, unknown> | undefined,
  fallback = () => new Date(),
): Date {
  const sys = triggerMetadata?.sys;
  const utcNow =
    typeof sys === 'object' && sys !== null ? (sys as Record<string, unknown>).UtcNow : undefined;
  if (typeof utcNow === 'string') {
    // The host writes it as an ISO date, sometimes without a zone: it is UTC either way.
    const text = /[zZ]|[+-]\d\d:?\d\d$/.test(utcNow) ? utcNow : `${utcNow}Z`;
    const time = Date.parse(text);
    if (Number.isFinite(time)) return new Date(time);
  }
  return fallback();
}
