import { CompileError, StateError } from '../errors.js';
import type { EngineConnection, StatementResult } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import type { BuildOutcome } from '../materializations/index.js';
import { selectBody } from '../materializations/materialization.js';
import { compareColumns, refuseTypeChanges } from '../materializations/increment-checks.js';
import { copyToParquet, readParquetFiles } from '../materializations/parquet-files.js';
import { stateKey } from '../materializations/traits.js';
import { quoteIdentifier, quoteLiteral, renderRelation } from '../render/relation.js';
import { renderModel, type BatchWindow } from '../render/render-model.js';
import { databaseOn } from './database-access.js';
import { refuseStackedStatements } from './one-statement.js';
import { parseUtcTime } from '../util/utc-time.js';
import { batchesToRun, withBatch } from './batches.js';
import { commitBuild, type ExternalStaging } from './commit.js';
import { rebuildOnConflict, takeCommitLock, type SharedBatch } from './batch-commit.js';
import type { StateRecord } from '../state/state-record.js';
import type { StateStore } from '../state/state-store.js';
import { nextState } from './next-state.js';
import { fullRefreshes, relationExists, requireStateStore, requireStorage, type RunScope } from './run-scope.js';
import { priorRecord } from './state-guard.js';

/**
 * A microbatch model: each batch of event time is rendered with its inputs filtered to the batch,
 * replaces that window's rows (delete+insert), and commits through the commit protocol with the
 * state record that lists it as done — so a killed run loses at most the batch it was in, and the
 * next run fills the gap. The model's pre-hooks run in the first batch's transaction and its
 * post-hooks in the last's, as dbt runs them. Returns the rows written, and a message when batches
 * of other runs committed beside this run's (execute/batch-commit.ts).
 */
export async function buildMicrobatch(
  node: ModelNode,
  connection: EngineConnection,
  scope: RunScope,
  signal: AbortSignal,
  run: (sql: string) => Promise<StatementResult>,
  hooks: { readonly pre: () => Promise<readonly string[]>; readonly post: () => Promise<readonly string[]> },
): Promise<{ rows: number; message?: string }> {
  const { renv } = scope;
  const cfg = node.config;
  const at = { node: node.unique_id, location: { file: node.original_file_path } };
  const missing = (['event_time', 'batch_size', 'begin'] as const).filter((k) => !cfg[k]);
  if (missing.length > 0) throw new CompileError(`incremental_strategy microbatch needs ${missing.join(', ')}`, at);
  const stateStore = requireStateStore(scope, node);
  const storage = cfg.external ? requireStorage(scope, node) : undefined;
  const begin = parseUtcTime(cfg.begin!);
  if (Number.isNaN(begin.getTime())) throw new CompileError(`begin '${cfg.begin}' is not a date or timestamp`, at);
  const key = stateKey(node);
  const relation = renderRelation(node.relation);
  const fullRefresh = fullRefreshes(node, scope);
  let exists = relationExists(node, scope);
  let state = await startingRecord(node, scope, storage ? stateStore : undefined);
  const windows = batchesToRun({
    begin,
    now: renv.runStartedAt,
    size: cfg.batch_size!,
    lookback: cfg.lookback ?? 1,
    done: !fullRefresh && exists ? (state?.batches ?? []) : [],
    start: scope.eventTimeStart,
    end: scope.eventTimeEnd,
  });
  const col = quoteIdentifier(cfg.event_time!);
  const inWindow = (window: BatchWindow) =>
    `${col} >= CAST(${quoteLiteral(window.start)} AS TIMESTAMP) AND ${col} < CAST(${quoteLiteral(window.end)} AS TIMESTAMP)`;
  const countIn = async (paths: readonly string[], where: string) =>
    paths.length === 0 ? 0 : Number((await connection.query(`SELECT count(*) AS n FROM ${readParquetFiles(node, [...paths])} WHERE ${where}`))[0].n);
  const readLatest = async () => (await stateStore.read([key])).get(key);
  let total = 0;
  /** Commits onto a record other runs' batches committed meanwhile, and builds done again over a conflict: reported in the result's message. */
  let rebased = 0;
  let rebuilt = 0;
  let rebuild = fullRefresh && exists;
  for (const window of windows) {
    // External batches may be built by other runs at once (a backfill's Map): each starts from the
    // latest record, and is built again if its commit conflicts with another's (batch-commit.ts).
    const record = storage
      ? await rebuildOnConflict(async (attempt) => {
          if (attempt > 1) rebuilt++;
          state = (await readLatest()) ?? state;
          return buildWindow(window);
        })
      : await buildWindow(window);
    state = record;
    exists = true;
    rebuild = false;
    total += record?.rows_processed ?? 0;
  }
  const concurrent = [rebased > 0 ? `${rebased} rebased onto other runs' commits` : '', rebuilt > 0 ? `${rebuilt} built again after a conflict` : ''].filter((m) => m !== '');
  return { rows: total, ...(concurrent.length > 0 ? { message: `batches: ${concurrent.join(', ')}` } : {}) };

  async function buildWindow(window: BatchWindow): Promise<StateRecord | undefined> {
    const database = databaseOn(connection);
    const sql = await database.render(node.name, () => renderModel(node, { ...renv, database, batch: window, isIncremental: () => exists && !rebuild }), signal);
    await refuseStackedStatements(node, sql, connection);
    const before = state;
    const replacing = rebuild;
    const { record } = await commitBuild({
      node,
      leaseKey: `${key}@${window.start}`,
      state: before,
      ignoreCommittedFiles: replacing,
      connection,
      signal,
      stateStore,
      storage,
      runId: renv.invocationId,
      crash: (point) => scope.crash(point, node.name),
      hold: (files) => scope.held.push(files),
      build: async (staging) => {
        if (window === windows[0]) for (const sql of await hooks.pre()) await run(sql);
        if (exists && !replacing) await refuseRetypedColumns();
        const outcome = await (staging ? replaceWindowInFiles(staging) : replaceWindowInTable());
        if (window === windows.at(-1)) for (const sql of await hooks.post()) await run(sql);
        return outcome;
      },
      commits: () => true,
      shared: storage && sharedBatch(window),
      record: (outcome, pointer, onto) => {
        // Onto the record the batch was built from, or one other batches committed since: rows_total moves by this batch's delta.
        const rowsTotal = replacing ? outcome.rowsTotal : (onto?.rows_total ?? 0) + outcome.rowsTotal - (before?.rows_total ?? 0);
        return {
          ...nextState(node, { ...outcome, rowsTotal }, replacing ? undefined : onto, renv.invocationId, pointer),
          version: (onto?.version ?? 0) + 1,
          batches: withBatch(replacing ? [] : (onto?.batches ?? []), window),
        };
      },
    });
    return record;

    /**
     * A batch writes only its window, so it cannot change a column's type for the older rows: a
     * column whose type the batch's rows change is an error under every on_schema_change.
     */
    async function refuseRetypedColumns(): Promise<void> {
      const checks = { node, relation, query: (q: string) => connection.query(q), warn: scope.warn };
      const always = { why: 'a microbatch batch rewrites only its own window', hint: 'rebuild with --full-refresh' };
      // Also for a batch of no rows: an external batch still publishes a file, whose types the view reads.
      refuseTypeChanges(checks, await compareColumns(checks, `(\n${selectBody(sql)})`), { always });
    }

    /** Only the committed files holding rows of this window are rewritten: their other rows and the batch's rows become new files. */
    async function replaceWindowInFiles(staging: ExternalStaging): Promise<BuildOutcome> {
      const committed = staging.committed;
      const affected =
        committed.length === 0
          ? []
          : (await connection.query(`SELECT DISTINCT filename AS file FROM ${readParquetFiles(node, committed.map((c) => c.localPath), ', filename = true')} WHERE ${inWindow(window)}`)).map((r) =>
              String(r.file),
            );
      const rewritten = committed.filter((c) => affected.includes(c.localPath));
      const rewrittenPaths = rewritten.map((c) => c.localPath);
      const survivors = rewritten.length === 0 ? '' : `SELECT * FROM ${readParquetFiles(node, rewrittenPaths)} WHERE NOT (${inWindow(window)})\nUNION ALL BY NAME\n`;
      const written = await copyToParquet({ run, query: (q) => connection.query(q) }, node, staging.localDir, `${survivors}SELECT * FROM (\n${selectBody(sql)})`);
      const rows = written - (await countIn(rewrittenPaths, `NOT (${inWindow(window)})`));
      const rowsTotal = (replacing ? 0 : (before?.rows_total ?? 0)) - (await countIn(rewrittenPaths, inWindow(window))) + rows;
      scope.crash('mid-write', node.name);
      return { rows, rowsTotal, watermark: null, fileSet: replacing ? 'replace' : 'add', superseded: rewritten.map((c) => c.file) };
    }

    async function replaceWindowInTable(): Promise<BuildOutcome> {
      let rows: number;
      if (replacing) await run(`DROP TABLE ${relation}`);
      if (!exists || replacing) {
        rows = (await run(`CREATE TABLE ${relation} AS\n${selectBody(sql)}`)).rowsAffected;
      } else {
        await run(`DELETE FROM ${relation} WHERE ${inWindow(window)}`);
        rows = (await run(`INSERT INTO ${relation} BY NAME SELECT * FROM (\n${selectBody(sql)})`)).rowsAffected;
      }
      const rowsTotal = Number((await connection.query(`SELECT count(*) AS n FROM ${relation}`))[0].n);
      scope.crash('mid-write', node.name);
      return { rows, rowsTotal, watermark: null };
    }

  }

  function sharedBatch(window: BatchWindow): SharedBatch {
    return {
      modelKey: key,
      readLatest,
      rowsInWindow: (paths) => countIn(paths, inWindow(window)),
      onRebase: () => rebased++,
    };
  }
}

/**
 * The record a microbatch model's run starts from (priorRecord). For an external model, files
 * without a record may be another batch's first commit landing while this run started (a
 * backfill's Map): looked at again under the commit lock, where no commit is half done.
 */
async function startingRecord(node: ModelNode, scope: RunScope, stateStore: StateStore | undefined): Promise<StateRecord | undefined> {
  try {
    return await priorRecord(node, scope);
  } catch (error) {
    if (!stateStore || !(error instanceof StateError)) throw error;
    const key = stateKey(node);
    const lock = await takeCommitLock(stateStore, key, scope.renv.invocationId, new AbortController().signal);
    try {
      const latest = (await stateStore.read([key])).get(key);
      if (latest !== undefined && latest.origin === undefined) return latest;
    } finally {
      await lock.release().catch(() => undefined);
    }
    throw error;
  }
}
