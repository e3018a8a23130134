import { createHash } from 'node:crypto';
import type { EngineConnection } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import { readParquetFiles } from '../materializations/parquet-files.js';
import { quoteLiteral, renderRelation } from '../render/relation.js';
import { StateError, StorageError } from '../errors.js';
import { isCommitted, type StateRecord } from '../state/state-record.js';
import type { StateStore } from '../state/state-store.js';
import type { FileSetManifest, LocalFiles, Storage } from '../storage/storage.js';
import { readFileSetManifest } from './file-sets.js';
import { committedFiles, recoverUnderLease } from './publish.js';

/**
 * The view `schema.alias` over exactly an external model's committed files: what `ref()` reads,
 * and what users query (in a database file, it outlives the run). Each view is marked (COMMENT ON
 * VIEW) with a digest of its definition, so a run re-creates only a view that differs: one a
 * killed publish left behind, one over paths that moved, or none yet (an in-memory database).
 */

/** Each smelter view's mark, by `schema.name`. */
export type ViewMarks = ReadonlyMap<string, string>;

export async function readViewMarks(connection: EngineConnection): Promise<ViewMarks> {
  const rows = await connection.query(
    "SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal AND database_name = current_database() AND comment LIKE 'smelter view %'",
  );
  return new Map(rows.map((r) => [`${String(r.schema_name)}.${String(r.view_name)}`, String(r.comment)]));
}

/** Point the model's view at these local files (none: a view with no rows). */
export async function replaceView(connection: EngineConnection, node: ModelNode, paths: readonly string[], marks?: ViewMarks): Promise<void> {
  const relation = renderRelation(node.relation);
  const body = paths.length === 0 ? 'SELECT NULL AS no_rows WHERE false' : `SELECT * FROM ${readParquetFiles(node, paths)}`;
  const mark = `smelter view ${createHash('sha1').update(body).digest('hex').slice(0, 16)}`;
  if (marks?.get(`${node.relation.schema}.${node.relation.identifier}`) === mark) return;
  const existing = await connection.query(
    `SELECT table_type FROM information_schema.tables WHERE table_schema = ${quoteLiteral(node.relation.schema)} AND table_name = ${quoteLiteral(node.relation.identifier)}`,
  );
  await connection.run('BEGIN TRANSACTION');
  try {
    if (existing[0]?.table_type === 'BASE TABLE') await connection.run(`DROP TABLE ${relation}`);
    await connection.run(`CREATE OR REPLACE VIEW ${relation} AS ${body}`);
    await connection.run(`COMMENT ON VIEW ${relation} IS ${quoteLiteral(mark)}`);
    await connection.run('COMMIT');
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Before a run reads external models: each one's view over its committed set. A publish a killed
 * run left unfinished is finished when this run can take the model's lease (recovery only ever
 * runs under the lease); when another run holds it, the view reads the files still staged.
 * Returns the local files held for the views (released when the run ends).
 */
export async function ensureViews(
  storage: Storage,
  stateStore: StateStore,
  runId: string,
  connection: EngineConnection,
  models: ReadonlyArray<{ readonly node: ModelNode; readonly record: StateRecord }>,
  signal?: AbortSignal,
): Promise<LocalFiles[]> {
  const marks = await readViewMarks(connection);
  const held: LocalFiles[] = [];
  try {
    for (const { node, record: read } of models) {
      if (!read.manifest_pointer) continue;
      const { record, manifest } = await currentManifest(storage, stateStore, read);
      let files = await committedFiles(storage, manifest, signal);
      if (files.unfinished && (await finishPublish(storage, stateStore, runId, record))) {
        files.release();
        files = await committedFiles(storage, manifest, signal);
      }
      held.push(files);
      await replaceView(connection, node, files.paths, marks);
    }
  } catch (error) {
    for (const h of held) h.release();
    throw error;
  }
  return held;
}

/**
 * The manifest of a record read when the run started, or of a later one: a commit since then (a
 * microbatch batch of another run, at once) deletes the manifests before its own when it
 * publishes. A manifest missing while the record still points at it is the error it is.
 */
async function currentManifest(storage: Storage, stateStore: StateStore, read: StateRecord): Promise<{ record: StateRecord; manifest: FileSetManifest }> {
  let record = read;
  for (let attempt = 1; ; attempt++) {
    try {
      return { record, manifest: await readFileSetManifest(storage, record.manifest_pointer!) };
    } catch (error) {
      const latest = error instanceof StorageError && attempt < 5 ? (await stateStore.read([record.table_name])).get(record.table_name) : undefined;
      if (!isCommitted(latest) || !latest.manifest_pointer || latest.version === record.version) throw error;
      record = latest;
    }
  }
}

/** Finish an interrupted publish under the model's lease; false when another run holds the lease. */
async function finishPublish(storage: Storage, stateStore: StateStore, runId: string, record: StateRecord): Promise<boolean> {
  let lease;
  try {
    lease = await stateStore.lease(record.table_name, runId);
  } catch (error) {
    if (error instanceof StateError) return false;
    throw error;
  }
  try {
    // The latest record's: publishing an older one would delete what later commits published.
    const latest = (await stateStore.read([record.table_name])).get(record.table_name);
    await recoverUnderLease(storage, record.table_name, isCommitted(latest) ? latest : record, () => {});
    return true;
  } finally {
    await lease.release().catch(() => undefined);
  }
}
