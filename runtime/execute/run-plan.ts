import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { CompileError, ExecutionError, InterruptedError, SmelterError } from '../errors.js';
import type { Manifest, ModelNode, SeedNode } from '../manifest/types.js';
import type { LoadedProject } from '../project/load-project.js';
import type { Engine, EngineConnection } from '../engine/engine.js';
import type { RunPlan } from '../plan/plan.js';
import type { ParseResult } from '../parse/parse-project.js';
import { locateNodeError } from '../parse/parse-project.js';
import { renderModel, type RenderEnvironment } from '../render/render-model.js';
import { buildRenderScope } from '../render/context.js';
import { quoteIdentifier, renderRelation } from '../render/relation.js';
import { materializationFor, type PlannedStatement, type RelationKind } from '../materializations/index.js';
import { seedStatements } from '../materializations/seed.js';
import { schedule } from './scheduler.js';
import { BoundedWrites } from '../util/bounded-writes.js';
import type { NodeResult, RunEvent, RunResult } from './results.js';

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
    runError = await runHooks('on-run-start', project.config.onRunStart, setup, renv, emit, options.signal);

    const running: string[] = [];
    let finished = 0;
    const outcomes = await schedule<NodeResult>({
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
            ? skippedResult(manifest, id, outcome.skippedBecause)
            : outcome.status === 'success'
              ? outcome.value!
              : (outcome.error as { result?: NodeResult }).result ?? failedResult(manifest, id, outcome.error);
        results.push(result);
        finished++;
        emit({ type: 'node_finish', result, index: finished, total: plan.nodes.length, running: [...running] });
      },
      work: async (id, signal) => {
        const connection = await acquire();
        try {
          return await buildNode(manifest.nodes[id] as ModelNode | SeedNode, connection, renv, project, catalog, runFiles, signal);
        } finally {
          release(connection);
        }
      },
    });
    void outcomes;
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

async function buildNode(
  node: ModelNode | SeedNode,
  connection: EngineConnection,
  renv: RenderEnvironment,
  project: LoadedProject,
  catalog: Map<string, RelationKind>,
  runFiles: BoundedWrites,
  signal: AbortSignal,
): Promise<NodeResult> {
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
  const fail = (error: SmelterError, timing: NodeResult['timing'], statements?: string[]): never => {
    throw new NodeFailure({ ...base, status: 'error', seconds: (performance.now() - t0) / 1000, message: error.format(), error, timing, statements });
  };

  let statements: PlannedStatement[];
  try {
    if (node.resource_type === 'seed') {
      statements = seedStatements(node, project.config.dir, relation);
    } else {
      const sql = renderModel(node, renv);
      const strategy = materializationFor(node.config.materialized);
      if ('unavailable' in strategy) throw new CompileError(strategy.unavailable, { node: node.unique_id, location: { file: node.original_file_path } });
      const hookScope = () =>
        buildRenderScope({
          resolver: { ref: noHookRef, source: noHookRef, config: () => undefined, isIncremental: () => false, watermark: () => 'NULL' },
          varValues: project.varValues,
          env: renv.env,
          target: project.config.target,
          thisRelation: relation,
          runStartedAt: renv.runStartedAt,
          invocationId: renv.invocationId,
        });
      const renderHook = (h: string) => renv.templates().render(node.original_file_path, h, hookScope());
      statements = strategy.plan({
        node,
        sql,
        relation,
        existing: catalog.get(catalogKey(node.relation.schema, node.relation.identifier)),
        preHooks: node.config.pre_hook.map(renderHook),
        postHooks: node.config.post_hook.map(renderHook),
      });
    }
  } catch (error) {
    const located = locateNodeError(error, node.unique_id, node.original_file_path);
    if (located instanceof SmelterError) fail(located, [{ name: 'compile', started_at: compileStart.toISOString(), completed_at: new Date().toISOString() }]);
    throw located;
  }
  const compiled = new Date();
  await writeRunFile(project, node.original_file_path, statements, runFiles);
  const onAbort = () => connection.interrupt();
  signal.addEventListener('abort', onAbort, { once: true });
  let rows: number | undefined;
  try {
    if (signal.aborted) throw new InterruptedError();
    if (statements.length === 1) {
      // One statement is its own transaction; BEGIN/COMMIT around it would only cost round trips.
      rows = (await connection.run(statements[0].sql)).rowsAffected;
    } else {
      await connection.run('BEGIN TRANSACTION');
      try {
        for (const s of statements) {
          const r = await connection.run(s.sql);
          if (s.role === 'main') rows = r.rowsAffected;
        }
        if (signal.aborted) throw new InterruptedError();
        await connection.run('COMMIT');
      } catch (error) {
        await connection.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
  } catch (error) {
    const timing = [
      { name: 'compile' as const, started_at: compileStart.toISOString(), completed_at: compiled.toISOString() },
      { name: 'execute' as const, started_at: compiled.toISOString(), completed_at: new Date().toISOString() },
    ];
    const smelterError = signal.aborted
      ? new InterruptedError('interrupted', { node: node.unique_id })
      : error instanceof SmelterError
        ? error
        : new ExecutionError(databaseMessage(error), {
            node: node.unique_id,
            location: { file: node.original_file_path },
            hint: `the statements are in ${join(project.config.targetPath, 'run', node.original_file_path)}`,
          });
    fail(smelterError, timing, statements.map((s) => s.sql));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (node.resource_type === 'model') {
    catalog.set(catalogKey(node.relation.schema, node.relation.identifier), node.config.materialized === 'view' ? 'view' : 'table');
  }
  const done = new Date();
  return {
    ...base,
    status: 'success',
    rows: node.resource_type === 'model' && node.config.materialized === 'view' ? undefined : rows,
    seconds: (performance.now() - t0) / 1000,
    timing: [
      { name: 'compile', started_at: compileStart.toISOString(), completed_at: compiled.toISOString() },
      { name: 'execute', started_at: compiled.toISOString(), completed_at: done.toISOString() },
    ],
    statements: statements.map((s) => s.sql),
  };
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

async function writeRunFile(project: LoadedProject, originalPath: string, statements: readonly PlannedStatement[], files: BoundedWrites): Promise<void> {
  const file = originalPath.endsWith('.sql') ? originalPath : `${originalPath}.sql`;
  const path = join(project.config.dir, project.config.targetPath, 'run', file);
  const body = statements.map((s) => s.sql).map((sql) => terminate(sql)).join('\n');
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
  const node = manifest.nodes[id] as ModelNode | SeedNode;
  return {
    unique_id: id,
    name: node.name,
    resource_type: node.resource_type,
    kind: node.resource_type === 'seed' ? 'seed' : node.config.materialized,
    relation: `${node.relation.schema}.${node.relation.identifier}`,
    status: 'skipped',
    seconds: 0,
    message: because ? `skipped because ${manifest.nodes[because]?.name ?? because} failed` : 'skipped',
    timing: [],
  };
}

function failedResult(manifest: Manifest, id: string, error: unknown): NodeResult {
  const node = manifest.nodes[id] as ModelNode | SeedNode;
  const e = error instanceof SmelterError ? error : new ExecutionError(String((error as Error)?.message ?? error), { node: id });
  return { ...skippedResult(manifest, id), status: 'error', message: e.format(), error: e };
}
