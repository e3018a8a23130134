/**
 * Named crash points, for crash tests only. With `SMELTER_CRASH_AT=<point>` (or `<point>:<model>`)
 * in the environment, the process SIGKILLs itself when it reaches that point — so a test can stop
 * a run in each phase of the commit protocol for sure, and fail if a point was never reached.
 * Inert when the variable is unset.
 */
export const CRASH_POINTS = ['after-read', 'mid-write', 'before-state-commit', 'after-commit', 'mid-publish', 'mid-cleanup'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];
/** The points every stateful model passes; the last two only external models (files to move and delete). */
export const COMMIT_CRASH_POINTS: readonly CrashPoint[] = ['after-read', 'mid-write', 'before-state-commit', 'after-commit'];

export function crashPointFor(env: NodeJS.ProcessEnv): (point: CrashPoint, model: string) => void {
  const spec = env.SMELTER_CRASH_AT;
  if (!spec) return () => {};
  const [wanted, model] = spec.split(':');
  return (point, name) => {
    if (point === wanted && (model === undefined || model === name)) process.kill(process.pid, 'SIGKILL');
  };
}
