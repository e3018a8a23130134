import { readFileSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DiagnosticsError, ProjectError, UsageError, SmelterError, errorFromDiagnostic, formatLocation } from './errors.js';
import type { AnalysisNode, Manifest, ManifestNode, ModelNode } from './manifest/types.js';
import { loadProject, type LoadedProject } from './project/load-project.js';
import { parseProject, type ParseResult } from './parse/parse-project.js';
import type { Dag } from './graph/dag.js';
import { nodesRead } from './graph/reads.js';
import { selectNodes, type IndirectSelection, type StateManifest } from './select/select.js';
import { parseSelector } from './select/selector.js';
import { boundText } from './util/bounded-text.js';
import { didYouMean } from './util/did-you-mean.js';
import { planRun, type RunPlan } from './plan/plan.js';
import { renderTemplateNode, type RenderEnvironment } from './render/render-model.js';
import { DatabaseAccess } from './execute/database-access.js';
import { executePlan } from './execute/execute-plan.js';
import { isStateful, stateKey, traitsOf } from './materializations/traits.js';
import { isRemoteAddress, type Backends, type OpenStateStore } from './backends.js';
import { LocalStorage } from './storage/local-storage.js';
import type { Storage } from './storage/storage.js';
import type { FileReader } from './storage/file-reader.js';
import type { Engine, EngineConnection } from './engine/engine.js';
import { verifyState as verifyModels, type VerifiedModel } from './maintenance/verify-state.js';
import { adoptState as adoptModels, type AdoptedModel } from './maintenance/adopt-state.js';
import type { TargetConfig } from './project/project-config.js';
import { LocalStateStore } from './state/local-state-store.js';
import type { StateRecord } from './state/state-record.js';
import type { StateStore } from './state/state-store.js';
import type { RunEvent, RunResult } from './execute/results.js';
import { writeManifest, writeRunResults } from './artifacts/write-artifacts.js';
import { CompiledFiles } from './util/compiled-files.js';
import { UndeclaredReads, undeclaredWarning } from './lineage/index.js';

export type Command = 'ls' | 'compile' | 'run' | 'seed' | 'snapshot' | 'test' | 'build' | 'state';

export interface InvocationOptions {
  readonly projectDir: string;
  /** A dbt project's profiles.yml folder (--profiles-dir). */
  readonly profilesDir?: string;
  readonly target?: string;
  readonly vars?: Readonly<Record<string, unknown>>;
  /** Where `vars` and `target` come from: `event` (a Lambda event) may set only typed vars (see loadProject). Default `cli`. */
  readonly from?: 'cli' | 'event';
  readonly select?: readonly string[];
  /**
   * A `select` expression that matches no enabled node is a ProjectError naming it, not a warning:
   * a scheduled run (a Lambda event) with a typo must not skip a model in silence. Default false (dbt's warning).
   */
  readonly unmatchedSelectorIsError?: boolean;
  readonly exclude?: readonly string[];
  /** --indirect-selection: which tests the selected nodes bring with them (default eager). */
  readonly indirectSelection?: IndirectSelection;
  readonly threads?: number;
  readonly failFast?: boolean;
  /** --state DIR: the folder holding an earlier manifest.json, for state:modified. */
  readonly stateDir?: string;
  /** Exactly these nodes, in place of select/exclude (`retry`: what the last run left failed). */
  readonly onlyNodes?: ReadonlySet<string>;
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  readonly onEvent?: (event: RunEvent) => void;
  /** Selection warnings (a criterion that matched nothing), reported before anything runs. */
  readonly onWarning?: (message: string) => void;
  /** --full-refresh: rebuild incremental models from scratch. */
  readonly fullRefresh?: boolean;
  /** --force: --full-refresh and `state reset` also apply to scd2 models. */
  readonly force?: boolean;
  /** --event-time-start/--event-time-end: the microbatch batches to (re)build. */
  readonly eventTimeStart?: Date;
  readonly eventTimeEnd?: Date;
  /** The run's start (run_started_at; microbatch's "now"); defaults to the current time. */
  readonly runStartedAt?: Date;
  /** Storage, state and file readers beyond the local ones (S3, DynamoDB), from the composition root. */
  readonly backends?: Backends;
  /** Recorded in run_results.json `args`. */
  readonly args?: Readonly<Record<string, unknown>>;
}

/** A loaded and parsed project with its graph: what every command starts from. */
export interface ParsedProject {
  readonly project: LoadedProject;
  readonly parsed: ParseResult;
  readonly manifest: Manifest;
  readonly dag: Dag;
}

/** Load and parse; a project with errors throws them all at once (exit 2). */
export function openProject(options: Pick<InvocationOptions, 'projectDir' | 'profilesDir' | 'target' | 'vars' | 'from' | 'env'>): ParsedProject {
  const project = loadProject(options.projectDir, { target: options.target, vars: options.vars, from: options.from, env: options.env, profilesDir: options.profilesDir });
  const parsed = parseProject(project, { env: options.env });
  const errors = parsed.manifest.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new DiagnosticsError(errors.map(errorFromDiagnostic));
  return {
    project,
    parsed,
    manifest: parsed.manifest,
    // Built on first use, like the parse result's own.
    get dag() {
      return parsed.dag;
    },
  };
}

export interface Selected {
  readonly nodes: readonly ManifestNode[];
  readonly warnings: readonly string[];
}

export function selectFrom(p: ParsedProject, options: InvocationOptions, resourceTypes?: readonly string[]): Selected {
  if (options.onlyNodes !== undefined) {
    const nodes = [...options.onlyNodes]
      .map((id) => p.manifest.nodes[id])
      .filter((n) => n !== undefined && (resourceTypes === undefined || resourceTypes.includes(n.resource_type)))
      .sort((a, b) => a.unique_id.localeCompare(b.unique_id));
    const warnings = parseWarnings(p.manifest);
    for (const w of warnings) options.onWarning?.(w);
    return { nodes, warnings };
  }
  const stateManifest = options.stateDir === undefined ? undefined : readStateManifest(options.stateDir);
  const { selected, warnings } = selectNodes(p.manifest, () => p.dag, {
    select: options.select ?? [],
    exclude: options.exclude ?? [],
    indirectSelection: options.indirectSelection,
    stateManifest,
    resourceTypes,
  });
  if (options.unmatchedSelectorIsError) requireMatches(p, options.select ?? [], stateManifest);
  const nodes = [...selected].map((id) => p.manifest.nodes[id]).sort((a, b) => a.unique_id.localeCompare(b.unique_id));
  // What parse found worth saying but not refusing (dbt's warnings), before the selection's own.
  const all = [...parseWarnings(p.manifest), ...warnings];
  for (const w of all) options.onWarning?.(w);
  return { nodes, warnings: all };
}

/** Each select expression on its own must match an enabled node (of any type, before the command's filter). */
function requireMatches(p: ParsedProject, select: readonly string[], stateManifest: StateManifest | undefined): void {
  for (const text of select) {
    for (const expression of parseSelector(text).parts) {
      const { selected } = selectNodes(p.manifest, () => p.dag, { select: [expression.text], exclude: [], indirectSelection: 'empty', stateManifest });
      if (selected.size > 0) continue;
      const names = Object.values(p.manifest.nodes).map((n) => n.name);
      throw new ProjectError(`select '${boundText(expression.text)}' matches no enabled node`, {
        code: 'selector',
        hint: didYouMean(expression.text, names) ?? 'a selection must match every model it names: nothing was run',
      });
    }
  }
}

/** --state is a command-line path: relative to the working directory, as in dbt. */
function readStateManifest(stateDir: string): StateManifest {
  const path = join(resolve(stateDir), 'manifest.json');
  if (!existsSync(path)) throw new UsageError(`--state ${stateDir}: no manifest.json there`, { hint: 'point --state at the target/ folder of an earlier compile or run' });
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--state ${stateDir}: manifest.json is not valid JSON (${(error as Error).message})`);
  }
  const isMapping = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isMapping(manifest) || !isMapping((manifest as { nodes?: unknown }).nodes)) {
    throw new UsageError(`--state ${stateDir}: manifest.json is not a manifest (it has no nodes)`, { hint: 'point --state at the target/ folder of an earlier compile or run' });
  }
  return manifest as StateManifest;
}

/** `smelter ls`: parse and select only; no database. */
/** Parse's warnings (dbt's: what it found worth saying but not refusing), each with its location. */
function parseWarnings(manifest: Manifest): string[] {
  return manifest.diagnostics
    .filter((d) => d.severity === 'warning')
    .map((d) => `${d.file === undefined ? '' : `${formatLocation({ file: d.file, line: d.line, column: d.column })}: `}${d.message}${d.hint ? ` (${d.hint})` : ''}`);
}

export function listNodes(options: InvocationOptions): Selected {
  return selectFrom(openProject(options), options);
}

/**
 * `smelter parse` (dbt's `parse`): read and check the whole project and write target/manifest.json;
 * nothing is rendered beyond what parse renders, and no database is opened.
 */
export function parseToManifest(options: InvocationOptions): { readonly manifest: Manifest; readonly path: string } {
  const p = openProject(options);
  for (const w of parseWarnings(p.manifest)) options.onWarning?.(w);
  writeManifest(join(p.project.config.dir, p.project.config.targetPath), p.manifest, randomUUID(), new Date());
  return { manifest: p.manifest, path: `${p.project.config.targetPath}/manifest.json` };
}

export interface CompileOutcome {
  readonly compiled: ReadonlyArray<{ readonly unique_id: string; readonly path: string; readonly sql: string }>;
  readonly errors: readonly SmelterError[];
  readonly warnings: readonly string[];
  readonly manifest: Manifest;
  /** Where the files went, relative to the project directory (`target/compiled`). */
  readonly outputDir: string;
}

/**
 * `smelter compile`: render every selected model to target/compiled/; writes manifest.json.
 * Files are written asynchronously while later models render, so a slow disk overlaps with the CPU.
 */
export async function compileProject(options: InvocationOptions): Promise<CompileOutcome> {
  const p = openProject(options);
  const { nodes, warnings } = selectFrom(p, options, ['model', 'analysis']);
  const invocationId = randomUUID();
  const runStartedAt = new Date();
  const targetDir = join(p.project.config.dir, p.project.config.targetPath);
  const compiled: Array<{ unique_id: string; path: string; sql: string }> = [];
  const errors: SmelterError[] = [];
  // The database opens only when a model's render asks it something (run_query, statement, ...).
  let opened: Promise<{ engine: Engine; connection: EngineConnection }> | undefined;
  const connect = async () => {
    opened ??= openTargetDatabase(p.project.config.target).then(async (engine) => ({ engine, connection: await engine.connect() }));
    return (await opened).connection;
  };
  const renv: RenderEnvironment = {
    manifest: p.manifest,
    project: p.project,
    templates: p.parsed.templates,
    env: options.env ?? process.env,
    runStartedAt,
    invocationId,
    flags: { which: 'compile' },
  };
  // Reads that bypass ref(): DuckDB's parser is asked only about SQL that names another relation,
  // on the target's database when a render opened it, else on a scratch in-memory one.
  const undeclared = UndeclaredReads.of(p.manifest, p.project.config.target.schema);
  let scratch: Promise<{ engine: Engine; connection: EngineConnection }> | undefined;
  const parser = async () => {
    if (opened) return (await opened).connection;
    scratch ??= openTargetDatabase({ ...p.project.config.target, databasePath: ':memory:', settings: {} }).then(async (engine) => ({ engine, connection: await engine.connect() }));
    return (await scratch).connection;
  };
  const files = new CompiledFiles();
  try {
    for (const node of nodes as Array<ModelNode | AnalysisNode>) {
      let sql: string;
      try {
        const database = new DatabaseAccess(connect);
        sql = await database.render(node.name, () => renderTemplateNode(node, { ...renv, database }));
      } catch (error) {
        if (error instanceof SmelterError) {
          errors.push(error);
          // What an earlier compile wrote is not this model any more.
          rmSync(join(targetDir, 'compiled', node.original_file_path), { force: true });
          continue;
        }
        throw error;
      }
      const path = join(targetDir, 'compiled', node.original_file_path);
      files.write(path, sql);
      compiled.push({ unique_id: node.unique_id, path, sql });
      if (node.resource_type === 'model') for (const read of await undeclared.find(node, sql, parser)) options.onWarning?.(undeclaredWarning(node.original_file_path, node.name, read));
    }
  } finally {
    if (opened) {
      const { engine, connection } = await opened;
      connection.close();
      engine.close();
    }
    if (scratch) {
      const { engine, connection } = await scratch;
      connection.close();
      engine.close();
    }
  }
  writeManifest(targetDir, p.manifest, invocationId, runStartedAt);
  return { compiled, errors, warnings, manifest: p.manifest, outputDir: join(p.project.config.targetPath, 'compiled') };
}

export interface RunOutcome {
  readonly run: RunResult;
  readonly warnings: readonly string[];
}

/** The commands that execute a plan: `run` (models), `seed` (seeds), `test` (data tests), `build` (all three, models audited by their tests). */
export type BuildCommand = 'run' | 'seed' | 'snapshot' | 'test' | 'build';

const PLANNED_TYPES: Readonly<Record<BuildCommand, readonly string[]>> = {
  run: ['model'],
  seed: ['seed'],
  snapshot: ['model'],
  test: ['test', 'unit_test'],
  build: ['model', 'seed', 'test', 'unit_test'],
};

/** `smelter run`, `seed` or `build`: plan, open the database, execute, close it. */
export async function runProject(command: BuildCommand, options: InvocationOptions): Promise<RunOutcome> {
  return runParsed(command, openProject(options), options, async (target) => {
    const engine = await openTargetDatabase(target);
    return { engine, release: () => engine.close() };
  });
}

/** `smelter test`: the selected data tests (and those attached to selected models), on published data. */
export function testProject(options: InvocationOptions): Promise<RunOutcome> {
  return runProject('test', options);
}

/** The target's DuckDB database, opened with its settings. */
export async function openTargetDatabase(target: TargetConfig): Promise<Engine> {
  // Imported here: loading DuckDB's native binding is most of the start-up of commands that never open it.
  const { openDuckDB } = await import('./engine/duckdb-engine.js');
  return openDuckDB(target.databasePath, target.settings);
}

/** How a run gets the target's database, and gives it back: closed by a one-off run, kept by a session. */
export type EngineLease = (target: TargetConfig) => Promise<{ readonly engine: Engine; readonly release: () => void }>;

/** A run of an already parsed project: select, plan, execute, write the artifacts. */
export async function runParsed(command: BuildCommand, p: ParsedProject, options: InvocationOptions, leaseEngine: EngineLease): Promise<RunOutcome> {
  const { eventTimeStart: start, eventTimeEnd: end } = options;
  if (start !== undefined && end !== undefined && start.getTime() >= end.getTime()) {
    // An empty range would rebuild no batch and report success.
    throw new UsageError(`--event-time-start (${start.toISOString()}) must be before --event-time-end (${end.toISOString()})`);
  }
  const selected = selectFrom(p, options, PLANNED_TYPES[command]);
  const { warnings } = selected;
  // dbt snapshots are built as scd2 models, by `snapshot` and `build` only (dbt's commands).
  const nodes = selected.nodes.filter((n) => n.resource_type !== 'model' || command === 'build' || (command === 'snapshot') === (n.snapshot === true));
  const plan = planRun(p.manifest, p.dag, new Set(nodes.map((n) => n.unique_id)), p.project.config.target);
  const targetDir = join(p.project.config.dir, p.project.config.targetPath);
  const invocationId = randomUUID();
  const runStartedAt = options.runStartedAt ?? new Date();
  writeManifest(targetDir, p.manifest, invocationId, runStartedAt);
  if (options.fullRefresh && !options.force) {
    for (const node of nodes) {
      if (node.resource_type === 'model' && traitsOf(node.config.materialized).keepsHistory && node.config.full_refresh === null) {
        options.onWarning?.(`--full-refresh keeps the history of ${node.name} (${node.config.materialized}: the source may no longer hold it); add --force to rebuild it`);
      }
    }
  }
  const target = p.project.config.target;
  const { engine, release } = await leaseEngine(target);
  let run: RunResult;
  let stateStore: OpenStateStore | undefined;
  try {
    const planned = plan.nodes.map((id) => p.manifest.nodes[id]).filter((n): n is ModelNode => n.resource_type === 'model');
    // External models are read through their views, which need their committed records; on local
    // storage every run keeps the views current (users query them).
    const externals = Object.values(p.manifest.nodes).filter((n): n is ModelNode => n.resource_type === 'model' && n.config.external);
    const touched = externals.length > 0 ? touchedBy(plan, p.manifest) : new Set<string>();
    const needsStorage = externals.some((n) => touched.has(n.unique_id));
    const keepsViews = externals.length > 0 && plan.nodes.length > 0 && target.storage !== undefined && !isRemoteAddress(target.storage);
    const storage = needsStorage || keepsViews ? await openStorage(p, options.backends) : undefined;
    if (planned.some(isStateful) || storage) stateStore = await openStateStore(p, engine, options.backends);
    const remoteSources = Object.values(p.manifest.nodes).some((n) => n.resource_type === 'source' && n.external_location !== undefined && isRemoteAddress(n.external_location));
    run = await executePlan({
      openScratch: () => openTargetDatabase({ ...target, databasePath: ':memory:', settings: {} }),
      stateStore,
      storage,
      fileReaders: remoteSources ? await openFileReaders(p, options.backends) : [],
      eventTimeStart: options.eventTimeStart,
      eventTimeEnd: options.eventTimeEnd,
      fullRefresh: options.fullRefresh,
      force: options.force,
      command,
      project: p.project,
      parsed: p.parsed,
      plan,
      engine,
      threads: options.threads ?? target.threads,
      failFast: options.failFast,
      signal: options.signal,
      env: options.env,
      invocationId,
      runStartedAt,
      onEvent: options.onEvent,
      onWarning: options.onWarning,
    });
  } finally {
    stateStore?.close();
    release();
  }
  writeRunResults(targetDir, run, { command, ...(options.args ?? {}) });
  return { run, warnings };
}

/** The nodes the plan builds or reads (directly or through ephemeral models). */
function touchedBy(plan: RunPlan, manifest: Manifest): Set<string> {
  return new Set([...plan.nodes, ...plan.nodes.flatMap((id) => nodesRead(manifest, id))]);
}

/** The target's `storage:` for external models: a local folder (relative to the project), or a backend's (S3). */
export async function openStorage(p: ParsedProject, backends: Backends | undefined): Promise<Storage> {
  const target = p.project.config.target;
  if (!target.storage) {
    throw new ProjectError(`target ${target.name} has no storage: external models need a folder for their Parquet files`, {
      code: 'config',
      location: { file: 'project.yml' },
      hint: 'e.g. storage: target/lake',
    });
  }
  if (!isRemoteAddress(target.storage)) return new LocalStorage(resolve(p.project.config.dir, target.storage), target.storage);
  if (!backends?.storage) {
    throw new ProjectError(`storage ${target.storage} of target ${target.name}: no storage backend for this address was given to the runtime`, {
      code: 'config',
      location: { file: 'project.yml' },
      hint: 'run it through the smelter CLI or the Lambda handler, which provide S3',
    });
  }
  return backends.storage(target.storage, target);
}

/** Readers of source files at remote addresses (S3): the backend's. */
async function openFileReaders(p: ParsedProject, backends: Backends | undefined): Promise<readonly FileReader[]> {
  if (!backends?.fileReaders) {
    throw new ProjectError('a source of this project is at a remote address (s3://...), and no reader for it was given to the runtime', {
      code: 'config',
      hint: 'run it through the smelter CLI or the Lambda handler, which read S3',
    });
  }
  return backends.fileReaders(p.project.config.target);
}

/** The target's state backend: `local` (a table in its database) or a backend's (`dynamodb`, SPEC §5). */
async function openStateStore(p: ParsedProject, engine: Engine, backends: Backends | undefined): Promise<OpenStateStore> {
  const target = p.project.config.target;
  if (target.state.backend === 'local') return LocalStateStore.open(engine);
  if (!backends?.stateStore) {
    throw new ProjectError(`state backend ${target.state.backend} of target ${target.name} was not given to the runtime`, {
      code: 'config',
      location: { file: 'project.yml' },
      hint: 'run it through the smelter CLI or the Lambda handler, which provide DynamoDB',
    });
  }
  return backends.stateStore(target);
}

/** `smelter state show`: the committed state of the selected models (all stateful models without --select). */
export async function showState(options: InvocationOptions): Promise<StateRecord[]> {
  const p = openProject(options);
  const keys = options.select?.length ? statefulKeys(selectFrom(p, options, ['model']).nodes) : undefined;
  return withStateStore(p, options, async (store) => {
    const all = await store.readAll();
    return keys === undefined ? all : all.filter((r) => keys.includes(r.table_name));
  });
}

/**
 * `smelter state reset --select ...`: forget the state of the selected models; their next run
 * rebuilds them. scd2 models are kept (their history may be more than the source holds) unless
 * `force`.
 */
export async function resetState(options: InvocationOptions): Promise<{ reset: string[]; kept: string[] }> {
  if (!options.select?.length) {
    throw new UsageError('state reset needs --select: it forgets the state of the models you name', { hint: 'e.g. smelter state reset --select fact_orders' });
  }
  const p = openProject(options);
  const nodes = selectFrom(p, options, ['model']).nodes.filter((n): n is ModelNode => n.resource_type === 'model' && isStateful(n));
  const kept = options.force ? [] : nodes.filter((n) => traitsOf(n.config.materialized).keepsHistory);
  const keys = nodes.filter((n) => !kept.includes(n)).map(stateKey);
  // Every selected model gets a reset record, also one without state: that allows the rebuild of
  // data whose record was lost (a run refuses data without state, SPEC §5).
  await withStateStore(p, options, (store) => store.reset(keys, randomUUID()));
  return { reset: [...keys].sort(), kept: kept.map(stateKey) };
}

/** The selected models with state (all of them without --select). */
function statefulModels(p: ParsedProject, options: InvocationOptions): ModelNode[] {
  const nodes = options.select?.length ? selectFrom(p, options, ['model']).nodes : Object.values(p.manifest.nodes);
  return nodes.filter((n): n is ModelNode => n.resource_type === 'model' && isStateful(n));
}

/**
 * `smelter state verify`: whether each selected stateful model's record and data agree (every
 * committed file present, of its size, ETag and checksum). Reads only.
 */
export async function verifyState(options: InvocationOptions): Promise<VerifiedModel[]> {
  const p = openProject(options);
  const models = statefulModels(p, options);
  return withMaintenance(p, options, models, (ctx) => verifyModels({ ...ctx, models }));
}

/** `smelter state adopt --select ...`: commit first state records over existing data (maintenance/adopt-state.ts). */
export async function adoptState(options: InvocationOptions, onAdopted: (adopted: AdoptedModel) => void): Promise<void> {
  if (!options.select?.length) {
    throw new UsageError('state adopt needs --select: it takes over the existing data of the models you name', { hint: 'e.g. smelter state adopt --select fact_orders' });
  }
  const p = openProject(options);
  const models = statefulModels(p, options);
  const plain = selectFrom(p, options, ['model']).nodes.filter((n) => n.resource_type === 'model' && !models.includes(n as ModelNode));
  if (plain.length > 0) {
    throw new UsageError(`state adopt takes over incremental, scd2 and external models; ${plain.map((n) => n.name).join(', ')} ${plain.length === 1 ? 'keeps' : 'keep'} no state`);
  }
  await withMaintenance(p, options, models, (ctx) => adoptModels({ ...ctx, models, runId: randomUUID() }, onAdopted));
}

/** The target's database, state store and (when a model is external) storage, for the state commands. */
async function withMaintenance<T>(
  p: ParsedProject,
  options: InvocationOptions,
  models: readonly ModelNode[],
  work: (ctx: { store: StateStore; storage: Storage | undefined; connection: EngineConnection }) => Promise<T>,
): Promise<T> {
  const engine = await openTargetDatabase(p.project.config.target);
  try {
    const storage = models.some((m) => m.config.external) ? await openStorage(p, options.backends) : undefined;
    const connection = await engine.connect();
    try {
      return await withStateStoreOn(p, engine, options, (store) => work({ store, storage, connection }));
    } finally {
      connection.close();
    }
  } finally {
    engine.close();
  }
}

function statefulKeys(nodes: readonly ManifestNode[]): string[] {
  return nodes.filter((n): n is ModelNode => n.resource_type === 'model' && isStateful(n)).map(stateKey);
}

async function withStateStore<T>(p: ParsedProject, options: InvocationOptions, work: (store: StateStore) => Promise<T>): Promise<T> {
  const engine = await openTargetDatabase(p.project.config.target);
  try {
    return await withStateStoreOn(p, engine, options, work);
  } finally {
    engine.close();
  }
}

/** `work` with the target's state store, on a database that is already open (a session's). */
export async function withStateStoreOn<T>(
  p: ParsedProject,
  engine: Engine,
  options: Pick<InvocationOptions, 'backends'>,
  work: (store: StateStore) => Promise<T>,
): Promise<T> {
  const store = await openStateStore(p, engine, options.backends);
  try {
    return await work(store);
  } finally {
    store.close();
  }
}
