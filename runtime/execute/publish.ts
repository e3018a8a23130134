import { StorageError } from '../errors.js';
import type { StateRecord } from '../state/state-record.js';
import type { CommittedFile, FileSetManifest, FileRef, LocalFiles, Storage } from '../storage/storage.js';
import type { CrashPoint } from './crash-points.js';
import { chunkKeysOf, manifestsOf, processedRootOf, readFileSetManifest, stagingRootOf, SYMLINK_FOLDER } from './file-sets.js';

/**
 * Publishing an external model's files: the storage half of the commit protocol (execute/commit.ts
 * is the whole). The order keeps a model's location holding only committed files:
 *   1. the run writes its files into a staging folder outside every location;
 *   2. a new file-set manifest is written, then the state record pointing at it commits: this is
 *      the commit;
 *   3. the staged files are published into the location, the symlink manifest is rewritten, and
 *      the files, manifests and staging the commit superseded are deleted.
 * A run killed after 2 leaves committed files in staging: readers read them there
 * (`committedFiles`), and the next run that holds the model's lease finishes 3 (`recoverUnderLease`).
 * A run killed before 2 leaves only staging files, which that run deletes.
 */

/**
 * Step 3, and the recovery of an interrupted one: make the location hold exactly the committed
 * files and delete what the commit superseded. Idempotent; only the holder of the model's lease
 * may call it (it deletes files no commit refers to).
 */
export async function publishFileSet(
  storage: Storage,
  pointer: string,
  crash: (point: CrashPoint) => void,
): Promise<FileSetManifest> {
  let manifest = await readFileSetManifest(storage, pointer);
  const location = manifest.location;
  const present = new Map((await storage.list(location)).map((f) => [f.key, f]));
  const tags = new Map<string, string>();
  // Every file is checked before any is moved: a committed file found nowhere stops the publish
  // with nothing changed, naming the file (not as a failed rename of its staged copy).
  const missing = manifest.files.filter((f) => !present.has(f.name));
  const stagedFiles = missing.length > 0 ? new Set((await storage.list(manifest.staging)).map((f) => f.key)) : new Set<string>();
  for (const file of missing) {
    const staged = manifest.staged[file.name];
    if (staged === undefined || !stagedFiles.has(staged)) throw missingFile(storage, manifest, file);
  }
  let moved = 0;
  for (const file of manifest.files) {
    const found = present.get(file.name);
    if (found) {
      checkTag(storage, manifest, file, found.etag);
      tags.set(file.name, found.etag);
      continue;
    }
    const staged = manifest.staged[file.name];
    tags.set(file.name, (await storage.publish(`${manifest.staging}/${staged}`, `${location}/${file.name}`)).etag);
    if (++moved === 1) crash('mid-publish');
  }
  // Each file's tag as the storage gives it after publishing (an S3 ETag is not a content hash
  // under KMS or multipart uploads, so it is known only now): later runs verify the files by it.
  if (manifest.files.some((f) => f.etag === undefined)) {
    manifest = { ...manifest, files: manifest.files.map((f) => ({ ...f, etag: tags.get(f.name) })) };
    await storage.writeText(pointer, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  // Files of earlier versions stay until their retention ends (queries that started before this
  // commit may still read them); anything else in the location is deleted.
  const now = new Date().toISOString();
  const keep = new Set([...manifest.files.map((f) => f.name), ...(manifest.superseded ?? []).filter((s) => s.until > now).map((s) => s.name)]);
  const superseded = [...present.keys()].filter((key) => !keep.has(key) && !key.startsWith(`${SYMLINK_FOLDER}/`));
  // Every step below is skipped when already done, so recovering a finished publish writes nothing
  // (a killed publish may have moved its last file but not yet written the symlink manifest).
  await writeSymlinkManifests(storage, manifest);
  let deleted = 0;
  for (const key of superseded) {
    await storage.remove([`${location}/${key}`]);
    if (++deleted === 1) crash('mid-cleanup');
  }
  const oldManifests = (await storage.list(manifestsOf(manifest.table_name))).map((f) => `${manifestsOf(manifest.table_name)}/${f.key}`).filter((k) => k !== pointer);
  const chunks = new Set(chunkKeysOf(manifest));
  const processed = processedRootOf(manifest.table_name);
  const oldChunks = (await storage.list(processed)).map((f) => `${processed}/${f.key}`).filter((k) => !chunks.has(k));
  await storage.remove([...oldManifests, ...oldChunks, manifest.staging]);
  return manifest;
}

/**
 * `{location}/_symlink_format_manifest/[partition/]manifest`: the committed files' URIs, one a line,
 * per Hive partition folder, so Athena, Trino or Spark read exactly the committed set.
 */
async function writeSymlinkManifests(storage: Storage, manifest: FileSetManifest): Promise<void> {
  const byFolder = new Map<string, string[]>();
  for (const file of manifest.files) {
    const slash = file.name.lastIndexOf('/');
    const folder = slash < 0 ? '' : file.name.slice(0, slash + 1);
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), storage.uri(`${manifest.location}/${file.name}`)]);
  }
  const root = `${manifest.location}/${SYMLINK_FOLDER}`;
  // An empty model lists nothing in one manifest; partitions that no longer hold files lose theirs.
  const texts = new Map([...byFolder].map(([folder, uris]) => [`${folder}manifest`, `${uris.join('\n')}\n`]));
  if (texts.size === 0) texts.set('manifest', '');
  for (const [key, text] of texts) {
    if ((await storage.readText(`${root}/${key}`)) !== text) await storage.writeText(`${root}/${key}`, text);
  }
  const stale = (await storage.list(root)).map((f) => f.key).filter((k) => !texts.has(k));
  if (stale.length > 0) await storage.remove(stale.map((k) => `${root}/${k}`));
}

/**
 * Under the model's lease, before it builds: finish a publish a killed run left half done, and
 * delete the staging folders of runs of this lease key that died before committing. No live run
 * can own them: the lease is held. Returns the committed file set.
 */
export async function recoverUnderLease(
  storage: Storage,
  leaseKey: string,
  record: StateRecord | undefined,
  crash: (point: CrashPoint) => void,
): Promise<FileSetManifest | undefined> {
  const committed = record?.manifest_pointer ? await publishFileSet(storage, record.manifest_pointer, crash) : undefined;
  await removeDeadStaging(storage, leaseKey, committed?.staging);
  return committed;
}

/**
 * Delete the staging folders of runs of `leaseKey` that died before committing: every run of that
 * key but the caller (which holds its lease), except `keep`, the staging of a committed publish not
 * yet finished.
 */
export async function removeDeadStaging(storage: Storage, leaseKey: string, keep: string | undefined): Promise<void> {
  const root = stagingRootOf(leaseKey);
  const runs = new Set((await storage.list(root)).map((f) => f.key.split('/')[0]));
  const dead = [...runs].map((run) => `${root}/${run}`).filter((folder) => folder !== keep);
  if (dead.length > 0) await storage.remove(dead);
}

/**
 * The committed files of a model as DuckDB reads them: each at its final key, or at its staged key
 * while a publish is unfinished (SPEC §4). Reading needs no lease. A committed file found in
 * neither place, or of another size, is an error naming it: the model is never read short.
 */
export async function committedFiles(
  storage: Storage,
  manifest: FileSetManifest,
  signal?: AbortSignal,
): Promise<LocalFiles & { readonly files: readonly CommittedFile[]; /** Some files are still staged: a publish was interrupted. */ readonly unfinished: boolean }> {
  const published = new Map((await storage.list(manifest.location)).map((f) => [f.key, f]));
  const unfinished = manifest.files.some((f) => !published.has(f.name));
  const staged = unfinished
    ? new Map((await storage.list(manifest.staging)).map((f) => [f.key, f]))
    : new Map();
  const refs: FileRef[] = manifest.files.map((file) => {
    const at = published.get(file.name);
    const stagedName = manifest.staged[file.name];
    const stagedFile = stagedName === undefined ? undefined : staged.get(stagedName);
    const found = at ? { key: `${manifest.location}/${file.name}`, stored: at } : stagedFile ? { key: `${manifest.staging}/${stagedName}`, stored: stagedFile } : undefined;
    if (!found) throw missingFile(storage, manifest, file);
    if (at) checkTag(storage, manifest, file, at.etag);
    if (found.stored.bytes !== file.bytes) {
      throw new StorageError(`committed file ${storage.uri(found.key)} of ${manifest.table_name} is ${found.stored.bytes} bytes, but its commit recorded ${file.bytes}`, {
        hint: 'the file was changed outside smelter; restore it, or `smelter state reset` the model to rebuild it',
      });
    }
    return { key: found.key, bytes: file.bytes, etag: found.stored.etag };
  });
  const local = await storage.localFiles(refs, signal);
  return { paths: local.paths, release: () => local.release(), files: manifest.files, unfinished };
}

/**
 * A published file must still be the one its commit recorded. Only in object storage: a local
 * file's tag is its modification time, which copying the project folder changes (sizes are
 * checked everywhere).
 */
function checkTag(storage: Storage, manifest: FileSetManifest, file: CommittedFile, etag: string): void {
  const bare = (tag: string) => tag.replace(/"/g, '');
  if (storage.isLocal || file.etag === undefined || bare(file.etag) === bare(etag)) return;
  throw new StorageError(`committed file ${storage.uri(`${manifest.location}/${file.name}`)} of ${manifest.table_name} has ETag ${etag}, but its commit recorded ${file.etag}`, {
    hint: 'the file was replaced outside smelter; restore it, or `smelter state reset` the model to rebuild it',
  });
}

function missingFile(storage: Storage, manifest: FileSetManifest, file: CommittedFile): StorageError {
  return new StorageError(`committed file ${storage.uri(`${manifest.location}/${file.name}`)} of ${manifest.table_name} (version ${manifest.version}) is missing from storage; nothing was changed`, {
    hint: 'restore it, or `smelter state reset` the model to rebuild it (`smelter state verify` checks every model)',
  });
}
