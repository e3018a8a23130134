import { createHash } from 'node:crypto';
import type { EngineConnection } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import { quoteLiteral, renderRelation } from '../render/relation.js';
import type { StateRecord } from '../state/state-record.js';
import { SMELTER_AREA, type FileSetManifest, type Storage } from '../storage/storage.js';
import type { CrashPoint } from './crash-points.js';
import { readParquetFiles } from '../materializations/parquet-files.js';

/**
 * Publishing an external model's files — the storage half of the commit protocol. The order keeps
 * a model's location holding only committed files:
 *   1. the run writes its files into a staging folder outside every location;
 *   2. a new file-set manifest is written, then the state record pointing at it commits (with the
 *      data transaction): this is the commit;
 *   3. the staged files move into the location, the database view turns to them, and the files and
 *      manifest the commit superseded are deleted.
 * A run killed after 2 leaves committed files in staging: `recover` (run before anything reads the
 * model) finishes 3. A run killed before 2 leaves only staging files, which `recover` deletes.
 */

/** The model's folder, relative to the storage root: `location`, or `{schema}/{alias}`. */
export function locationOf(node: ModelNode): string {
  return (node.config.location ?? `${node.relation.schema}/${node.relation.identifier}`).replace(/^\/+|\/+$/g, '');
}

export function stagingKey(runId: string, tableName: string): string {
  return `${SMELTER_AREA}/staging/${runId}/${tableName}`;
}

const manifestsOf = (tableName: string) => `${SMELTER_AREA}/manifests/${tableName}`;

/** Step 2, first half: name the staged files and write the manifest of the version to commit. */
export async function writeFileSetManifest(
  storage: Storage,
  node: ModelNode,
  tableName: string,
  runId: string,
  version: number,
  /** Committed files that stay (an append adds to them). */
  kept: readonly string[] = [],
): Promise<{ pointer: string; manifest: FileSetManifest }> {
  const staging = stagingKey(runId, tableName);
  const stagedFiles = await storage.list(staging);
  // Short, and distinct for every run and batch (a microbatch run publishes one file set per batch).
  const short = createHash('sha1').update(runId).digest('hex').slice(0, 12);
  const staged: Record<string, string> = {};
  for (const file of stagedFiles) {
    const slash = file.lastIndexOf('/');
    // A new name per run, so a new version never overwrites a file a reader may still be reading.
    staged[`${file.slice(0, slash + 1)}${short}-${file.slice(slash + 1)}`] = file;
  }
  const manifest: FileSetManifest = {
    table_name: tableName,
    version,
    run_id: runId,
    location: locationOf(node),
    files: [...kept, ...Object.keys(staged)].sort(),
    staging,
    staged,
  };
  const pointer = `${manifestsOf(tableName)}/v${version}.json`;
  await storage.writeText(pointer, `${JSON.stringify(manifest, null, 2)}\n`);
  return { pointer, manifest };
}

export async function readFileSetManifest(storage: Storage, pointer: string | null): Promise<FileSetManifest | undefined> {
  if (pointer === null) return undefined;
  const text = await storage.readText(pointer);
  return text === undefined ? undefined : (JSON.parse(text) as FileSetManifest);
}

/**
 * Step 3, and the recovery of an interrupted one: make the location hold exactly the committed
 * files, point the view at them, and delete what the commit superseded. Idempotent.
 */
export async function publishFileSet(
  storage: Storage,
  connection: EngineConnection,
  node: ModelNode,
  pointer: string,
  crash: (point: CrashPoint) => void,
  /** The views as they stand (recovery passes them): a view already over these files is left alone. */
  views?: ViewMarks,
): Promise<FileSetManifest | undefined> {
  const manifest = await readFileSetManifest(storage, pointer);
  if (!manifest) return undefined;
  const location = manifest.location;
  let moved = 0;
  for (const file of manifest.files) {
    if (await storage.exists(`${location}/${file}`)) continue;
    const staged = manifest.staged[file];
    if (staged === undefined) throw new Error(`committed file ${location}/${file} of ${manifest.table_name} is missing from storage`);
    await storage.move(`${manifest.staging}/${staged}`, `${location}/${file}`);
    if (++moved === 1) crash('mid-publish');
  }
  await replaceView(storage, connection, node, manifest, views);
  const keep = new Set(manifest.files);
  let deleted = 0;
  for (const file of await storage.list(location)) {
    if (keep.has(file)) continue;
    await storage.remove(`${location}/${file}`);
    if (++deleted === 1) crash('mid-cleanup');
  }
  for (const old of await storage.list(manifestsOf(manifest.table_name))) {
    const key = `${manifestsOf(manifest.table_name)}/${old}`;
    if (key !== pointer) await storage.remove(key);
  }
  await storage.remove(manifest.staging);
  return manifest;
}

/** Each smelter view's mark (its comment), by `schema.name`. */
export type ViewMarks = ReadonlyMap<string, string>;

export async function readViewMarks(connection: EngineConnection): Promise<ViewMarks> {
  const rows = await connection.query(
    "SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal AND database_name = current_database() AND comment LIKE 'smelter view %'",
  );
  return new Map(rows.map((r) => [`${String(r.schema_name)}.${String(r.view_name)}`, String(r.comment)]));
}

/**
 * The view `schema.alias` over exactly the committed files, so users can query the model. The view
 * is marked (COMMENT ON VIEW) with a digest of its definition, so that recovery re-creates only a
 * view that differs: one a killed publish left behind, or one over paths that moved.
 */
async function replaceView(storage: Storage, connection: EngineConnection, node: ModelNode, manifest: FileSetManifest, views?: ViewMarks): Promise<void> {
  const relation = renderRelation(node.relation);
  const files = manifest.files.map((f) => storage.localPath(`${manifest.location}/${f}`));
  const body = files.length === 0 ? 'SELECT NULL AS no_rows WHERE false' : `SELECT * FROM ${readParquetFiles(node, files)}`;
  const mark = `smelter view ${createHash('sha1').update(body).digest('hex').slice(0, 16)}`;
  if (views?.get(`${node.relation.schema}.${node.relation.identifier}`) === mark) return;
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
 * Before a run reads or writes external models: finish any publish a killed run left half done,
 * and delete what no commit refers to (staging folders of runs that never committed).
 */
export async function recoverExternal(
  storage: Storage,
  connection: EngineConnection,
  records: readonly StateRecord[],
  nodeOf: (tableName: string) => ModelNode | undefined,
): Promise<void> {
  const referenced = new Set<string>();
  const views = await readViewMarks(connection);
  for (const record of records) {
    const node = nodeOf(record.table_name);
    if (!record.manifest_pointer || !node) continue;
    const manifest = await publishFileSet(storage, connection, node, record.manifest_pointer, () => {}, views);
    if (manifest) referenced.add(manifest.staging);
  }
  // A model's staging folder no commit refers to belongs to a run that died before committing it
  // (the same run may have committed other models: their folders are judged on their own).
  const root = `${SMELTER_AREA}/staging`;
  const folders = new Set((await storage.list(root)).map((f) => f.split('/').slice(0, 2).join('/')));
  for (const folder of folders) {
    if (!referenced.has(`${root}/${folder}`)) await storage.remove(`${root}/${folder}`);
  }
  for (const run of new Set([...folders].map((f) => f.split('/')[0]))) {
    if ((await storage.list(`${root}/${run}`)).length === 0) await storage.remove(`${root}/${run}`);
  }
}
