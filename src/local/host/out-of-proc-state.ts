/**
 * What an orchestrator that failed hands back: durable-functions 3.5 throws an Error whose message
 * ends in `"$OutOfProcData$:" + JSON of the orchestrator state` (Orchestrator.js), and the host reads
 * the actions and error from it (README, "Failures"). No imports: the worker-like bench replay
 * (bench/p1-worker-replay.ts) loads it beside the app only.
 */
const OUT_OF_PROC_MARKER = '$OutOfProcData$:';

/** The orchestrator state a failed orchestrator's error carries; undefined when it carries none. */
export function outOfProcState<State>(message: string): State | undefined {
  const at = message.indexOf(OUT_OF_PROC_MARKER);
  return at < 0 ? undefined : (JSON.parse(message.slice(at + OUT_OF_PROC_MARKER.length)) as State);
}
