/**
 * The console's progress line for a build (`npm start`). Every field that can carry caller text
 * (the message quotes a cancel reason, an approver, a failure) goes through `printable`, so a
 * reason holding CR/LF or an ANSI sequence cannot print a forged progress line of its own.
 */
import type { BuildCustomStatus } from '../domain/build-status';
import { printable } from '../shared/text';

export function progressLine(
  instanceId: string,
  runtimeStatus: string,
  status: Pick<BuildCustomStatus, 'step' | 'currentStage' | 'message'>,
  realNow: Date,
  simNow: Date,
): { key: string; line: string } {
  const text =
    `${status.step}${status.currentStage ? ` [${status.currentStage}]` : ''} ${status.message ?? ''}`.trim();
  const line = `${realNow.toISOString().slice(11, 19)} (sim ${simNow.toISOString().slice(11, 19)}) ${instanceId} ${runtimeStatus}: ${text}`;
  return { key: text + runtimeStatus, line: printable(line) };
}
