import { randomUUID } from 'node:crypto';
import { ExecutionError, type SmelterError } from '../errors.js';
import type { Manifest, ModelNode, SeedNode } from '../manifest/types.js';
import type { LoadedProject } from '../project/load-project.js';
import type { Engine, EngineConnection } from '../engine/engine.js';
import type { RunPlan } from '../plan/plan.js';
import type { ParseResult } from '../parse/parse-project.js';
import { renderSource, type RenderEnvironment } from '../render/render-model.js';
import { quoteIdentifier } from '../render/relation.js';
import type { RenderCommand } from '../render/project-context.js';
import { isStateful, stateKey, traitsOf } from '../materializations/traits.js';
import type { StateStore } from '../state/state-store.js';
import { isCommitted, type StateRecord } from '../state/state-record.js';
import type { LocalFiles, Storage } from '../storage/storage.js';
import type { FileReader } from '../storage/file-reader.js';
import { RemoteSources } from './remote-sources.js';
import { LocalFileReader } from '../storage/local-file-reader.js';
import { BoundedWrites } from '../util/bounded-writes.js';
import { auditsOf } from './audit.js';
import { buildNode } from './build-node.js';
import { catalogKey, readCatalog, type Catalog } from './catalog.js';
import { nodesRead } from '../graph/reads.js';
import { crashPointFor } from './crash-points.js';
import { ensureViews } from './external-views.js';
import { reportingFirstError } from './first-error.js';
import { onRunEndValues, runHooks } from './hooks.js';
import { NodeFailure, failedResult, skippedResult } from './node-results.js';
import type { NodeResult, RunEvent, RunResult } from './results.js';
import type { RunScope } from './run-scope.js';
import { runOneTest } from './run-tests.js';
import { runUnitTest } from './run-unit-test.js';
import { schedule } from './scheduler.js';

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
  /** Readers of sources at remote addresses (S3). */
  readonly fileReaders?: readonly FileReader[];
  /** Warnings that fail nothing (a processed source file that disappeared). */
  readonly onWarning?: (message: string) => void;
  /** The command running the plan (`flags.WHICH` in templates). */
  readonly command?: RenderCommand;
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
  const held: LocalFiles[] = [];
  const remoteSources = options.fileReaders?.length ? new RemoteSources(manifest, options.fileReaders, held) : undefined;
  const renv: RenderEnvironment = {
    manifest,
    project,
    templates: parsed.templates,
    env,
    runStartedAt,
    invocationId,
    sourceRelationOf: (node) => remoteSources?.relationOf(node) ?? renderSource(node, project.config.dir),
    flags: { which: options.command ?? 'run', fullRefresh: options.fullRefresh ?? false },
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
  for (let i = 0; i < threads; i++) connections.push(reportingFirstError(await engine.connect()));
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
    const stateful = plan.nodes.map((id) => manifest.nodes[id]).filter((n): n is ModelNode => n.resource_type === 'model' && isStateful(n));
    const viewed = options.storage && options.stateStore ? externalModelsRead(manifest, plan, options.storage) : [];
    // The schemas of what the run builds, and of the external models whose views it reads: a run of
    // tests alone (a Task after a backfill's batches) on an in-memory database has no other way to them.
    for (const schema of new Set([...plan.schemas, ...viewed.map((n) => n.relation.schema)])) await setup.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    const keys = [...new Set([...stateful, ...viewed].map(stateKey))];
    const records: ReadonlyMap<string, StateRecord> = keys.length > 0 && options.stateStore ? await options.stateStore.read(keys) : new Map();
    const states = new Map([...records].filter(([, record]) => isCommitted(record)));
    if (viewed.length > 0) {
      const models = viewed.flatMap((node) => (states.has(stateKey(node)) ? [{ node, record: states.get(stateKey(node))! }] : []));
      held.push(...(await ensureViews(options.storage!, options.stateStore!, invocationId, setup, models, options.signal)));
    }
    const catalog = await readCatalog(setup);
    const scope: RunScope = {
      renv,
      project,
      catalog,
      runFiles,
      stateStore: options.stateStore,
      storage: options.storage,
      states,
      records,
      fullRefresh: options.fullRefresh ?? false,
      force: options.force ?? false,
      eventTimeStart: options.eventTimeStart,
      eventTimeEnd: options.eventTimeEnd,
      crash: crashPointFor(env),
      audits: auditsOf(manifest, plan),
      audited: new Map(),
      held,
      fileReaders: [...(options.fileReaders ?? []), new LocalFileReader()],
      warn: options.onWarning ?? (() => {}),
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
        if (node.resource_type !== 'unit_test') {
          const unbuilt = unbuiltInputs(manifest, id, catalog);
          if (unbuilt) throw unbuilt;
        }
        // Downloads happen before the node takes a connection, so they overlap other nodes' work.
        if (node.resource_type !== 'unit_test') await remoteSources?.prepare(id, signal);
        const connection = await acquire();
        try {
          if (node.resource_type === 'unit_test') {
            if (!options.openScratch) throw new Error('unit tests need a scratch database');
            const result = await runUnitTest(node, connection, options.openScratch, renv, signal);
            // A failed unit test stops its model, as dbt's build does.
            if (result.status === 'fail' || result.status === 'error') throw new NodeFailure(result);
            return result;
          }
          if (node.resource_type === 'seed') {
            const result = await buildNode(node, connection, scope, signal);
            // Models keep the catalog current as they build; a seed is a table now too.
            catalog.set(catalogKey(node.relation.schema, node.relation.identifier), 'table');
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
      runError = await runHooks('on-run-end', project.config.onRunEnd, setup, renv, emit, options.signal, onRunEndValues(results, manifest, project.config.target));
    }
  } finally {
    for (const c of connections) c.close();
    for (const files of held) files.release();
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


/**
 * The external models whose views this run reads: in a database file every one (its views are
 * what users query, and cost no download); otherwise the planned incremental ones (`{{ this }}`)
 * and those the plan reads without building them (also through ephemeral models).
 */
function externalModelsRead(manifest: Manifest, plan: RunPlan, storage: Storage): ModelNode[] {
  const externals = Object.values(manifest.nodes).filter((n): n is ModelNode => n.resource_type === 'model' && n.config.external);
  if (storage.isLocal) return externals;
  const planned = new Set(plan.nodes);
  const read = new Set(plan.nodes.flatMap((id) => nodesRead(manifest, id)));
  return externals.filter((n) => (planned.has(n.unique_id) ? traitsOf(n.config.materialized).incremental : read.has(n.unique_id)));
}

/**
 * A node that reads a model or seed that was never built (not selected, and not in the database)
 * fails for that reason, named, rather than with the database's "Table ... does not exist".
 */
function unbuiltInputs(manifest: Manifest, id: string, catalog: Catalog): SmelterError | undefined {
  const missing = nodesRead(manifest, id)
    .map((dep) => manifest.nodes[dep])
    .filter((n): n is ModelNode | SeedNode => n?.resource_type === 'seed' || (n?.resource_type === 'model' && n.config.materialized !== 'ephemeral'))
    .filter((n) => !catalog.has(catalogKey(n.relation.schema, n.relation.identifier)));
  if (missing.length === 0) return undefined;
  const node = manifest.nodes[id];
  const names = missing.map((n) => n.name);
  return new ExecutionError(`${node.name} reads ${names.join(', ')}, which ${names.length === 1 ? 'has' : 'have'} not been built`, {
    node: id,
    location: { file: node.original_file_path, line: 'line' in node ? node.line : undefined },
    hint: node.resource_type === 'test' ? `build ${names.length === 1 ? 'it' : 'them'} first` : `build ${names.length === 1 ? 'it' : 'them'} first, or select +${node.name}`,
  });
}
