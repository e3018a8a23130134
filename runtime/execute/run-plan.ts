import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AuditError, CompileError, ExecutionError, InterruptedError, SmelterError } from '../errors.js';
import type { Manifest, ModelNode, SeedNode, TestNode, UnitTestNode } from '../manifest/types.js';
import type { LoadedProject } from '../project/load-project.js';
import type { Engine, EngineConnection } from '../engine/engine.js';
import type { RunPlan } from '../plan/plan.js';
import type { ParseResult } from '../parse/parse-project.js';
import { locateNodeError } from '../parse/parse-project.js';
import { renderModel, type BatchWindow, type RenderEnvironment } from '../render/render-model.js';
import { buildRenderScope } from '../render/context.js';
import { quoteIdentifier, quoteLiteral, renderRelation } from '../render/relation.js';
import {
  materializationFor,
  type BuildOutcome,
  type MaterializationInput,
  type PlannedStatement,
  type RelationKind,
} from '../materializations/index.js';
import type { ProgramStrategy } from '../materializations/materialization.js';
import type { StateRecord } from '../state/state-record.js';
import type { Lease, StateStore } from '../state/state-store.js';
import { TemplateUserError } from '../template/strict-compiler.js';
import { crashPointFor, type CrashPoint } from './crash-points.js';
import { publishFileSet, readFileSetManifest, recoverExternal, stagingKey, writeFileSetManifest } from './publish.js';
import { batchesToRun, withBatch } from './batches.js';
import { selectBody } from '../materializations/materialization.js';
import { copyToParquet, readParquetFiles } from '../materializations/parquet-files.js';
import type { Storage } from '../storage/storage.js';
import { mkdirSync } from 'node:fs';
import { seedStatements } from '../materializations/seed.js';
import { schedule } from './scheduler.js';
import { BoundedWrites } from '../util/bounded-writes.js';
import type { NodeResult, RunEvent, RunResult } from './results.js';
import { runOneTest } from './run-tests.js';
import { runUnitTest } from './run-unit-test.js';

export interface ExecuteOptions {
  readonly project: LoadedProject;
  readonly parsed: ParseResult;
  readonly plan: RunPlan;
  readonly engine: Engine;
  readonly threads: number;
  readonly failFast?: boolean;
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  readonly invocationId?: string;
  readonly runStartedAt?: Date;
  readonly onEvent?: (event: RunEvent) => void;
  /** A scratch in-memory database for each unit test. */
  readonly openScratch?: () => Promise<Engine>;
  /** Where incremental models keep their state; required when the plan has any. */
  readonly stateStore?: StateStore;
  /** --full-refresh: rebuild incremental models from scratch (a model's full_refresh config wins). */
  readonly fullRefresh?: boolean;
  /** --force: --full-refresh also rebuilds scd2 models, whose history the source may not hold. */
  readonly force?: boolean;
  /** Where external models keep their files; required when the plan has any. */
  readonly storage?: Storage;
  /** --event-time-start/--event-time-end: a microbatch backfill range. */
  readonly eventTimeStart?: Date;
  readonly eventTimeEnd?: Date;
}

/**
 * Runs a plan: schemas, on-run-start, every node on a bounded pool of connections (each node in
 * one transaction), on-run-end. A failure skips the node's descendants; the rest go on.
 */
export async function executePlan(options: ExecuteOptions): Promise<RunResult> {
  const { project, parsed, plan, engine } = options;
  const manifest = parsed.manifest;
  const env = options.env ?? process.env;
  const invocationId = options.invocationId ?? randomUUID();
  const runStartedAt = options.runStartedAt ?? new Date();
  const emit = options.onEvent ?? (() => {});
  const started = performance.now();
  const renv: RenderEnvironment = {
    manifest,
    project,
    templates: parsed.templates,
    env,
    runStartedAt,
    invocationId,
  };
  const threads = Math.max(1, Math.min(options.threads, plan.nodes.length || 1));
  if (plan.nodes.length === 0) {
    // Nothing selected: no hooks either, as in dbt.
    const empty: RunResult = { invocation_id: invocationId, started_at: runStartedAt.toISOString(), elapsed_seconds: 0, results: [], interrupted: false };
    emit({ type: 'run_start', total: 0, threads });
    emit({ type: 'run_finish', result: empty });
    return empty;
  }
  const connections: EngineConnection[] = [];
  for (let i = 0; i < threads; i++) connections.push(await engine.connect());
  const free = [...connections];
  const waiters: Array<(c: EngineConnection) => void> = [];
  const acquire = () => new Promise<EngineConnection>((resolve) => (free.length > 0 ? resolve(free.pop()!) : waiters.push(resolve)));
  const release = (c: EngineConnection) => (waiters.length > 0 ? waiters.shift()!(c) : free.push(c));

  const results: NodeResult[] = [];
  // target/run/ files are written while DuckDB works, never holding up the next statement.
  const runFiles = new BoundedWrites(16);
  let runError: SmelterError | undefined;
  emit({ type: 'run_start', total: plan.nodes.length, threads });
  try {
    const setup = connections[0];
    for (const schema of plan.schemas) await setup.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    const catalog = await readCatalog(setup);
    const stateful = plan.nodes.map((id) => manifest.nodes[id]).filter((n): n is ModelNode => n.resource_type === 'model' && isStateful(n));
    if (options.storage && options.stateStore) {
      const externals = new Map(
        Object.values(manifest.nodes)
          .filter((n): n is ModelNode => n.resource_type === 'model' && n.config.external)
          .map((n) => [stateKey(n), n]),
      );
      await recoverExternal(options.storage, setup, await options.stateStore.readAll(), (key) => externals.get(key));
    }
    const scope: RunScope = {
      renv,
      project,
      catalog,
      runFiles,
      stateStore: options.stateStore,
      storage: options.storage,
      states: stateful.length > 0 && options.stateStore ? await options.stateStore.read(stateful.map(stateKey)) : new Map(),
      fullRefresh: options.fullRefresh ?? false,
      force: options.force ?? false,
      eventTimeStart: options.eventTimeStart,
      eventTimeEnd: options.eventTimeEnd,
      crash: crashPointFor(env),
      audits: auditsOf(manifest, plan),
      audited: new Map(),
    };
    runError = await runHooks('on-run-start', project.config.onRunStart, setup, renv, emit, options.signal);

    const running: string[] = [];
    let finished = 0;
    await schedule<NodeResult>({
      nodes: runError ? [] : plan.nodes,
      parents: new Map(Object.entries(plan.parents)),
      concurrency: threads,
      failFast: options.failFast,
      signal: options.signal,
      onStart: (id) => {
        running.push(id);
        emit({ type: 'node_start', unique_id: id, running: [...running] });
      },
      onFinish: (id, outcome) => {
        const at = running.indexOf(id);
        if (at >= 0) running.splice(at, 1);
        const result =
          outcome.status === 'skipped'
            ? (scope.audited.get(id) ?? skippedResult(manifest, id, outcome.skippedBecause))
            : outcome.status === 'success'
              ? outcome.value!
              : (outcome.error as { result?: NodeResult }).result ?? failedResult(manifest, id, outcome.error);
        results.push(result);
        finished++;
        emit({ type: 'node_finish', result, index: finished, total: plan.nodes.length, running: [...running] });
      },
      work: async (id, signal) => {
        const node = manifest.nodes[id];
        if (node.resource_type === 'test') {
          const audited = scope.audited.get(id);
          if (audited) return audited;
        }
        const connection = await acquire();
        try {
          if (node.resource_type === 'unit_test') {
            if (!options.openScratch) throw new Error('unit tests need a scratch database');
            const result = await runUnitTest(node, connection, options.openScratch, renv, signal);
            // A failed unit test stops its model, as dbt's build does.
            if (result.status === 'fail' || result.status === 'error') throw new NodeFailure(result);
            return result;
          }
          if (node.resource_type !== 'test') return await buildNode(node as ModelNode | SeedNode, connection, scope, signal);
          const result = await runOneTest(node, connection, renv, signal);
          // A failed test stops what reads its model, as a failed model would.
          if (result.status === 'fail' || result.status === 'error') throw new NodeFailure(result);
          return result;
        } finally {
          release(connection);
        }
      },
    });
    if (runError) {
      for (const [i, id] of plan.nodes.entries()) {
        const skipped = { ...skippedResult(manifest, id), message: 'skipped because on-run-start failed' };
        results.push(skipped);
        emit({ type: 'node_finish', result: skipped, index: i + 1, total: plan.nodes.length, running: [] });
      }
    }
    await runFiles.done();
    if (!runError && !options.signal?.aborted) {
      runError = await runHooks('on-run-end', project.config.onRunEnd, setup, renv, emit, options.signal);
    }
  } finally {
    for (const c of connections) c.close();
  }
  const result: RunResult = {
    invocation_id: invocationId,
    started_at: runStartedAt.toISOString(),
    elapsed_seconds: (performance.now() - started) / 1000,
    results,
    interrupted: options.signal?.aborted ?? false,
    error: runError,
  };
  emit({ type: 'run_finish', result });
  return result;
}

class NodeFailure extends Error {
  constructor(readonly result: NodeResult) {
    super(result.message);
  }
}

/** What every node of one run shares. */
interface RunScope {
  readonly renv: RenderEnvironment;
  readonly project: LoadedProject;
  /** Relations that exist, kept current as the run builds. */
  readonly catalog: Map<string, RelationKind>;
  readonly runFiles: BoundedWrites;
  readonly stateStore: StateStore | undefined;
  readonly storage: Storage | undefined;
  /** Committed state of the planned stateful models, read once when the run starts. */
  readonly states: ReadonlyMap<string, StateRecord>;
  readonly fullRefresh: boolean;
  readonly force: boolean;
  readonly eventTimeStart?: Date;
  readonly eventTimeEnd?: Date;
  readonly crash: (point: CrashPoint, model: string) => void;
  /** `build`: the tests run on a model's new contents before it is published (its audit), by model. */
  readonly audits: ReadonlyMap<string, readonly TestNode[]>;
  /** Results of audited tests, reported when their turn comes in the plan. */
  readonly audited: Map<string, NodeResult>;
}

/** Models with a state record: incremental, scd2 and external ones (SPEC §5). */
export function isStateful(node: ModelNode): boolean {
  return node.config.materialized === 'incremental' || node.config.materialized === 'scd2' || node.config.external;
}

/** `schema.name`: the key of a model's state record (SPEC §5). */
export function stateKey(node: ModelNode): string {
  return `${node.relation.schema}.${node.name}`;
}

/** Whether this run processes only new data for `node` (what is_incremental() answers). */
function isIncrementalRun(node: ModelNode, scope: RunScope): boolean {
  if (node.config.materialized !== 'incremental' && node.config.materialized !== 'scd2') return false;
  const fullRefresh = fullRefreshes(node, scope);
  // The relation must still be there: an external model's is the view over its files.
  const expected = node.config.external ? 'view' : 'table';
  return !fullRefresh && scope.states.has(stateKey(node)) && scope.catalog.get(catalogKey(node.relation.schema, node.relation.identifier)) === expected;
}

/**
 * Whether this run rebuilds the model from scratch: its full_refresh config, else --full-refresh.
 * An scd2 model's history cannot be rebuilt from a source that lacks it (SPEC §4): the flag
 * rebuilds one only with --force.
 */
function fullRefreshes(node: ModelNode, scope: Pick<RunScope, 'fullRefresh' | 'force'>): boolean {
  if (node.config.full_refresh !== null) return node.config.full_refresh;
  return scope.fullRefresh && (node.config.materialized !== 'scd2' || scope.force);
}

async function buildNode(node: ModelNode | SeedNode, connection: EngineConnection, scope: RunScope, signal: AbortSignal): Promise<NodeResult> {
  const { renv, project, catalog } = scope;
  const compileStart = new Date();
  const t0 = performance.now();
  const relation = renderRelation(node.relation);
  const base = {
    unique_id: node.unique_id,
    name: node.name,
    resource_type: node.resource_type,
    kind: node.resource_type === 'seed' ? 'seed' : node.config.materialized,
    relation: `${node.relation.schema}.${node.relation.identifier}`,
  };
  const executed: string[] = [];
  const timing = (compiled?: Date): NodeResult['timing'] =>
    compiled === undefined
      ? [{ name: 'compile', started_at: compileStart.toISOString(), completed_at: new Date().toISOString() }]
      : [
          { name: 'compile', started_at: compileStart.toISOString(), completed_at: compiled.toISOString() },
          { name: 'execute', started_at: compiled.toISOString(), completed_at: new Date().toISOString() },
        ];
  const fail = (error: SmelterError, compiled?: Date): never => {
    throw new NodeFailure({ ...base, status: 'error', seconds: (performance.now() - t0) / 1000, message: error.format(), error, timing: timing(compiled), statements: executed });
  };

  if (node.resource_type === 'model' && node.config.materialized === 'incremental' && node.config.incremental_strategy === 'microbatch') {
    try {
      return await buildMicrobatch(node, connection, scope, signal, executed, (rows) => ({
        ...base,
        status: 'success',
        rows,
        seconds: (performance.now() - t0) / 1000,
        timing: timing(new Date()),
        statements: executed,
      }));
    } catch (error) {
      await writeRunFile(project, node.original_file_path, executed, scope.runFiles);
      const located = locateNodeError(error, node.unique_id, node.original_file_path);
      const smelterError = signal.aborted
        ? new InterruptedError('interrupted', { node: node.unique_id })
        : located instanceof SmelterError
          ? located
          : new ExecutionError(databaseMessage(error), { node: node.unique_id, location: { file: node.original_file_path } });
      fail(smelterError, new Date());
    }
  }

  // Compile: render the model and its hooks, and plan its statements (or its build program).
  type Work = { kind: 'statements'; statements: PlannedStatement[] } | { kind: 'program'; strategy: ProgramStrategy; input: MaterializationInput };
  let work: Work;
  const incremental = node.resource_type === 'model' && isIncrementalRun(node, scope);
  const state = node.resource_type === 'model' ? scope.states.get(stateKey(node)) : undefined;
  try {
    if (node.resource_type === 'seed') {
      work = { kind: 'statements', statements: seedStatements(node, project.config.dir, relation) };
    } else {
      const chosen = materializationFor(node.config.materialized, node.config.external);
      if ('unavailable' in chosen) throw new CompileError(chosen.unavailable, { node: node.unique_id, location: { file: node.original_file_path } });
      const sql = renderModel(node, { ...renv, isIncremental: () => incremental, watermark: () => watermarkLiteral(node, incremental, state) });
      const renderHook = (h: string) => renv.templates().render(node.original_file_path, h, hookScope(renv, relation));
      const input: MaterializationInput = {
        node,
        sql,
        relation,
        existing: catalog.get(catalogKey(node.relation.schema, node.relation.identifier)),
        preHooks: node.config.pre_hook.map(renderHook),
        postHooks: node.config.post_hook.map(renderHook),
      };
      work = chosen.kind === 'statements' ? { kind: 'statements', statements: chosen.plan(input) } : { kind: 'program', strategy: chosen, input };
    }
  } catch (error) {
    const located = locateNodeError(error, node.unique_id, node.original_file_path);
    if (located instanceof SmelterError) fail(located);
    throw located;
  }
  const compiled = new Date();

  // Execute, in one transaction with the node's state.
  const onAbort = () => connection.interrupt();
  signal.addEventListener('abort', onAbort, { once: true });
  let rows: number | undefined;
  const run = async (sql: string) => {
    executed.push(sql);
    return connection.run(sql);
  };
  try {
    if (signal.aborted) throw new InterruptedError();
    const audit = auditFor(node, connection, scope, signal);
    if (work.kind === 'statements') {
      const { statements } = work;
      if (statements.length === 1 && !audit) {
        // One statement is its own transaction; BEGIN/COMMIT around it would only cost round trips.
        rows = (await run(statements[0].sql)).rowsAffected;
      } else {
        rows = await inTransaction(connection, signal, async () => {
          let main: number | undefined;
          for (const st of statements) {
            const r = await run(st.sql);
            if (st.role === 'main') main = r.rowsAffected;
          }
          // Inside the transaction the tests see the new table; nobody else does until COMMIT.
          await audit?.();
          return main;
        });
      }
    } else {
      const model = node as ModelNode;
      const { stateStore, storage } = scope;
      if (!stateStore) throw new CompileError('incremental and external models need a state store', { node: node.unique_id });
      if (model.config.external && !storage) {
        throw new CompileError(`external model ${model.name} needs storage: set storage: in target ${project.config.target.name}`, {
          node: node.unique_id,
          location: { file: 'project.yml' },
        });
      }
      const key = stateKey(model);
      const staging = storage && model.config.external ? stagingKey(renv.invocationId, key) : undefined;
      scope.crash('after-read', node.name);
      const lease = await stateStore.lease(key, renv.invocationId);
      let pointer: string | null = null;
      try {
        const previous = staging === undefined ? undefined : await readFileSetManifest(storage!, state?.manifest_pointer ?? null);
        const committedFiles = (previous?.files ?? []).map((file) => ({ file, localPath: storage!.localPath(`${previous!.location}/${file}`) }));
        const outcome = await inTransaction(connection, signal, async () => {
          const result = await work.strategy.build({
            ...work.input,
            state,
            incremental,
            runStartedAt: renv.runStartedAt,
            run,
            query: (sql) => connection.query(sql),
            crashPoint: (point) => scope.crash(point, node.name),
            staging:
              staging === undefined
                ? undefined
                : { localDir: storage!.localPath(staging), prepare: () => mkdirSync(storage!.localPath(staging), { recursive: true }), committed: committedFiles },
          });
          // Audit what this commit would publish; a run that commits nothing has nothing to audit.
          if (audit && (result.rows > 0 || !incremental)) {
            if (staging === undefined) {
              await audit();
            } else {
              // External models: the model reads as the files this commit would publish.
              const kept = result.fileSet === 'add' ? committedFiles.filter((f) => !(result.superseded ?? []).includes(f.file)).map((f) => f.localPath) : [];
              const stagedFiles = (await storage!.list(staging)).filter((f) => f.endsWith('.parquet')).map((f) => storage!.localPath(`${staging}/${f}`));
              const files = [...kept, ...stagedFiles];
              if (files.length > 0) await audit(readParquetFiles(model, files));
            }
          }
          // A run with no new data writes nothing, its state included.
          if (result.rows > 0 || !incremental) {
            const version = (state?.version ?? 0) + 1;
            if (staging !== undefined) {
              const superseded = new Set(result.superseded ?? []);
              const kept = result.fileSet === 'add' ? (previous?.files ?? []).filter((f) => !superseded.has(f)) : [];
              pointer = (await writeFileSetManifest(storage!, model, key, renv.invocationId, version, kept)).pointer;
            }
            scope.crash('before-state-commit', node.name);
            await stateStore.commit(connection, nextState(model, result, state, renv.invocationId, pointer), state?.version);
          }
          return result;
        }).finally(() => releaseLease(lease));
        scope.crash('after-commit', node.name);
        if (pointer !== null) await publishFileSet(storage!, connection, model, pointer, (point) => scope.crash(point, node.name));
        rows = outcome.rows;
      } finally {
        // What a build staged and did not commit (no new rows, or a failure) is nobody's: remove it
        // now rather than at the next run's recovery.
        if (pointer === null && staging !== undefined) await storage!.remove(staging).catch(() => undefined);
      }
    }
  } catch (error) {
    const smelterError = signal.aborted
      ? new InterruptedError('interrupted', { node: node.unique_id })
      : error instanceof SmelterError
        ? error
        : new ExecutionError(databaseMessage(error), {
            node: node.unique_id,
            location: { file: node.original_file_path },
            hint: `the statements are in ${join(project.config.targetPath, 'run', runFileName(node.original_file_path))}`,
          });
    await writeRunFile(project, node.original_file_path, executed, scope.runFiles);
    fail(smelterError, compiled);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  await writeRunFile(project, node.original_file_path, executed, scope.runFiles);
  if (node.resource_type === 'model') {
    const kind = node.config.materialized === 'view' || node.config.external ? 'view' : 'table';
    catalog.set(catalogKey(node.relation.schema, node.relation.identifier), kind);
  }
  return {
    ...base,
    status: 'success',
    rows: node.resource_type === 'model' && node.config.materialized === 'view' ? undefined : rows,
    seconds: (performance.now() - t0) / 1000,
    timing: timing(compiled),
    statements: executed,
  };
}

/**
 * A microbatch model: each batch of event time is rendered with its inputs filtered to the batch,
 * replaces that window's rows (delete+insert), and commits with the state record that lists it as
 * done — so a killed run loses at most the batch it was in, and the next run fills the gap.
 */
async function buildMicrobatch(
  node: ModelNode,
  connection: EngineConnection,
  scope: RunScope,
  signal: AbortSignal,
  executed: string[],
  succeed: (rows: number) => NodeResult,
): Promise<NodeResult> {
  const { renv, project, catalog, stateStore } = scope;
  const cfg = node.config;
  const at = { node: node.unique_id, location: { file: node.original_file_path } };
  const missing = (['event_time', 'batch_size', 'begin'] as const).filter((k) => !cfg[k]);
  if (missing.length > 0) throw new CompileError(`incremental_strategy microbatch needs ${missing.join(', ')}`, at);
  if (!stateStore) throw new CompileError('microbatch models need a state store', at);
  if (cfg.external && !scope.storage) throw new CompileError(`external model ${node.name} needs storage: set storage: in target ${project.config.target.name}`, at);
  const begin = new Date(cfg.begin!);
  if (Number.isNaN(begin.getTime())) throw new CompileError(`begin '${cfg.begin}' is not a date or timestamp`, at);
  const key = stateKey(node);
  const relation = renderRelation(node.relation);
  const fullRefresh = fullRefreshes(node, scope);
  let exists = catalog.get(catalogKey(node.relation.schema, node.relation.identifier)) === (cfg.external ? 'view' : 'table');
  let state = scope.states.get(key);
  const windows = batchesToRun({
    begin,
    now: renv.runStartedAt,
    size: cfg.batch_size!,
    lookback: cfg.lookback ?? 1,
    done: !fullRefresh && exists ? (state?.batches ?? []) : [],
    start: scope.eventTimeStart,
    end: scope.eventTimeEnd,
  });
  const run = async (sql: string) => {
    executed.push(sql);
    return connection.run(sql);
  };
  const col = quoteIdentifier(cfg.event_time!);
  let total = 0;
  let rebuild = fullRefresh && exists;
  scope.crash('after-read', node.name);
  const inWindow = (window: BatchWindow) =>
    `${col} >= CAST(${quoteLiteral(window.start)} AS TIMESTAMP) AND ${col} < CAST(${quoteLiteral(window.end)} AS TIMESTAMP)`;
  for (const [i, window] of windows.entries()) {
    const sql = renderModel(node, { ...renv, batch: window, isIncremental: () => exists && !rebuild });
    const lease = await stateStore.lease(`${key}@${window.start}`, renv.invocationId);
    let pointer: string | null = null;
    const next = await inTransaction(connection, signal, async () => {
      let rows: number;
      let rowsTotal: number;
      if (cfg.external) {
        // Only the committed files holding rows of this window are rewritten: their other rows and
        // the batch's rows become new files; every other file stays.
        const storage = scope.storage!;
        const previous = rebuild ? undefined : await readFileSetManifest(storage, state?.manifest_pointer ?? null);
        const committed = (previous?.files ?? []).map((file) => ({ file, path: storage.localPath(`${previous!.location}/${file}`) }));
        const countIn = async (paths: string[], where: string) =>
          paths.length === 0 ? 0 : Number((await connection.query(`SELECT count(*) AS n FROM ${readParquetFiles(node, paths)} WHERE ${where}`))[0].n);
        const affected =
          committed.length === 0
            ? []
            : (
                await connection.query(
                  `SELECT DISTINCT filename AS file FROM ${readParquetFiles(node, committed.map((c) => c.path), ', filename = true')} WHERE ${inWindow(window)}`,
                )
              ).map((r) => String(r.file));
        const rewritten = committed.filter((c) => affected.includes(c.path));
        const rewrittenPaths = rewritten.map((c) => c.path);
        const survivors =
          rewritten.length === 0 ? '' : `SELECT * FROM ${readParquetFiles(node, rewrittenPaths)} WHERE NOT (${inWindow(window)})\nUNION ALL BY NAME\n`;
        const stagingDir = storage.localPath(stagingKey(`${renv.invocationId}-${i}`, key));
        mkdirSync(stagingDir, { recursive: true });
        const written = await copyToParquet(run, node, stagingDir, `${survivors}SELECT * FROM (\n${selectBody(sql)})`);
        rows = written - (await countIn(rewrittenPaths, `NOT (${inWindow(window)})`));
        rowsTotal = (previous ? (state?.rows_total ?? 0) : 0) - (await countIn(rewrittenPaths, inWindow(window))) + rows;
        const stays = (previous?.files ?? []).filter((f) => !rewritten.some((c) => c.file === f));
        pointer = (await writeFileSetManifest(storage, node, key, `${renv.invocationId}-${i}`, (state?.version ?? 0) + 1, stays)).pointer;
      } else {
        if (rebuild) await run(`DROP TABLE ${relation}`);
        if (!exists || rebuild) {
          rows = (await run(`CREATE TABLE ${relation} AS\n${selectBody(sql)}`)).rowsAffected;
        } else {
          await run(`DELETE FROM ${relation} WHERE ${inWindow(window)}`);
          rows = (await run(`INSERT INTO ${relation} BY NAME SELECT * FROM (\n${selectBody(sql)})`)).rowsAffected;
        }
        rowsTotal = Number((await connection.query(`SELECT count(*) AS n FROM ${relation}`))[0].n);
      }
      scope.crash('mid-write', node.name);
      const record: StateRecord = {
        ...nextState(node, { rows, rowsTotal, watermark: null }, rebuild ? undefined : state, renv.invocationId, pointer),
        version: (state?.version ?? 0) + 1,
        batches: withBatch(rebuild ? [] : (state?.batches ?? []), window),
      };
      scope.crash('before-state-commit', node.name);
      await stateStore.commit(connection, record, state?.version);
      return record;
    }).finally(() => releaseLease(lease));
    scope.crash('after-commit', node.name);
    if (pointer !== null) await publishFileSet(scope.storage!, connection, node, pointer, (point) => scope.crash(point, node.name));
    state = next;
    exists = true;
    rebuild = false;
    total += next.rows_processed;
  }
  await writeRunFile(project, node.original_file_path, executed, scope.runFiles);
  catalog.set(catalogKey(node.relation.schema, node.relation.identifier), cfg.external ? 'view' : 'table');
  return succeed(total);
}

/** BEGIN; work; COMMIT — or ROLLBACK on any failure (DuckDB would otherwise commit a half after a binder error). */
/**
 * `build`'s audit: the tests that read only this model, when it is a table, incremental or scd2
 * model (not ones that store failures: that table would be rolled back with the model). They run
 * on the model's connection before its commit, reading the new contents.
 */
function auditsOf(manifest: Manifest, plan: RunPlan): Map<string, TestNode[]> {
  const audits = new Map<string, TestNode[]>();
  for (const id of plan.nodes) {
    const test = manifest.nodes[id];
    if (test.resource_type !== 'test' || test.config.store_failures || test.depends_on.nodes.length !== 1) continue;
    const model = manifest.nodes[test.depends_on.nodes[0]];
    if (model?.resource_type !== 'model' || !plan.nodes.includes(model.unique_id)) continue;
    if (!['table', 'incremental', 'scd2'].includes(model.config.materialized) || model.config.incremental_strategy === 'microbatch') continue;
    audits.set(model.unique_id, [...(audits.get(model.unique_id) ?? []), test]);
  }
  return audits;
}

/** Runs a model's audit; throws (so the model rolls back) when an error-severity test fails. */
function auditFor(node: ModelNode | SeedNode, connection: EngineConnection, scope: RunScope, signal: AbortSignal): ((stagedRelation?: string) => Promise<void>) | undefined {
  const tests = scope.audits.get(node.unique_id);
  if (!tests || node.resource_type !== 'model') return undefined;
  return async (stagedRelation) => {
    const renv: RenderEnvironment = {
      ...scope.renv,
      relationOf: (n) => (n.unique_id === node.unique_id && stagedRelation ? stagedRelation : (scope.renv.relationOf?.(n) ?? renderRelation(n.relation))),
    };
    const failed: NodeResult[] = [];
    for (const test of tests) {
      const result = await runOneTest(test, connection, renv, signal);
      scope.audited.set(test.unique_id, result);
      if (result.status === 'fail' || result.status === 'error') failed.push(result);
    }
    if (failed.length > 0) {
      throw new AuditError(`${node.name} was not published: its ${failed.length === 1 ? 'test' : 'tests'} ${failed.map((f) => f.name).join(', ')} failed`, {
        node: node.unique_id,
        location: { file: node.original_file_path },
      });
    }
  };
}

/** A lease that cannot be released (a network fault) expires by itself; the model's outcome stands. */
async function releaseLease(lease: Lease): Promise<void> {
  await lease.release().catch(() => undefined);
}

async function inTransaction<T>(connection: EngineConnection, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  await connection.run('BEGIN TRANSACTION');
  try {
    const result = await work();
    if (signal.aborted) throw new InterruptedError();
    await connection.run('COMMIT');
    return result;
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** watermark(): the committed watermark as a literal of its column's type. */
function watermarkLiteral(node: ModelNode, incremental: boolean, state: StateRecord | undefined): string {
  if (!node.config.watermark) {
    throw new TemplateUserError(`watermark() needs the model to set config watermark (a column)`, `e.g. {{ config(watermark='doc_id') }}`);
  }
  if (!incremental || !state) throw new TemplateUserError('watermark() is only available where is_incremental() is true');
  if (state.last_processed_value === null || state.watermark_data_type === null) return 'NULL';
  return `CAST(${quoteLiteral(state.last_processed_value)} AS ${state.watermark_data_type})`;
}

function nextState(node: ModelNode, outcome: BuildOutcome, previous: StateRecord | undefined, runId: string, manifestPointer: string | null): StateRecord {
  return {
    table_name: stateKey(node),
    watermark_type: node.config.watermark ? `max_${node.config.watermark}` : null,
    watermark_data_type: outcome.watermark?.type ?? null,
    last_processed_value: outcome.watermark?.value ?? null,
    last_processed_timestamp: new Date().toISOString(),
    rows_processed: outcome.rows,
    rows_total: outcome.rowsTotal,
    version: (previous?.version ?? 0) + 1,
    run_id: runId,
    manifest_pointer: manifestPointer,
    batches: previous?.batches ?? null,
  };
}

function hookScope(renv: RenderEnvironment, relation: string) {
  return buildRenderScope({
    resolver: { ref: noHookRef, source: noHookRef, config: () => undefined, isIncremental: () => false, watermark: () => 'NULL' },
    varValues: renv.project.varValues,
    env: renv.env,
    target: renv.project.config.target,
    thisRelation: relation,
    runStartedAt: renv.runStartedAt,
    invocationId: renv.invocationId,
  });
}

function noHookRef(): never {
  throw new Error('hooks cannot call ref() or source(); write the relation name');
}

/** DuckDB names are case-insensitive. */
const catalogKey = (schema: string, name: string) => `${schema}\u0000${name}`.toLowerCase();

/**
 * The relations that exist when the run starts, read once (a query per model would cost more than
 * building a view); the run keeps it current as it builds.
 */
async function readCatalog(connection: EngineConnection): Promise<Map<string, RelationKind>> {
  const rows = await connection.query(
    `SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_catalog = current_database()`,
  );
  return new Map(rows.map((r) => [catalogKey(String(r.table_schema), String(r.table_name)), r.table_type === 'VIEW' ? 'view' : 'table']));
}

async function runHooks(
  which: 'on-run-start' | 'on-run-end',
  hooks: readonly string[],
  connection: EngineConnection,
  renv: RenderEnvironment,
  emit: (e: RunEvent) => void,
  signal?: AbortSignal,
): Promise<SmelterError | undefined> {
  for (const [i, hook] of hooks.entries()) {
    if (signal?.aborted) return new InterruptedError();
    const t0 = performance.now();
    const name = `${which}.${i + 1}`;
    try {
      const sql = renv.templates().render(`project.yml (${which})`, hook, buildRenderScope({
        resolver: { ref: noHookRef, source: noHookRef, config: () => undefined, isIncremental: () => false, watermark: () => 'NULL' },
        varValues: renv.project.varValues,
        env: renv.env,
        target: renv.project.config.target,
        runStartedAt: renv.runStartedAt,
        invocationId: renv.invocationId,
      }));
      await connection.run(sql);
      emit({ type: 'hook_finish', hook: name, status: 'success', seconds: (performance.now() - t0) / 1000 });
    } catch (error) {
      const located = locateNodeError(error, name, 'project.yml');
      const e = located instanceof SmelterError ? located : new ExecutionError(`${name} failed: ${databaseMessage(error)}`, { location: { file: 'project.yml' } });
      emit({ type: 'hook_finish', hook: name, status: 'error', seconds: (performance.now() - t0) / 1000, message: e.format() });
      return e;
    }
  }
  return undefined;
}

/** target/run/<path>: what a node executed, to read or replay; seeds' files end in .sql too. */
function runFileName(originalPath: string): string {
  return originalPath.endsWith('.sql') ? originalPath : `${originalPath}.sql`;
}

async function writeRunFile(project: LoadedProject, originalPath: string, statements: readonly string[], files: BoundedWrites): Promise<void> {
  const path = join(project.config.dir, project.config.targetPath, 'run', runFileName(originalPath));
  const body = statements.map(terminate).join('\n');
  await files.add(path, statements.length > 1 ? `BEGIN TRANSACTION;\n\n${body}\nCOMMIT;\n` : body);
}

/** A statement with its `;`, on a line of its own when the SQL ends in a line comment. */
function terminate(sql: string): string {
  const trimmed = sql.trimEnd();
  const lastLine = trimmed.slice(trimmed.lastIndexOf('\n') + 1);
  return lastLine.includes('--') ? `${trimmed}\n;\n` : `${trimmed};\n`;
}

/** DuckDB's message without the caret diagram, which points into SQL the user did not write. */
export function databaseMessage(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  return message
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^LINE \d+:/.test(l) && !/^\s*\^\s*$/.test(l))
    .slice(0, 3)
    .join(' ');
}

function skippedResult(manifest: Manifest, id: string, because?: string): NodeResult {
  const node = manifest.nodes[id] as ModelNode | SeedNode | TestNode | UnitTestNode;
  return {
    unique_id: id,
    name: node.name,
    resource_type: node.resource_type,
    kind: node.resource_type === 'model' ? node.config.materialized : node.resource_type,
    relation: node.resource_type === 'test' || node.resource_type === 'unit_test' ? node.name : `${node.relation.schema}.${node.relation.identifier}`,
    status: 'skipped',
    seconds: 0,
    message: because ? `skipped because ${manifest.nodes[because]?.name ?? because} failed` : 'skipped',
    timing: [],
  };
}

function failedResult(manifest: Manifest, id: string, error: unknown): NodeResult {
  const e = error instanceof SmelterError ? error : new ExecutionError(String((error as Error)?.message ?? error), { node: id });
  return { ...skippedResult(manifest, id), status: 'error', message: e.format(), error: e };
}
