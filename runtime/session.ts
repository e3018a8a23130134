import type { Engine } from './engine/engine.js';
import type { Backends } from './backends.js';
import { openProject, openTargetDatabase, runParsed, withStateStoreOn, type BuildCommand, type InvocationOptions, type ParsedProject, type RunOutcome } from './invocation.js';
import type { StateRecord } from './state/state-record.js';
import type { TargetConfig } from './project/project-config.js';

export interface SessionOptions {
  readonly projectDir: string;
  /** The environment env_var() reads; fixed for the session's life. */
  readonly env?: NodeJS.ProcessEnv;
  /** Storage, state and file readers beyond the local ones (S3, DynamoDB). */
  readonly backends?: Backends;
}

/** What one run of a session may choose: everything a command line may, except the project and the environment. */
export type SessionRunOptions = Omit<InvocationOptions, 'projectDir' | 'env' | 'backends'>;

/**
 * A long-lived runner for one project: it parses the project once per target and vars and keeps each
 * target's DuckDB instance open between runs. This is what a warm Lambda invocation or a scheduler
 * process reuses (SPEC §9); the CLI runs one command per process and uses `runProject`.
 *
 * Runs are serialized: a run starts when the previous one has finished. Not responsible for noticing
 * project files edited after the session parsed them: a changed project needs a new session.
 */
export class Session {
  private readonly parsed = new Map<string, ParsedProject>();
  private readonly engines = new Map<string, Promise<Engine>>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: SessionOptions) {}

  /** `run`, `seed` or `build`, as `runProject` does, on the session's parsed project and open database. */
  run(command: BuildCommand, options: SessionRunOptions = {}): Promise<RunOutcome> {
    return this.enqueue(() => this.runNow(command, options));
  }

  /** The committed state records of these models (`schema.name`), read after the runs before it. */
  state(tableNames: readonly string[], options: Pick<SessionRunOptions, 'target' | 'vars' | 'from'> = {}): Promise<ReadonlyMap<string, StateRecord>> {
    return this.enqueue(async () => {
      if (this.closed) throw new Error('this session is closed');
      const project = this.project({ ...options, projectDir: this.options.projectDir, env: this.options.env });
      const engine = await this.engine(project.project.config.target);
      return withStateStoreOn(project, engine, this.options, (store) => store.read(tableNames));
    });
  }

  /** Runs `work` after everything queued before it; a failure does not stop the queue. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Close every database the session opened. Waits for a run in progress. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    for (const engine of this.engines.values()) (await engine.catch(() => undefined))?.close();
    this.engines.clear();
  }

  private async runNow(command: BuildCommand, options: SessionRunOptions): Promise<RunOutcome> {
    if (this.closed) throw new Error('this session is closed');
    const invocation: InvocationOptions = { ...options, projectDir: this.options.projectDir, env: this.options.env, backends: this.options.backends };
    return runParsed(command, this.project(invocation), invocation, async (target) => ({
      engine: await this.engine(target),
      release: () => undefined,
    }));
  }

  /** The project parsed for this target and these vars, the first time they are asked for. */
  private project(options: InvocationOptions): ParsedProject {
    const key = JSON.stringify([options.target ?? null, options.vars ?? {}, options.from ?? 'cli']);
    let project = this.parsed.get(key);
    if (project === undefined) {
      project = openProject(options);
      this.parsed.set(key, project);
    }
    return project;
  }

  private engine(target: TargetConfig): Promise<Engine> {
    const key = JSON.stringify([target.databasePath, target.settings]);
    let engine = this.engines.get(key);
    if (engine === undefined) {
      engine = openTargetDatabase(target);
      // A database that failed to open is tried again by the next run, not cached as a failure.
      engine.catch(() => this.engines.delete(key));
      this.engines.set(key, engine);
    }
    return engine;
  }
}
