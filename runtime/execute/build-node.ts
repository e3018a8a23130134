import { CompileError, InterruptedError, SmelterError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import type { ModelNode, SeedNode, SourceNode } from '../manifest/types.js';
import { locateNodeError } from '../parse/parse-project.js';
import { relationKindOf, renderModel } from '../render/render-model.js';
import { catalogName } from '../render/project-context.js';
import { RelationObject } from '../render/relation-object.js';
import { databaseOn } from './database-access.js';
import { quoteLiteral, renderRelation } from '../render/relation.js';
import { materializationFor, type MaterializationInput, type PlannedStatement } from '../materializations/index.js';
import type { ProgramStrategy } from '../materializations/materialization.js';
import { seedStatements } from '../materializations/seed.js';
import { isBatched, stateKey } from '../materializations/traits.js';
import type { StateRecord } from '../state/state-record.js';
import { TemplateUserError } from '../template/strict-compiler.js';
import { auditFor } from './audit.js';
import { buildMicrobatch } from './build-microbatch.js';
import { catalogKey } from './catalog.js';
import { commitBuild } from './commit.js';
import { hookScope } from './hooks.js';
import { nextState } from './next-state.js';
import { NodeFailure, nodeError } from './node-results.js';
import type { NodeResult } from './results.js';
import { runFilePath, writeRunFile } from './run-files.js';
import { isIncrementalRun, requireStateStore, requireStorage, type RunScope } from './run-scope.js';
import { readFileSetManifest } from './file-sets.js';
import { NewSourceFiles } from './new-source-files.js';
import { priorRecord } from './state-guard.js';
import { inTransaction } from './transaction.js';
import { UndeclaredReads, undeclaredWarning } from '../lineage/index.js';
import { refuseStackedStatements } from './one-statement.js';

/**
 * One model or seed: compile (render the model and its hooks, choose its materialization), then
 * execute it in one transaction — its statements, or its program through the commit protocol.
 * A failure throws a NodeFailure carrying the result, so the scheduler skips the descendants.
 */
export async function buildNode(node: ModelNode | SeedNode, connection: EngineConnection, scope: RunScope, signal: AbortSignal): Promise<NodeResult> {
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
  const fail = async (error: SmelterError, compiled?: Date): Promise<never> => {
    if (compiled) await writeRunFile(project, node.original_file_path, executed, scope.runFiles);
    throw new NodeFailure({ ...base, status: 'error', seconds: (performance.now() - t0) / 1000, message: error.format(), error, timing: timing(compiled), statements: executed });
  };
  const run = async (sql: string) => {
    executed.push(sql);
    return connection.run(sql);
  };

  const thisRelation = new RelationObject({
    ...node.relation,
    database: catalogName(project.config.target),
    type: node.resource_type === 'seed' ? 'table' : relationKindOf(node),
    text: relation,
  });
  /**
   * Hooks rendered when they run, as dbt renders them: a post-hook's `run_query` sees what the node
   * just built (and, inside its transaction, nobody else does yet). The queries a render makes go
   * into the node's run file.
   */
  const renderHooksNow = async (hooks: readonly string[]): Promise<string[]> => {
    if (hooks.length === 0) return [];
    const database = databaseOn(connection);
    try {
      const rendered = await database.render(node.name, () => hooks.map((h) => renv.templates().render(node.original_file_path, h, hookScope({ ...renv, database }, thisRelation))), signal);
      return rendered.filter((sql) => sql.trim() !== '');
    } finally {
      executed.push(...database.executed);
    }
  };
  const renderPostHooks = () => renderHooksNow(node.config.post_hook);

  if (node.resource_type === 'model' && isBatched(node)) {
    try {
      // dbt's rule for microbatch models: the pre-hooks run with the first batch, the post-hooks with the last.
      const hooks = { pre: () => renderHooksNow(node.config.pre_hook), post: renderPostHooks };
      const { rows, message } = await buildMicrobatch(node, connection, scope, signal, run, hooks);
      await writeRunFile(project, node.original_file_path, executed, scope.runFiles);
      catalog.set(catalogKey(node.relation.schema, node.relation.identifier), node.config.external ? 'view' : 'table');
      return { ...base, status: 'success', rows, ...(message ? { message } : {}), seconds: (performance.now() - t0) / 1000, timing: timing(new Date()), statements: executed };
    } catch (error) {
      return fail(nodeError(error, node, signal), new Date());
    }
  }

  // Compile: render the model and its hooks, and plan its statements (or its build program).
  type Work = { kind: 'statements'; statements: PlannedStatement[] } | { kind: 'program'; strategy: ProgramStrategy; input: MaterializationInput };
  let work: Work;
  const incremental = node.resource_type === 'model' && isIncrementalRun(node, scope);
  let state: StateRecord | undefined;
  let newSourceFiles: NewSourceFiles | undefined;
  try {
    if (node.resource_type === 'seed') {
      // A seed has no template of its own: its pre-hooks render when they run too.
      const preHooks = await renderHooksNow(node.config.pre_hook);
      work = { kind: 'statements', statements: [...preHooks.map((sql) => ({ sql, role: 'hook' as const })), ...seedStatements(node, project.config.dir, relation)] };
    } else {
      const chosen = materializationFor(node.config.materialized, node.config.external);
      if ('unavailable' in chosen) throw new CompileError(chosen.unavailable, { node: node.unique_id, location: { file: node.original_file_path } });
      state = await priorRecord(node, scope);
      if (node.config.incremental_sources === 'new') newSourceFiles = await openNewSourceFiles(node, scope, incremental, state, signal);
      const sourceRelationOf = newSourceFiles && ((s: SourceNode) => newSourceFiles!.relationOf(s) ?? renv.sourceRelationOf!(s));
      // One render of the model and its hooks, answered by the database (run_query, statement, ...).
      const database = databaseOn(connection);
      const nodeRenv = { ...renv, database, ...(sourceRelationOf ? { sourceRelationOf } : {}) };
      const renderHook = (h: string) => renv.templates().render(node.original_file_path, h, hookScope(nodeRenv, thisRelation));
      const rendered = await database.render(
        node.name,
        () => {
          // A set_sql_header block runs before the model's statement, after its pre-hooks' rendering.
          const headers: string[] = [];
          const sql = renderModel(node, { ...nodeRenv, sqlHeader: (h) => headers.push(h), isIncremental: () => incremental, watermark: () => watermarkLiteral(node, incremental, state) });
          return { sql, preHooks: [...node.config.pre_hook.map(renderHook), ...headers] };
        },
        signal,
      );
      executed.push(...database.executed);
      await refuseStackedStatements(node, rendered.sql, connection);
      const undeclared = UndeclaredReads.of(renv.manifest, project.config.target.schema);
      for (const read of await undeclared.find(node, rendered.sql, async () => connection)) scope.warn(undeclaredWarning(node.original_file_path, node.name, read));
      const input: MaterializationInput = {
        node,
        sql: rendered.sql,
        relation,
        existing: catalog.get(catalogKey(node.relation.schema, node.relation.identifier)),
        preHooks: rendered.preHooks,
      };
      work = chosen.kind === 'statements' ? { kind: 'statements', statements: chosen.plan(input) } : { kind: 'program', strategy: chosen, input };
    }
  } catch (error) {
    newSourceFiles?.release();
    const located = locateNodeError(error, node.unique_id, node.original_file_path);
    if (located instanceof SmelterError) return fail(located);
    throw located;
  }
  const compiled = new Date();

  // Execute, in one transaction with the node's state.
  const onAbort = () => connection.interrupt();
  signal.addEventListener('abort', onAbort, { once: true });
  let rows: number | undefined;
  try {
    if (signal.aborted) throw new InterruptedError();
    const audit = auditFor(node, connection, scope, signal);
    if (work.kind === 'statements') {
      const { statements } = work;
      if (statements.length === 1 && !audit && node.config.post_hook.length === 0) {
        // One statement is its own transaction; BEGIN/COMMIT around it would only cost round trips.
        rows = (await run(statements[0].sql)).rowsAffected;
      } else {
        rows = await inTransaction(connection, signal, async () => {
          let main: number | undefined;
          for (const st of statements) {
            const r = await run(st.sql);
            if (st.role === 'main') main = r.rowsAffected;
          }
          for (const sql of await renderPostHooks()) await run(sql);
          // Inside the transaction the tests see the new table; nobody else does until COMMIT.
          await audit?.();
          return main;
        });
      }
    } else {
      const model = node as ModelNode;
      const { strategy, input } = work;
      const { outcome } = await commitBuild({
        node: model,
        leaseKey: stateKey(model),
        state,
        connection,
        signal,
        stateStore: requireStateStore(scope, model),
        storage: model.config.external ? requireStorage(scope, model) : undefined,
        runId: renv.invocationId,
        crash: (point) => scope.crash(point, node.name),
        audit,
        hold: (files) => scope.held.push(files),
        build: (staging) =>
          strategy.build({
            ...input,
            state,
            incremental,
            runStartedAt: renv.runStartedAt,
            run,
            query: (sql) => connection.query(sql),
            crashPoint: (point) => scope.crash(point, node.name),
            warn: scope.warn,
            renderPostHooks,
            staging,
          }),
        newSourceFiles,
        // New source files are worth committing even without new rows: the next run skips them.
        commits: (outcome) => outcome.rows > 0 || !incremental || newSourceFiles?.changed === true,
        record: (outcome, pointer) => nextState(model, outcome, state, renv.invocationId, pointer),
      });
      rows = outcome.rows;
    }
  } catch (error) {
    return fail(nodeError(error, node, signal, `the statements are in ${runFilePath(project, node.original_file_path)}`), compiled);
  } finally {
    signal.removeEventListener('abort', onAbort);
    newSourceFiles?.release();
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

/** The source files a model with `incremental_sources: new` reads in this run. */
async function openNewSourceFiles(node: ModelNode, scope: RunScope, incremental: boolean, state: StateRecord | undefined, signal: AbortSignal): Promise<NewSourceFiles> {
  const storage = requireStorage(scope, node);
  const committed = incremental && state?.manifest_pointer ? await readFileSetManifest(storage, state.manifest_pointer) : undefined;
  const files = await NewSourceFiles.open({
    node,
    manifest: scope.renv.manifest,
    projectDir: scope.project.config.dir,
    readers: scope.fileReaders,
    storage,
    committed,
    incremental,
    signal,
  });
  for (const warning of files.warnings) scope.warn(warning);
  return files;
}

/** watermark(): the committed watermark as a literal of its column's type. */
function watermarkLiteral(node: ModelNode, incremental: boolean, state: StateRecord | undefined): string {
  if (node.config.incremental_sources === 'new') {
    throw new TemplateUserError(
      'watermark() cannot be used with incremental_sources: new: the files processed are the incremental boundary (a late file with lower keys would be filtered out and never read again)',
      'remove the watermark() filter; the run already reads only new files (config watermark still records the maximum in state)',
    );
  }
  if (!node.config.watermark) {
    throw new TemplateUserError(`watermark() needs the model to set config watermark (a column)`, `e.g. {{ config(watermark='doc_id') }}`);
  }
  if (!incremental || !state) throw new TemplateUserError('watermark() is only available where is_incremental() is true');
  if (state.last_processed_value === null || state.watermark_data_type === null) return 'NULL';
  return `CAST(${quoteLiteral(state.last_processed_value)} AS ${state.watermark_data_type})`;
}
