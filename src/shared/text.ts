/**
 * Caller-supplied text quoted in an answer, a problem or a log: a huge input (a 10k-character field
 * name, header or route value) is cut, never sent back whole.
 */
export function bounded(text: string, max = 64): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** zod's message for unknown keys, with each key bounded (zod quotes them whole). */
export function unknownKeysMessage(keys: readonly string[]): string {
  return `Unrecognized key${keys.length === 1 ? '' : 's'}: ${keys.map((key) => `"${bounded(key)}"`).join(', ')}`;
}
