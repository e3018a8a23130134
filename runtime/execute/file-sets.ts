import { createHash } from 'node:crypto';
import { StorageError } from '../errors.js';
import type { ModelNode } from '../manifest/types.js';
import { SMELTER_AREA, type CommittedFile, type FileSetManifest, type ProcessedSets, type StagedFile, type Storage } from '../storage/storage.js';

/**
 * Where an external model's files and file-set manifests live in storage (SPEC §4), and the
 * manifests themselves. Pure naming plus reading and writing of the manifest file.
 *
 *   {location}/                              committed files (and recently superseded ones)
 *   {location}/_symlink_format_manifest/     the committed files' URIs, for Athena, Trino, Spark
 *   .smelter/staging/{lease}/{run}/          a run's new files until they are published
 *   .smelter/manifests/{table}/v{n}.json     the file set of version n
 *
 * A staging folder sits under its lease key (`schema.name`, or `schema.name@batch` for a
 * microbatch batch), so the holder of a lease can tell the staging folders of dead runs from those
 * of live ones: every run of that key has ended but the holder's own.
 */

/** The model's folder, relative to the storage root: `location`, or `{schema}/{alias}`. */
export function locationOf(node: ModelNode): string {
  return (node.config.location ?? `${node.relation.schema}/${node.relation.identifier}`).replace(/^\/+|\/+$/g, '');
}

/** The folder holding every run's staging for one lease key. */
export function stagingRootOf(leaseKey: string): string {
  return `${SMELTER_AREA}/staging/${leaseKey}`;
}

export function stagingKey(leaseKey: string, runId: string): string {
  return `${stagingRootOf(leaseKey)}/${runId}`;
}

export function manifestsOf(tableName: string): string {
  return `${SMELTER_AREA}/manifests/${tableName}`;
}

export const SYMLINK_FOLDER = '_symlink_format_manifest';

/** How long a superseded file stays readable when the model sets no `retain_superseded` (SPEC §4). */
export const DEFAULT_RETAIN_SECONDS = 3600;

/** Where a model's processed-file set chunks live (`incremental_sources: new`). */
export function processedRootOf(tableName: string): string {
  return `${SMELTER_AREA}/processed/${tableName}`;
}

/** Every processed-set chunk a manifest refers to. */
export function chunkKeysOf(manifest: FileSetManifest): string[] {
  return Object.values(manifest.processed ?? {}).flatMap((chunks) => Object.values(chunks));
}

/**
 * Write the manifest of the version to commit: the kept files and the staged ones under new names
 * (a new name per commit, so a new version never overwrites a file a reader may still be reading).
 */
export async function writeFileSetManifest(
  storage: Storage,
  node: ModelNode,
  tableName: string,
  leaseKey: string,
  runId: string,
  version: number,
  staged: readonly StagedFile[],
  /** Committed files that stay (an append adds to them). */
  kept: readonly CommittedFile[],
  /** `incremental_sources: new`: the processed-file set this version commits. */
  processed: ProcessedSets | undefined,
  /** The version this one follows: its files that are not kept stay readable for a while. */
  previous: FileSetManifest | undefined,
  now: Date,
  /**
   * Name the manifest `v{n}-{run}.json` rather than `v{n}.json`: for commits that other runs may
   * attempt beside this one (microbatch batches, execute/batch-commit.ts), so an attempt that
   * loses never overwrites the manifest of the one that won.
   */
  perAttempt = false,
): Promise<{ pointer: string; manifest: FileSetManifest }> {
  const short = createHash('sha1').update(`${runId}/${leaseKey}`).digest('hex').slice(0, 12);
  const names: Record<string, string> = {};
  const added: CommittedFile[] = [];
  for (const file of staged) {
    const slash = file.key.lastIndexOf('/');
    const name = `${file.key.slice(0, slash + 1)}${short}-${file.key.slice(slash + 1)}`;
    names[name] = file.key;
    added.push({ name, bytes: file.bytes, sha256: file.sha256 });
  }
  const keptNames = new Set(kept.map((f) => f.name));
  const until = new Date(now.getTime() + (node.config.retain_superseded ?? DEFAULT_RETAIN_SECONDS) * 1000).toISOString();
  const superseded = [
    ...(previous?.superseded ?? []).filter((s) => s.until > now.toISOString() && !keptNames.has(s.name)),
    ...(previous?.files ?? []).filter((f) => !keptNames.has(f.name)).map((f) => ({ name: f.name, until })),
  ].filter((s) => s.until > now.toISOString());
  const manifest: FileSetManifest = {
    table_name: tableName,
    version,
    run_id: runId,
    location: locationOf(node),
    files: [...kept, ...added].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    staging: stagingKey(leaseKey, runId),
    staged: names,
    ...(processed ? { processed } : {}),
    ...(superseded.length > 0 ? { superseded } : {}),
  };
  const pointer = `${manifestsOf(tableName)}/v${version}${perAttempt ? `-${short}` : ''}.json`;
  await storage.writeText(pointer, `${JSON.stringify(manifest, null, 2)}\n`);
  return { pointer, manifest };
}

/**
 * The committed file set a state record points at. A pointer to nothing, text that is not a
 * manifest, or a manifest naming one file twice is an error naming the manifest: never read as an
 * empty or doubled model, and nothing is deleted on its account.
 */
export async function readFileSetManifest(storage: Storage, pointer: string): Promise<FileSetManifest> {
  // A publish rewrites its committed manifest once (with the files' ETags) while other runs may be
  // reading it. S3 and the local storage replace an object whole; s3rver, which the tests and
  // benchmarks run against, can serve it half written: a manifest that does not parse is read again
  // twice before it is called damaged.
  for (let attempt = 1; ; attempt++) {
    try {
      return await readManifestOnce(storage, pointer);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof StorageError) || !/ is (not valid JSON|damaged)/.test(error.message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function readManifestOnce(storage: Storage, pointer: string): Promise<FileSetManifest> {
  const text = await storage.readText(pointer);
  const uri = storage.uri(pointer);
  const recovery = 'restore it from a backup (or the storage\'s object versions), or `smelter state reset` the model to rebuild it';
  if (text === undefined) {
    throw new StorageError(`the committed file-set manifest ${uri} is missing: the model's committed files cannot be known; nothing was changed`, { hint: recovery });
  }
  let manifest: FileSetManifest;
  try {
    manifest = JSON.parse(text) as FileSetManifest;
  } catch (error) {
    throw new StorageError(`the committed file-set manifest ${uri} is not valid JSON (${(error as Error).message}); nothing was changed`, { hint: recovery });
  }
  const problem = manifestProblem(manifest);
  if (problem) throw new StorageError(`the committed file-set manifest ${uri} is damaged: ${problem}; nothing was changed`, { hint: recovery });
  return manifest;
}

/** What is wrong with a parsed manifest's shape, or undefined. */
function manifestProblem(m: FileSetManifest): string | undefined {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return 'it is not a JSON object';
  if (typeof m.table_name !== 'string' || typeof m.location !== 'string' || typeof m.staging !== 'string') return 'table_name, location or staging is missing';
  if (!Number.isInteger(m.version)) return 'version is missing';
  if (!Array.isArray(m.files)) return 'files is not a list';
  if (m.staged === null || typeof m.staged !== 'object') return 'staged is missing';
  const seen = new Set<string>();
  for (const [i, f] of m.files.entries()) {
    if (f === null || typeof f !== 'object' || typeof f.name !== 'string' || !Number.isSafeInteger(f.bytes) || f.bytes < 0) {
      return `files[${i}] is not a {name, bytes, sha256} record`;
    }
    if (seen.has(f.name)) return `it lists the file ${f.name} twice`;
    seen.add(f.name);
  }
  return undefined;
}
