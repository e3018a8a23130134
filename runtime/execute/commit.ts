import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineConnection } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import type { BuildOutcome, CommittedLocalFile } from '../materializations/materialization.js';
import { readParquetFiles } from '../materializations/parquet-files.js';
import { stateKey } from '../materializations/traits.js';
import type { StateRecord } from '../state/state-record.js';
import type { Lease, StateStore } from '../state/state-store.js';
import type { CommittedFile, FileSetManifest, LocalFiles, StagingArea, Storage } from '../storage/storage.js';
import type { Audit } from './audit.js';
import type { NewSourceFiles } from './new-source-files.js';
import type { CrashPoint } from './crash-points.js';
import { stagingKey, writeFileSetManifest } from './file-sets.js';
import { replaceView } from './external-views.js';
import { committedFiles, publishFileSet, recoverUnderLease } from './publish.js';
import { commitSharedBatch, readBatchBase, type SharedBatch } from './batch-commit.js';
import { inTransaction } from './transaction.js';

/**
 * The commit protocol, in one place: called once per model and once per microbatch batch, for
 * database tables and external models alike.
 *
 *   lease → (external: recover under the lease) → build → audit → file-set manifest → state commit
 *   → publish → clean-up → release
 *
 * Data and state advance together or not at all: the build, the audit and the state commit share
 * one DuckDB transaction, and an external model's files become visible only through the manifest
 * the committed record points at. A run killed at any point leaves either the previous commit or
 * this one (SPEC §4, tested at every crash point in tests/e2e/crash.test.ts).
 */
export interface CommitRequest {
  readonly node: ModelNode;
  /** The lease and staging key: `schema.name`, or `schema.name@start` for a microbatch batch. */
  readonly leaseKey: string;
  /** The committed record this commit follows (compare-and-set on its version). */
  readonly state: StateRecord | undefined;
  /** External models: the committed files are not read (a full rebuild replaces them all). */
  readonly ignoreCommittedFiles?: boolean;
  readonly connection: EngineConnection;
  readonly signal: AbortSignal;
  readonly stateStore: StateStore;
  /** Set for external models. */
  readonly storage: Storage | undefined;
  readonly runId: string;
  readonly crash: (point: CrashPoint) => void;
  /** Builds the new data inside the transaction; external models write into `staging`. */
  build(staging: ExternalStaging | undefined): Promise<BuildOutcome>;
  readonly audit?: Audit;
  /** Whether the outcome is committed (and audited): a run with no new data writes nothing. */
  commits(outcome: BuildOutcome): boolean;
  /**
   * The state record to commit, given the outcome, the new file-set manifest's key and the record
   * it follows: `state`, or for a shared batch the latest committed record it was rebased onto.
   */
  record(outcome: BuildOutcome, manifestPointer: string | null, onto: StateRecord | undefined): StateRecord;
  /** Local files a view now reads: held until the run ends. */
  hold(files: LocalFiles): void;
  /** `incremental_sources: new`: the source files this build read, whose set commits with it. */
  readonly newSourceFiles?: NewSourceFiles;
  /**
   * An external microbatch batch, which other runs may commit beside: committed under the model's
   * lease and rebased onto the latest record (execute/batch-commit.ts).
   */
  readonly shared?: SharedBatch;
}

/** Where an external model's build writes, and what it may read of the committed files. */
export interface ExternalStaging {
  readonly localDir: string;
  readonly committed: ReadonlyArray<CommittedLocalFile>;
}

export interface CommitOutcome {
  readonly outcome: BuildOutcome;
  /** The committed record; undefined when nothing was committed. */
  readonly record: StateRecord | undefined;
}

export async function commitBuild(request: CommitRequest): Promise<CommitOutcome> {
  const { node, storage, crash, state } = request;
  crash('after-read');
  const lease = await request.stateStore.lease(request.leaseKey, request.runId);
  let staging: StagingArea | undefined;
  let pointer: string | null = null;
  /** A shared batch's commit lock: held until its publish is done. */
  let commitLock: Lease | undefined;
  let held: LocalFiles | undefined;
  try {
    let previous: FileSetManifest | undefined;
    let committed: ExternalStaging['committed'] = [];
    if (storage && node.config.external) {
      previous = request.shared ? await readBatchBase(storage, state, request.shared) : await recoverUnderLease(storage, request.leaseKey, state, () => {});
      if (previous && !request.ignoreCommittedFiles) {
        held = await committedFiles(storage, previous, request.signal);
        committed = previous.files.map((f, i) => ({ file: f.name, bytes: f.bytes, localPath: held!.paths[i] }));
      }
      staging = await storage.openStaging(stagingKey(request.leaseKey, request.runId));
    }
    const result = await inTransaction(request.connection, request.signal, async () => {
      const outcome = await request.build(staging && { localDir: staging.localDir, committed });
      if (!request.commits(outcome)) return { outcome, record: undefined };
      if (request.audit) await auditBuild(request, outcome, staging, committed);
      if (staging && request.shared) {
        const done = await commitSharedBatch({
          ...request,
          storage: storage!,
          shared: request.shared,
          base: state,
          baseFiles: previous,
          outcome,
          staged: await staging.save(),
          record: (latest, manifestPointer) => request.record(outcome, manifestPointer, latest),
        });
        pointer = done.pointer;
        commitLock = done.lock;
        return { outcome, record: done.record };
      }
      if (staging) {
        const staged = await staging.save();
        const superseded = new Set(outcome.superseded ?? []);
        const kept: CommittedFile[] = outcome.fileSet === 'add' && !request.ignoreCommittedFiles ? (previous?.files ?? []).filter((f) => !superseded.has(f.name)) : [];
        const version = (state?.version ?? 0) + 1;
        const processed = await request.newSourceFiles?.writeNext(storage!, stateKey(node), version);
        pointer = (await writeFileSetManifest(storage!, node, stateKey(node), request.leaseKey, request.runId, version, staged, kept, processed, previous, new Date())).pointer;
      }
      crash('before-state-commit');
      const record = request.record(outcome, pointer, state);
      await request.stateStore.commit(request.connection, record, state?.version, lease);
      return { outcome, record };
    });
    crash('after-commit');
    if (pointer !== null) {
      const manifest = await publishFileSet(storage!, pointer, crash);
      // Other batches may commit now: what follows only reads.
      await commitLock?.release().catch(() => undefined);
      commitLock = undefined;
      const files = await committedFiles(storage!, manifest, request.signal);
      request.hold(files);
      await replaceView(request.connection, node, files.paths);
    }
    return result;
  } finally {
    held?.release();
    // What a build staged and did not commit (no new rows, or a failure) is nobody's: removed now
    // rather than by the next run of this model.
    if (pointer === null && staging) await storage!.remove([stagingKey(request.leaseKey, request.runId)]).catch(() => undefined);
    await staging?.discard().catch(() => undefined);
    await commitLock?.release().catch(() => undefined);
    // A lease that cannot be released (a network fault) expires by itself; the outcome stands.
    await lease.release().catch(() => undefined);
  }
}

/**
 * Audit what this commit would publish. A database table is read inside the transaction; an
 * external model reads as the files it would have: the kept committed files and the staged ones.
 */
async function auditBuild(request: CommitRequest, outcome: BuildOutcome, staging: StagingArea | undefined, committed: ExternalStaging['committed']): Promise<void> {
  if (!staging) return request.audit!();
  const superseded = new Set(outcome.superseded ?? []);
  const kept = outcome.fileSet === 'add' ? committed.filter((f) => !superseded.has(f.file)).map((f) => f.localPath) : [];
  const stagedFiles = (readdirSync(staging.localDir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.parquet'))
    .sort()
    .map((f) => join(staging.localDir, f));
  const files = [...kept, ...stagedFiles];
  if (files.length > 0) await request.audit!(readParquetFiles(request.node, files));
}
