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

/**
 * Text from outside (a cancel reason, an approver, a failure message) made safe for one log or
 * console line: every control character (C0, DEL, C1 — CR, LF, ESC of ANSI sequences included) and
 * the Unicode line/paragraph separators are shown escaped (`\r`, `\n`, `\u001b`), so the text can
 * neither start a forged line nor recolour, move or erase what a terminal shows.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
