import { setMaxListeners } from 'node:events';
import { createHash, randomUUID } from 'node:crypto';
import { copyFile, link, mkdir, open, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InterruptedError, StorageError } from '../../runtime/errors.js';
import type { LocalFiles } from '../../runtime/storage/storage.js';
import { BrokenBodyError, DEFAULT_BACKOFF_BASE_MS, retryBrokenBody, storageError } from './s3-client.js';

/** Where the cache lives when SMELTER_CACHE_DIR does not say (Lambda's writable /tmp). */
export const DEFAULT_CACHE_DIR = '/tmp/smelter-cache';
/** Parallel downloads per cache. */
export const DEFAULT_DOWNLOAD_CONCURRENCY = 8;
/** Temp files and orphan records older than this are left-overs of a killed process. */
const STALE_MS = 60 * 60 * 1000;

export interface ObjectCacheOptions {
  readonly client: S3Client;
  /** The cache folder (created): `objects/` holds the files, `index/` a record per file, `staging/` is for writers. */
  readonly dir: string;
  /** The byte budget (the target's `cache_max_bytes`). */
  readonly maxBytes: number;
  readonly concurrency?: number;
  /** Backoff base for re-reading broken bodies (tests make it small). */
  readonly backoffBaseMs?: number;
}

/** An object to have locally: when `etag` is not given the object is looked up (HeadObject) first. */
export interface ObjectRequest {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
  readonly bytes?: number;
}

/** A cached object: its local file and what it is. */
export interface CachedObject {
  readonly bucket: string;
  readonly key: string;
  /** Quoted, as S3 sends it. */
  readonly etag: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly path: string;
}

/** Local files held in the cache until `release()`; `objects` say what each path is. */
export interface CacheLease extends LocalFiles {
  readonly objects: readonly CachedObject[];
}

/** Counters since the cache was opened or `resetStats()`, for benchmarks and tests. */
export interface CacheStats {
  /** Objects served without a download of their own: found on disk, or joined to a download in flight. */
  readonly hits: number;
  /** Objects downloaded. */
  readonly misses: number;
  /** Body bytes received from S3, broken downloads included. */
  readonly bytesDownloaded: number;
  readonly evictions: number;
  /** What is on disk now. */
  readonly entries: number;
  readonly bytesCached: number;
}

interface Entry {
  readonly name: string;
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly bytes: number;
  readonly sha256: string;
  lastUsed: number;
  holds: number;
}

/** The record kept beside each cached file (`index/<name>.json`): the file name alone cannot be turned back into a key. */
interface EntryRecord {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly bytes: number;
  readonly sha256: string;
}

interface Download {
  readonly promise: Promise<Entry>;
  /** Callers waiting for this download: each gets a hold on the entry. */
  holders: number;
}

/**
 * A local cache of S3 objects, so that DuckDB reads local files and a warm Lambda (or the next
 * process on the same disk) does not download the same bytes again.
 *
 * Entries are keyed by bucket, key and ETag: a rewritten object is a new entry and a stale one is
 * never served. Files are named by a hash of bucket and key plus the ETag (and the key's extension,
 * which DuckDB reads compression from); `index/` records the real key. Downloads run in parallel
 * (bounded), are written to a temp name, checked against the Content-Length and the expected size
 * and ETag, hashed (SHA-256) while streaming, and renamed into place only when complete: a
 * truncated body never becomes an entry. A fresh process rebuilds the index from the folder, with
 * file modification times as last use.
 *
 * The byte budget is enforced when the cache grows (a download or an adopted file): least recently
 * used entries are evicted, never one that is held by an unreleased lease. When held files alone
 * exceed the budget the cache goes over it rather than fail a run, and shrinks on later growth.
 * Holds are per process: two processes sharing one folder may evict each other's files (a missing
 * file is downloaded again, but a file DuckDB has yet to open could vanish), so give concurrent
 * processes their own SMELTER_CACHE_DIR.
 */
export class ObjectCache {
  readonly dir: string;
  readonly maxBytes: number;
  /** Where writers make their staging folders: on the cache's file system, so staged files can be linked in. */
  readonly stagingDir: string;
  private readonly objectsDir: string;
  private readonly indexDir: string;
  private readonly client: S3Client;
  private readonly backoffBaseMs: number;
  private readonly limit: Limiter;
  private readonly index = new Map<string, Entry>();
  private readonly downloads = new Map<string, Download>();
  private loaded: Promise<void> | undefined;
  private used = 0;
  private reserved = 0;
  private counters = { hits: 0, misses: 0, bytesDownloaded: 0, evictions: 0 };

  constructor(options: ObjectCacheOptions) {
    if (!(options.maxBytes > 0)) throw new StorageError(`the S3 cache needs a positive byte budget (cache_max_bytes), not ${options.maxBytes}`);
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.client = options.client;
    this.backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.limit = new Limiter(options.concurrency ?? DEFAULT_DOWNLOAD_CONCURRENCY);
    this.objectsDir = join(this.dir, 'objects');
    this.indexDir = join(this.dir, 'index');
    this.stagingDir = join(this.dir, 'staging');
  }

  stats(): CacheStats {
    return { ...this.counters, entries: this.index.size, bytesCached: this.used };
  }

  resetStats(): void {
    this.counters = { hits: 0, misses: 0, bytesDownloaded: 0, evictions: 0 };
  }

  /**
   * Local files for `requests`, in order, downloading what the cache lacks. A size or ETag that
   * differs from the request's is a non-transient StorageError naming the object; S3 faults that
   * outlast the retries are StorageErrors from `storageError`. Nothing is held when it throws.
   */
  async acquire(requests: readonly ObjectRequest[], signal?: AbortSignal): Promise<CacheLease> {
    // Every parallel request listens on the run's signal: more than Node's default of 10 is expected.
    if (signal) setMaxListeners(0, signal);
    await this.load();
    const settled = await Promise.allSettled(requests.map((r) => this.obtain(r, signal)));
    const entries: Entry[] = [];
    let failure: unknown;
    for (const s of settled) {
      if (s.status === 'fulfilled') entries.push(s.value);
      else failure ??= s.reason;
    }
    if (failure !== undefined) {
      for (const entry of entries) this.unhold(entry);
      throw signal?.aborted ? new InterruptedError() : failure;
    }
    let released = false;
    return {
      paths: entries.map((e) => this.pathOf(e.name)),
      objects: entries.map((e) => this.describe(e)),
      release: () => {
        if (released) return;
        released = true;
        for (const entry of entries) this.unhold(entry);
      },
    };
  }

  /** The newest entry for `bucket`/`key` in this cache (any ETag), if there is one. */
  find(bucket: string, key: string): CachedObject | undefined {
    let newest: Entry | undefined;
    for (const entry of this.index.values()) {
      if (entry.bucket === bucket && entry.key === key && (newest === undefined || entry.lastUsed > newest.lastUsed)) newest = entry;
    }
    return newest && this.describe(newest);
  }

  /**
   * Make a local file that was just uploaded an entry (hard-linked, not copied, where the file
   * systems allow), so the next read of the object does not download it. Best effort: a cache that
   * cannot take the file is no reason to fail the upload that made it.
   */
  async adopt(path: string, uploaded: Omit<CachedObject, 'path'>): Promise<void> {
    await this.load();
    const object = { ...uploaded, etag: quoteEtag(uploaded.etag) };
    const name = entryName(object.bucket, object.key, object.etag);
    if (this.index.has(name) || this.downloads.has(name)) return;
    this.reserved += object.bytes;
    try {
      await this.makeRoom();
      // Outputs do not push out held inputs: a file that does not fit is left to be downloaded when read.
      if (this.used + this.reserved > this.maxBytes) return;
      await this.writeRecord(name, object);
      await linkOrCopy(path, this.pathOf(name), this.objectsDir);
      this.insert({ name, ...object, lastUsed: Date.now(), holds: 0 });
    } catch {
      // Left as an ordinary miss: the object is downloaded when it is read.
    } finally {
      this.reserved -= object.bytes;
    }
  }

  /**
   * After a server-side copy of `from` to `to`: the cached file of `from` becomes `to`'s entry (a
   * link, and `from`'s entry is dropped unless held, since the copy's source is about to go).
   */
  async transfer(from: CachedObject, to: { bucket: string; key: string; etag: string }): Promise<void> {
    await this.load();
    const source = this.index.get(entryName(from.bucket, from.key, from.etag));
    const name = entryName(to.bucket, to.key, to.etag);
    if (source === undefined || this.index.has(name)) return;
    const object = { bucket: to.bucket, key: to.key, etag: quoteEtag(to.etag), bytes: source.bytes, sha256: source.sha256 };
    try {
      await this.writeRecord(name, object);
      await linkOrCopy(this.pathOf(source.name), this.pathOf(name), this.objectsDir);
    } catch {
      return;
    }
    this.insert({ name, ...object, lastUsed: Date.now(), holds: 0 });
    if (source.holds === 0 && this.index.get(source.name) === source) await this.drop(source);
  }

  private async obtain(request: ObjectRequest, signal?: AbortSignal): Promise<Entry> {
    const address = `s3://${request.bucket}/${request.key}`;
    let etag = request.etag;
    if (etag === undefined) {
      const head = await this.head(request, address, signal);
      etag = head.etag;
      checkBytes(address, request.bytes, head.bytes);
    }
    const name = entryName(request.bucket, request.key, etag);
    const existing = this.index.get(name);
    if (existing !== undefined) {
      existing.holds += 1;
      if (await this.touch(existing)) {
        this.counters.hits += 1;
        return this.checked(existing, request, address);
      }
      existing.holds -= 1;
      if (this.index.get(name) === existing) this.forget(existing);
    }
    const pending = this.downloads.get(name);
    if (pending !== undefined) {
      pending.holders += 1;
      this.counters.hits += 1;
      return this.checked(await pending.promise, request, address);
    }
    this.counters.misses += 1;
    const download: Download = {
      holders: 1,
      promise: this.limit.run(() => this.download(request, address, quoteEtag(etag), name, signal)),
    };
    this.downloads.set(name, download);
    // The entry is inserted, holding every waiter, in download(); failures reach each waiter.
    return this.checked(await download.promise, request, address);
  }

  /** A size the request expects that the (ETag-matching) entry does not have: the record and the object disagree. */
  private checked(entry: Entry, request: ObjectRequest, address: string): Entry {
    if (request.bytes !== undefined && request.bytes !== entry.bytes) {
      this.unhold(entry);
      checkBytes(address, request.bytes, entry.bytes);
    }
    return entry;
  }

  private async head(request: ObjectRequest, address: string, signal?: AbortSignal): Promise<{ etag: string; bytes: number }> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: request.bucket, Key: request.key }), { abortSignal: signal });
      return { etag: quoteEtag(out.ETag ?? ''), bytes: out.ContentLength ?? 0 };
    } catch (error) {
      if (signal?.aborted) throw new InterruptedError();
      throw storageError(error, `reading ${address}`);
    }
  }

  private async download(request: ObjectRequest, address: string, etag: string, name: string, signal?: AbortSignal): Promise<Entry> {
    try {
      const received = await retryBrokenBody(() => this.fetchOnce(request, address, etag, name, signal), this.backoffBaseMs, signal);
      const entry: Entry = { name, ...received, lastUsed: Date.now(), holds: this.downloads.get(name)?.holders ?? 1 };
      this.insert(entry);
      return entry;
    } catch (error) {
      if (signal?.aborted) throw new InterruptedError();
      throw storageError(error, `reading ${address}`);
    } finally {
      this.downloads.delete(name);
    }
  }

  /** One GET into a temp file, renamed into place once complete and verified. */
  private async fetchOnce(request: ObjectRequest, address: string, etag: string, name: string, signal?: AbortSignal): Promise<EntryRecord> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: request.bucket, Key: request.key }), { abortSignal: signal });
    const body = response.Body as Readable | undefined;
    const found = quoteEtag(response.ETag ?? '');
    const length = response.ContentLength ?? 0;
    try {
      if (found !== etag) throw changed(address, `has ETag ${found}, not the expected ${etag}`);
      checkBytes(address, request.bytes, length);
    } catch (error) {
      body?.destroy();
      throw error;
    }
    this.reserved += length;
    const temp = join(this.objectsDir, `.tmp-${randomUUID()}`);
    const onAbort = () => body?.destroy(new InterruptedError());
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.makeRoom();
      const sha256 = await this.receive(body, temp, length);
      const record: EntryRecord = { bucket: request.bucket, key: request.key, etag, bytes: length, sha256 };
      await this.writeRecord(name, record);
      await rename(temp, this.pathOf(name));
      return record;
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.reserved -= length;
    }
  }

  /** Stream `body` into `temp`, hashing it; a body that fails or ends short is a BrokenBodyError. */
  private async receive(body: Readable | undefined, temp: string, length: number): Promise<string> {
    const hash = createHash('sha256');
    const file = await open(temp, 'w');
    let received = 0;
    try {
      if (body !== undefined) {
        const chunks = body[Symbol.asyncIterator]();
        for (;;) {
          let next: IteratorResult<Buffer>;
          try {
            next = await chunks.next();
          } catch (error) {
            if (error instanceof InterruptedError) throw error;
            throw new BrokenBodyError(`the body broke off after ${received} of ${length} bytes (${(error as Error).message})`, { cause: error });
          }
          if (next.done) break;
          received += next.value.length;
          this.counters.bytesDownloaded += next.value.length;
          hash.update(next.value);
          for (let written = 0; written < next.value.length; ) written += (await file.write(next.value, written)).bytesWritten;
        }
      }
    } finally {
      await file.close();
    }
    if (received !== length) throw new BrokenBodyError(`the body ended after ${received} of ${length} bytes`);
    return hash.digest('hex');
  }

  /** Evict least recently used, unheld entries until what is cached and being downloaded fits the budget. */
  private async makeRoom(): Promise<void> {
    if (this.used + this.reserved <= this.maxBytes) return;
    const candidates = [...this.index.values()].filter((e) => e.holds === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of candidates) {
      if (this.used + this.reserved <= this.maxBytes) break;
      // A concurrent makeRoom, or a lease taken while this one awaited, may have got there first.
      if (this.index.get(entry.name) !== entry || entry.holds > 0) continue;
      this.counters.evictions += 1;
      await this.drop(entry);
    }
  }

  private insert(entry: Entry): void {
    this.index.set(entry.name, entry);
    this.used += entry.bytes;
  }

  private forget(entry: Entry): void {
    this.index.delete(entry.name);
    this.used -= entry.bytes;
  }

  /** Out of the index at once (so nobody takes a hold on it), then off the disk: the file first, its record last. */
  private async drop(entry: Entry): Promise<void> {
    this.forget(entry);
    await unlink(this.pathOf(entry.name)).catch(() => {});
    await unlink(this.recordPath(entry.name)).catch(() => {});
  }

  private unhold(entry: Entry): void {
    entry.holds = Math.max(0, entry.holds - 1);
    entry.lastUsed = Date.now();
  }

  /** Mark a hit as used, on disk too (the next process's LRU order); false when another process evicted the file. */
  private async touch(entry: Entry): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(this.pathOf(entry.name), now, now);
      entry.lastUsed = now.getTime();
      return true;
    } catch {
      return false;
    }
  }

  private describe(entry: Entry): CachedObject {
    const { bucket, key, etag, bytes, sha256 } = entry;
    return { bucket, key, etag, bytes, sha256, path: this.pathOf(entry.name) };
  }

  private pathOf(name: string): string {
    return join(this.objectsDir, name);
  }

  private recordPath(name: string): string {
    return join(this.indexDir, `${name}.json`);
  }

  private async writeRecord(name: string, record: EntryRecord): Promise<void> {
    const { bucket, key, etag, bytes, sha256 } = record;
    await writeFile(this.recordPath(name), JSON.stringify({ bucket, key, etag, bytes, sha256 }));
  }

  private load(): Promise<void> {
    this.loaded ??= this.rebuild();
    return this.loaded;
  }

  /**
   * The index from the folder: a file with its record is an entry, last used at its modification
   * time. A record is written before its file is renamed into place, so a file without one is not
   * trusted; stale temp files and records without a file are what killed processes left.
   */
  private async rebuild(): Promise<void> {
    await mkdir(this.objectsDir, { recursive: true });
    await mkdir(this.indexDir, { recursive: true });
    await mkdir(this.stagingDir, { recursive: true });
    const now = Date.now();
    const files = await readdir(this.objectsDir);
    await forEachBatch(
      files,
      async (name) => {
        const path = this.pathOf(name);
        const info = await stat(path).catch(() => undefined);
        if (info === undefined || !info.isFile()) return;
        if (name.startsWith('.tmp-')) {
          if (now - info.mtimeMs > STALE_MS) await unlink(path).catch(() => {});
          return;
        }
        const record = await readRecord(this.recordPath(name));
        if (record === undefined || record.bytes !== info.size || entryName(record.bucket, record.key, record.etag) !== name) {
          await unlink(path).catch(() => {});
          return;
        }
        this.insert({ name, ...record, lastUsed: info.mtimeMs, holds: 0 });
      },
    );
    const records = await readdir(this.indexDir);
    await forEachBatch(
      records.filter((file) => !this.index.has(file.replace(/\.json$/, ''))),
      async (file) => {
        const info = await stat(join(this.indexDir, file)).catch(() => undefined);
        if (info !== undefined && now - info.mtimeMs > STALE_MS) await unlink(join(this.indexDir, file)).catch(() => {});
      },
    );
  }
}

/** S3 sends ETags quoted (`"9b2c…"`); some servers and SDK paths do not. One form for comparing and storing. */
export function quoteEtag(etag: string): string {
  return `"${etag.replace(/^"|"$/g, '')}"`;
}

/**
 * A file name for one version of one object: a hash of bucket and key (keys may hold any
 * character and be 1 KB long), the ETag, and the key's extension (DuckDB picks a compression such
 * as `.csv.gz` from it).
 */
export function entryName(bucket: string, key: string, etag: string): string {
  const keyHash = createHash('sha256').update(`${bucket}\n${key}`).digest('hex').slice(0, 32);
  let tag = etag.replace(/^"|"$/g, '').replace(/[^A-Za-z0-9_-]/g, '_');
  if (tag.length > 64) tag = createHash('sha256').update(etag).digest('hex').slice(0, 32);
  const base = key.slice(key.lastIndexOf('/') + 1);
  const extension = /(?:\.[A-Za-z0-9]{1,12}){1,3}$/.exec(base.slice(1))?.[0] ?? '';
  return `${keyHash}-${tag}${extension}`;
}

function checkBytes(address: string, expected: number | undefined, found: number): void {
  if (expected !== undefined && expected !== found) throw changed(address, `has ${found} bytes, not the expected ${expected}`);
}

function changed(address: string, what: string): StorageError {
  return new StorageError(`${address} ${what}: the object changed after it was listed or committed`);
}

async function readRecord(path: string): Promise<EntryRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(path, 'utf8')) as Partial<EntryRecord>;
    if (typeof r.bucket !== 'string' || typeof r.key !== 'string' || typeof r.etag !== 'string') return undefined;
    if (typeof r.bytes !== 'number' || typeof r.sha256 !== 'string') return undefined;
    return r as EntryRecord;
  } catch {
    return undefined;
  }
}

/** A hard link where the file systems allow, else a copy under a temp name renamed into place. */
async function linkOrCopy(from: string, to: string, tempDir: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw error;
    const temp = join(tempDir, `.tmp-${randomUUID()}`);
    await copyFile(from, temp);
    await rename(temp, to);
  }
}

/** `task` on every item, 64 at a time: a cache of thousands of files must not exhaust file descriptors. */
async function forEachBatch<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 64) await Promise.all(items.slice(i, i + 64).map(task));
}

/** At most `size` tasks at a time, the rest in arrival order. */
class Limiter {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
