import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { runProject, type BuildCommand, type InvocationOptions, type RunOutcome } from './invocation.js';
import { loadProject } from './project/load-project.js';

/** What the last run's run_results.json says to do again. */
export interface RetryPlan {
  /** The command of the last run (`build`, `run`, `test`, `seed`, `snapshot`). */
  readonly command: BuildCommand;
  /** The nodes that failed, errored or were skipped, in the order the run reported them. */
  readonly nodes: readonly string[];
  /** The last run's arguments (target, vars, threads, full_refresh), as it recorded them. */
  readonly args: Readonly<Record<string, unknown>>;
  /** Where the results were read, relative to the project (or as given). */
  readonly from: string;
}

const RETRIED_COMMANDS: readonly BuildCommand[] = ['build', 'run', 'test', 'seed', 'snapshot'];
/** A node to run again: it failed, its query errored, or a failure upstream skipped it. */
const RETRIED_STATUSES = new Set(['error', 'fail', 'skipped']);

/**
 * `smelter retry` (dbt's): read the last run's target/run_results.json (or `--state DIR`'s) and
 * plan to run again, with the same command and arguments, only the nodes that failed or were
 * skipped. Pure reading: nothing runs here.
 */
export function planRetry(options: Pick<InvocationOptions, 'projectDir' | 'profilesDir' | 'target' | 'stateDir'>): RetryPlan {
  const dir = options.stateDir !== undefined ? resolve(options.stateDir) : join(resolve(options.projectDir), loadProject(options.projectDir, { target: options.target, profilesDir: options.profilesDir }).config.targetPath);
  const file = join(dir, 'run_results.json');
  const from = options.stateDir !== undefined ? join(options.stateDir, 'run_results.json') : 'run_results.json of the target path';
  if (!existsSync(file)) throw new UsageError(`there is no ${from} to retry`, { hint: 'retry reruns what the last run, build, test, seed or snapshot left failed' });
  let artifact: { results?: Array<{ unique_id?: unknown; status?: unknown }>; args?: Record<string, unknown> };
  try {
    artifact = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${from} is not valid JSON: ${(error as Error).message}`);
  }
  const args = artifact.args ?? {};
  const command = args.command ?? args.which;
  if (!RETRIED_COMMANDS.includes(command as BuildCommand)) {
    throw new UsageError(`${from} was written by '${String(command)}', which retry cannot repeat`, { hint: `retry repeats ${RETRIED_COMMANDS.join(', ')}` });
  }
  const nodes = (artifact.results ?? []).filter((r) => typeof r.unique_id === 'string' && RETRIED_STATUSES.has(String(r.status))).map((r) => r.unique_id as string);
  return { command: command as BuildCommand, nodes, args, from };
}

/**
 * Run a retry plan: the same command over exactly the planned nodes (those no longer in the
 * project are left out), with the last run's target, vars, threads and full refresh unless these
 * options give their own. Its run_results.json then holds the retried nodes only, as dbt's does.
 */
export async function runRetry(plan: RetryPlan, options: InvocationOptions): Promise<RunOutcome> {
  const recorded = plan.args;
  const vars = recorded.vars !== null && typeof recorded.vars === 'object' && !Array.isArray(recorded.vars) ? (recorded.vars as Record<string, unknown>) : undefined;
  return runProject(plan.command, {
    ...options,
    select: [],
    exclude: [],
    onlyNodes: new Set(plan.nodes),
    target: options.target ?? (typeof recorded.target === 'string' ? recorded.target : undefined),
    vars: options.vars ?? vars,
    threads: options.threads ?? (typeof recorded.threads === 'number' ? recorded.threads : undefined),
    fullRefresh: options.fullRefresh || recorded.full_refresh === true,
    args: { ...recorded, command: plan.command },
  });
}
