import { StateError, StorageError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import type { BuildOutcome } from '../materializations/materialization.js';
import { stateKey } from '../materializations/traits.js';
import { isCommitted, type StateRecord } from '../state/state-record.js';
import { isLeaseHeld, isStaleWrite, type Lease, type StateStore } from '../state/state-store.js';
import type { CommittedFile, FileSetManifest, StagedFile, Storage } from '../storage/storage.js';
import type { CrashPoint } from './crash-points.js';
import { readFileSetManifest, stagingKey, writeFileSetManifest } from './file-sets.js';
import { committedFiles, publishFileSet, removeDeadStaging } from './publish.js';

/**
 * The commit of one batch of an external microbatch model, which other runs may build at the same
 * time (a backfill's Map runs its batches in parallel Lambdas). Each batch holds its own lease
 * (`schema.name@start`) while it builds from the file set committed when it started; then
 *
 *   take the model's lease (the commit lock, held for seconds) → read the latest record and finish
 *   its publish → rebase onto it → file-set manifest → state commit → (the caller: database
 *   commit → publish) → release.
 *
 * Rebase: when other batches committed since this one started, its manifest is the latest
 * committed files minus the ones this batch rewrote, plus its own; its record is the latest record
 * with its window added and rows_total moved by its own delta. That is the file set a sequential
 * build would leave, provided no other batch touched this batch's rows: the files it rewrote must
 * still be committed, and the files committed since must hold no row of its window. Otherwise it
 * is a BatchConflict, and the batch is built again on the latest files (`rebuildOnConflict`):
 * merging two rewrites of one file is not possible without reading it again, and the case is rare
 * (files of one window are written by its batch alone, unless a model's rows stray outside the
 * window its inputs were filtered to).
 *
 * Why a lock around the commit, not compare-and-set alone: publishing deletes whatever the
 * location holds beyond its file set and rewrites the symlink manifests, which two publishers at
 * once would undo for each other; and a rebased manifest keeps files that another batch may not
 * have published yet. Serialised, each commit starts from a finished publish, while the builds,
 * which take the time, still run side by side. Within the lock a compare-and-set can still be lost
 * to a writer that takes no lock (`smelter state reset`, an earlier smelter): the batch re-reads
 * the record and rebases again, up to COMMIT_ATTEMPTS times.
 */
export interface SharedBatch {
  /** The model's state key: its lease is the commit lock. */
  readonly modelKey: string;
  /** The model's record as the state store holds it now. */
  readLatest(): Promise<StateRecord | undefined>;
  /** Rows of this batch's window in these local Parquet files. */
  rowsInWindow(paths: readonly string[]): Promise<number>;
  /** Told of each rebase: a commit onto another version than the batch built from. */
  onRebase?(from: number | undefined, onto: number | undefined): void;
}

/** A batch's rows were touched by another batch's commit: build it again on the latest files. */
export class BatchConflict extends StateError {
  constructor(message: string) {
    super(message, { hint: 'the batch is built again on the latest committed files; if this persists, run the backfill with MaxConcurrency 1' });
    this.name = 'BatchConflict';
  }
}

/** Compare-and-set attempts within the commit lock. */
export const COMMIT_ATTEMPTS = 5;
/** Builds of one batch when its commit conflicts with another batch's. */
export const BUILD_ATTEMPTS = 3;
/** How long a batch waits for the commit lock before failing as a lease another run holds (ConcurrentRun). */
export const COMMIT_LOCK_WAIT_MS = 120_000;

/**
 * The file set a batch builds from: the manifest of the record it read, without publishing
 * anything (only the commit lock's holder publishes). A manifest that is gone because another
 * batch committed and published since the record was read is a BatchConflict: read again.
 */
export async function readBatchBase(storage: Storage, record: StateRecord | undefined, shared: SharedBatch): Promise<FileSetManifest | undefined> {
  if (!record?.manifest_pointer) return undefined;
  try {
    return await readFileSetManifest(storage, record.manifest_pointer);
  } catch (error) {
    if (error instanceof StorageError && (await shared.readLatest())?.version !== record.version) {
      throw new BatchConflict(`${record.table_name} was committed by another run while this batch read its version ${record.version}`);
    }
    throw error;
  }
}

export interface SharedCommit {
  readonly node: ModelNode;
  readonly leaseKey: string;
  readonly runId: string;
  readonly storage: Storage;
  readonly stateStore: StateStore;
  readonly connection: EngineConnection;
  readonly signal: AbortSignal;
  readonly crash: (point: CrashPoint) => void;
  readonly shared: SharedBatch;
  /** The record and file set the batch was built from. */
  readonly base: StateRecord | undefined;
  readonly baseFiles: FileSetManifest | undefined;
  readonly outcome: BuildOutcome;
  readonly staged: readonly StagedFile[];
  /** The record to commit onto `latest`, pointing at `pointer`. */
  record(latest: StateRecord | undefined, pointer: string): StateRecord;
}

/**
 * Commit a batch under the commit lock (see the module header). The lock is returned held: the
 * caller publishes the commit once its database transaction has committed too (the local state
 * backend writes the record in it), then releases it. On failure nothing is held.
 */
export async function commitSharedBatch(c: SharedCommit): Promise<{ record: StateRecord; pointer: string; lock: Lease }> {
  const lock = await takeCommitLock(c.stateStore, c.shared.modelKey, c.runId, c.signal);
  try {
    for (let attempt = 1; ; attempt++) {
      const latest = await c.shared.readLatest();
      // Finish the latest commit's publish if its run died in it (no other publisher can be at work),
      // and delete the staging dead runs of this batch left: every committed publish is finished now.
      const latestFiles = latest?.manifest_pointer ? await publishFileSet(c.storage, latest.manifest_pointer, () => {}) : undefined;
      await removeDeadStaging(c.storage, c.leaseKey, stagingKey(c.leaseKey, c.runId));
      const kept = await rebasedFiles(c, latest, latestFiles);
      const version = (latest?.version ?? 0) + 1;
      const { pointer } = await writeFileSetManifest(c.storage, c.node, stateKey(c.node), c.leaseKey, c.runId, version, c.staged, kept, undefined, latestFiles, new Date(), true);
      c.crash('before-state-commit');
      const record = c.record(latest, pointer);
      try {
        await c.stateStore.commit(c.connection, record, latest?.version, lock);
        return { record, pointer, lock };
      } catch (error) {
        // The manifest of a lost attempt is nobody's (a crash before this leaves it to the next publish, which deletes every manifest but its own).
        await c.storage.remove([pointer]).catch(() => undefined);
        if (!isStaleWrite(error) || attempt >= COMMIT_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    // A lock that cannot be released (a network fault) expires by itself.
    await lock.release().catch(() => undefined);
    throw error;
  }
}

/** The committed files the batch's manifest keeps: the latest ones less those it rewrote, once the rebase is known to be sound. */
async function rebasedFiles(c: SharedCommit, latest: StateRecord | undefined, latestFiles: FileSetManifest | undefined): Promise<CommittedFile[]> {
  // A full rebuild replaces whatever is committed.
  if (c.outcome.fileSet !== 'add') return [];
  const superseded = c.outcome.superseded ?? [];
  if (latest?.version === c.base?.version) return (latestFiles?.files ?? []).filter((f) => !superseded.includes(f.name));
  c.shared.onRebase?.(c.base?.version, latest?.version);
  const table = stateKey(c.node);
  if (isCommitted(c.base) && !isCommitted(latest)) throw new BatchConflict(`${table} was reset while this batch built it`);
  const plan = rebasePlan(c.baseFiles?.files ?? [], latestFiles?.files ?? [], superseded);
  if ('lost' in plan) {
    throw new BatchConflict(`another batch rewrote ${plan.lost.length} of the files this batch of ${table} rewrote (${plan.lost.slice(0, 3).join(', ')}) since version ${c.base?.version}`);
  }
  if (plan.added.length > 0) {
    const local = await committedFiles(c.storage, { ...latestFiles!, files: plan.added }, c.signal);
    try {
      const rows = await c.shared.rowsInWindow(local.paths);
      if (rows > 0) throw new BatchConflict(`files another batch of ${table} committed since version ${c.base?.version} hold ${rows} rows of this batch's window`);
    } finally {
      local.release();
    }
  }
  return plan.kept;
}

/**
 * Rebasing a batch's file set from `base` onto `latest` (pure): `kept`, the latest files less the
 * ones the batch rewrote; `added`, the files committed since `base`, whose rows the caller checks;
 * or `lost`, the rewritten files no longer committed (another batch rewrote them too).
 */
export function rebasePlan(
  base: readonly CommittedFile[],
  latest: readonly CommittedFile[],
  superseded: readonly string[],
): { kept: CommittedFile[]; added: CommittedFile[] } | { lost: string[] } {
  const latestNames = new Set(latest.map((f) => f.name));
  const lost = superseded.filter((name) => !latestNames.has(name));
  if (lost.length > 0) return { lost };
  const gone = new Set(superseded);
  const baseNames = new Set(base.map((f) => f.name));
  return { kept: latest.filter((f) => !gone.has(f.name)), added: latest.filter((f) => !baseNames.has(f.name)) };
}

/**
 * The model's lease, waited for: other batches hold it for the seconds of their commits. After
 * COMMIT_LOCK_WAIT_MS (a holder that died keeps it until its lease expires) the "another run
 * holds" error stands: retryable, the Lambda adapter's ConcurrentRun.
 */
export async function takeCommitLock(store: StateStore, key: string, runId: string, signal: AbortSignal): Promise<Lease> {
  const deadline = Date.now() + COMMIT_LOCK_WAIT_MS;
  for (let round = 0; ; round++) {
    try {
      return await store.lease(key, runId);
    } catch (error) {
      if (!isLeaseHeld(error) || Date.now() >= deadline || signal.aborted) throw error;
    }
    // 50 ms doubling to 1 s, with jitter, so waiting batches do not take turns in lockstep.
    const cap = Math.min(1_000, 50 * 2 ** round);
    await new Promise((resolve) => setTimeout(resolve, cap / 2 + Math.random() * (cap / 2)));
  }
}

/** Build a batch, and again (up to BUILD_ATTEMPTS in all) while its commit conflicts with another batch's. */
export async function rebuildOnConflict<T>(build: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await build(attempt);
    } catch (error) {
      if (!(error instanceof BatchConflict) || attempt >= BUILD_ATTEMPTS) throw error;
    }
  }
}
