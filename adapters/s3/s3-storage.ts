import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ProjectError, StorageError } from '../../runtime/errors.js';
import type { FileRef, LocalFiles, StagedFile, StagingArea, Storage, StoredFile } from '../../runtime/storage/storage.js';
import { BrokenBodyError, DEFAULT_BACKOFF_BASE_MS, isNotFound, retryBrokenBody, storageError } from './s3-client.js';
import { quoteEtag, type ObjectCache } from './object-cache.js';
import { HIVE_FOLDER, withHiveFolders } from './s3-file-reader.js';

/** Files above this are uploaded in parts (lib-storage's Upload); smaller ones in one PutObject from memory. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
/** Part size of multipart uploads (S3's minimum is 5 MiB; 10,000 parts of 8 MiB allow 80 GB files). */
export const PART_SIZE = 8 * 1024 * 1024;
/** Parts of one file in flight: Upload buffers each, so memory is PART_SIZE × this per large file. */
const PARTS_IN_FLIGHT = 4;
/**
 * Small files uploaded at once (each read whole into memory, so a retry can resend it: at most
 * 4 × 16 MB). A 1,024 MB Lambda has the memory for little more: at 8, upload buffers reached 95 MiB
 * of the 10M-trade full build's peak.
 */
const UPLOAD_CONCURRENCY = 4;
/** Large files uploaded at once (at most 2 × 4 × 8 MB of parts in memory). */
const LARGE_UPLOAD_CONCURRENCY = 2;
/** Folder listings at once in remove(). */
const LIST_CONCURRENCY = 8;
/** DeleteObjects takes at most 1000 keys. */
const DELETE_BATCH = 1000;

/** A bucket and a key (or prefix) in it. */
export interface S3Location {
  readonly bucket: string;
  /** No leading or trailing `/`; empty for the whole bucket. */
  readonly key: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * `s3://bucket/key` split into bucket and key. A root (`root: true`) loses a trailing `/` and may
 * not contain empty segments; a pattern's key is kept as written. Malformed addresses are a
 * ProjectError: they come from the project's targets and sources.
 */
export function parseS3Uri(uri: string, options: { root?: boolean } = {}): S3Location {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/s.exec(uri);
  const expected = options.root ? 's3://bucket or s3://bucket/prefix' : 's3://bucket/key';
  if (!match) throw new ProjectError(`malformed S3 location "${uri}": expected ${expected}`, { code: 'config' });
  const bucket = match[1];
  let key = match[2] ?? '';
  if (!BUCKET_NAME.test(bucket)) {
    throw new ProjectError(`malformed S3 location "${uri}": "${bucket}" is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`, {
      code: 'config',
    });
  }
  if (options.root) {
    key = key.replace(/\/$/, '');
    if (key.split('/').some((segment) => segment === '') && key !== '') {
      throw new ProjectError(`malformed S3 location "${uri}": the prefix has an empty folder name`, { code: 'config' });
    }
  } else if (key === '') {
    throw new ProjectError(`malformed S3 location "${uri}": expected ${expected}`, { code: 'config' });
  }
  return { bucket, key };
}

/** An object as a listing gives it: its full key. */
export interface ListedObject {
  readonly key: string;
  readonly bytes: number;
  /** Quoted. */
  readonly etag: string;
}

/**
 * Every object whose key starts with `prefix`, page by page (ListObjectsV2 returns at most 1000
 * keys per call; `pageSize` asks for fewer, which tests use to reach the second page cheaply).
 * Folder markers (keys ending in `/`, made by consoles) are not files and are left out.
 */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  options: { pageSize?: number; signal?: AbortSignal } = {},
): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let token: string | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: options.pageSize }),
        { abortSignal: options.signal },
      );
    } catch (error) {
      throw storageError(error, `listing s3://${bucket}/${prefix}`);
    }
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined || o.Key.endsWith('/')) continue;
      out.push({ key: o.Key, bytes: o.Size ?? 0, etag: quoteEtag(o.ETag ?? '') });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

export interface S3StorageOptions {
  readonly client: S3Client;
  readonly cache: ObjectCache;
  /** The root as configured (`s3://bucket/prefix`). */
  readonly root: string;
  /** Keys per listing page (default S3's 1000); tests set it small. */
  readonly listPageSize?: number;
  /** Backoff base for re-reading broken bodies in readText. */
  readonly backoffBaseMs?: number;
}

/**
 * Storage in an S3 bucket under a prefix. DuckDB never talks to S3 (there is no httpfs here):
 * reads go through the object cache, writes through a local staging folder that `save()`
 * uploads. Publishing is a server-side copy (CopyObject, so at most 5 GB per file: larger ones
 * would need UploadPartCopy, which smelter's Parquet files never approach).
 */
export class S3Storage implements Storage {
  readonly description: string;
  readonly isLocal = false;
  readonly bucket: string;
  /** No trailing `/`; empty when the root is the whole bucket. */
  readonly prefix: string;
  readonly client: S3Client;
  readonly cache: ObjectCache;
  private readonly listPageSize: number | undefined;
  private readonly backoffBaseMs: number;

  constructor(options: S3StorageOptions) {
    const { bucket, key } = parseS3Uri(options.root, { root: true });
    this.description = options.root;
    this.bucket = bucket;
    this.prefix = key;
    this.client = options.client;
    this.cache = options.cache;
    this.listPageSize = options.listPageSize;
    this.backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
  }

  /** The object key of a storage key. */
  objectKey(key: string): string {
    const k = key.replace(/^\/+|\/+$/g, '');
    if (this.prefix === '') return k;
    return k === '' ? this.prefix : `${this.prefix}/${k}`;
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  async list(prefix: string): Promise<StoredFile[]> {
    const folder = this.objectKey(prefix);
    const under = folder === '' ? '' : `${folder}/`;
    const objects = await listObjects(this.client, this.bucket, under, { pageSize: this.listPageSize });
    return objects.map((o) => ({ key: o.key.slice(under.length), bytes: o.bytes, etag: o.etag })).sort((a, b) => compare(a.key, b.key));
  }

  async head(key: string): Promise<StoredFile | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { key, bytes: out.ContentLength ?? 0, etag: quoteEtag(out.ETag ?? '') };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storageError(error, `reading ${this.uri(key)}`);
    }
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await retryBrokenBody(async () => {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
        let bytes: Uint8Array;
        try {
          bytes = (await out.Body?.transformToByteArray()) ?? new Uint8Array();
        } catch (error) {
          throw new BrokenBodyError(`the body broke off (${(error as Error).message})`, { cause: error });
        }
        if (out.ContentLength !== undefined && bytes.length !== out.ContentLength) {
          throw new BrokenBodyError(`the body ended after ${bytes.length} of ${out.ContentLength} bytes`);
        }
        return Buffer.from(bytes).toString('utf8');
      }, this.backoffBaseMs);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storageError(error, `reading ${this.uri(key)}`);
    }
  }

  /** One PutObject: S3 replaces an object atomically, so a reader sees the old or the new text. */
  async writeText(key: string, text: string): Promise<void> {
    const body = Buffer.from(text, 'utf8');
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Body: body,
          ContentLength: body.length,
          ContentType: key.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8',
        }),
      );
    } catch (error) {
      throw storageError(error, `writing ${this.uri(key)}`);
    }
  }

  async localFiles(files: readonly FileRef[], signal?: AbortSignal): Promise<LocalFiles> {
    const cached = await this.cache.acquire(
      files.map((f) => ({ bucket: this.bucket, key: this.objectKey(f.key), etag: f.etag, bytes: f.bytes })),
      signal,
    );
    // A partitioned model's files are read with hive_partitioning: their paths must keep the key's
    // `column=value/` folders, which a cached download's path has not.
    const addresses = files.map((f) => this.uri(f.key));
    if (!addresses.some((a) => HIVE_FOLDER.test(a))) return cached;
    return withHiveFolders(addresses, cached, this.cache.dir);
  }

  async openStaging(key: string): Promise<StagingArea> {
    const localDir = join(this.cache.stagingDir, `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`);
    await mkdir(localDir, { recursive: true });
    return new S3StagingArea(this, key, localDir);
  }

  /**
   * CopyObject from `from` to `to`, on the condition that `from` is still the object this
   * process knows (its cached ETag, else a HeadObject's). The cached file of `from`, if any,
   * becomes `to`'s, so reading the published file downloads nothing.
   */
  async publish(from: string, to: string): Promise<StoredFile> {
    const fromKey = this.objectKey(from);
    const toKey = this.objectKey(to);
    const cached = this.cache.find(this.bucket, fromKey);
    const source = cached ?? (await this.head(from));
    const what = `publishing ${this.uri(from)} as ${this.uri(to)}`;
    if (source === undefined) throw new StorageError(`${what} failed: ${this.uri(from)} does not exist`);
    let etag: string | undefined;
    try {
      const out = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: toKey,
          CopySource: copySource(this.bucket, fromKey),
          CopySourceIfMatch: source.etag,
        }),
      );
      etag = out.CopyObjectResult?.ETag;
    } catch (error) {
      throw storageError(error, what);
    }
    if (etag === undefined) {
      const published = await this.head(to);
      if (published === undefined) throw new StorageError(`${what} failed: ${this.uri(to)} is missing after the copy`, { transient: true });
      etag = published.etag;
    }
    const published: StoredFile = { key: to, bytes: source.bytes, etag: quoteEtag(etag) };
    if (cached) await this.cache.transfer(cached, { bucket: this.bucket, key: toKey, etag: published.etag });
    return published;
  }

  /** Each key is a file, a folder (everything under `key/`), or both; DeleteObjects in batches of 1000. */
  async remove(keys: readonly string[]): Promise<void> {
    const doomed = new Set<string>();
    await forEachLimit(keys, LIST_CONCURRENCY, async (key) => {
      const objectKey = this.objectKey(key);
      if (objectKey === '') throw new StorageError(`refusing to remove ${this.description} as a whole (an empty key)`);
      doomed.add(objectKey);
      for (const o of await listObjects(this.client, this.bucket, `${objectKey}/`, { pageSize: this.listPageSize })) doomed.add(o.key);
    });
    const all = [...doomed].sort(compare);
    for (let i = 0; i < all.length; i += DELETE_BATCH) {
      const batch = all.slice(i, i + DELETE_BATCH);
      let errors;
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
        errors = out.Errors ?? [];
      } catch (error) {
        throw storageError(error, `deleting ${batch.length} objects under s3://${this.bucket}/${this.prefix}`);
      }
      if (errors.length > 0) {
        const first = errors[0];
        const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
        throw storageError({ name: first.Code, message: first.Message }, `deleting s3://${this.bucket}/${first.Key}${more}`);
      }
    }
  }
}

/** A local folder under the cache's `staging/` whose files become objects under the staging key. */
class S3StagingArea implements StagingArea {
  constructor(
    private readonly storage: S3Storage,
    private readonly key: string,
    readonly localDir: string,
  ) {}

  /**
   * Upload every file (recursively, keeping relative paths such as Hive `year=2024/` folders)
   * under the staging key, in parallel; each uploaded file is then linked into the object cache.
   */
  async save(): Promise<StagedFile[]> {
    const files = await walk(this.localDir);
    const sizes = new Map(await Promise.all(files.map(async (f) => [f, (await stat(join(this.localDir, f))).size] as const)));
    const small = files.filter((f) => sizes.get(f)! <= MULTIPART_THRESHOLD);
    const large = files.filter((f) => sizes.get(f)! > MULTIPART_THRESHOLD);
    const staged: StagedFile[] = [];
    await Promise.all([
      forEachLimit(small, UPLOAD_CONCURRENCY, async (f) => void staged.push(await this.upload(f, sizes.get(f)!))),
      forEachLimit(large, LARGE_UPLOAD_CONCURRENCY, async (f) => void staged.push(await this.upload(f, sizes.get(f)!))),
    ]);
    return staged.sort((a, b) => compare(a.key, b.key));
  }

  async discard(): Promise<void> {
    await rm(this.localDir, { recursive: true, force: true });
  }

  private async upload(relative: string, bytes: number): Promise<StagedFile> {
    const s = this.storage;
    const path = join(this.localDir, relative);
    const key = s.objectKey(`${this.key}/${relative}`);
    const what = `uploading ${path} to s3://${s.bucket}/${key}`;
    let etag: string | undefined;
    let sha256: string;
    try {
      if (bytes <= MULTIPART_THRESHOLD) {
        // From memory, so the SDK can resend the body on a retry (a stream cannot be rewound).
        const body = await readFile(path);
        sha256 = createHash('sha256').update(body).digest('hex');
        const out = await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body, ContentLength: body.length }));
        etag = out.ETag;
      } else {
        const hash = createHash('sha256');
        const source = createReadStream(path);
        const body = source.pipe(
          new Transform({
            transform(chunk: Buffer, _encoding, done) {
              hash.update(chunk);
              done(null, chunk);
            },
          }),
        );
        source.once('error', (error) => body.destroy(error));
        try {
          const upload = new Upload({
            client: s.client,
            params: { Bucket: s.bucket, Key: key, Body: body },
            partSize: PART_SIZE,
            queueSize: PARTS_IN_FLIGHT,
            leavePartsOnError: false,
          });
          etag = (await upload.done()).ETag;
        } finally {
          source.destroy();
        }
        sha256 = hash.digest('hex');
      }
    } catch (error) {
      throw storageError(error, what);
    }
    if (etag === undefined) throw new StorageError(`${what} failed: S3 returned no ETag`, { transient: true });
    const file: StagedFile = { key: relative, bytes, sha256, etag: quoteEtag(etag) };
    await s.cache.adopt(path, { bucket: s.bucket, key, etag: file.etag, bytes, sha256 });
    return file;
  }
}

/** Files under `dir`, recursively, as `/`-separated relative paths. */
async function walk(dir: string, relative = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, relative), { withFileTypes: true })) {
    const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await walk(dir, child)));
    else if (entry.isFile()) out.push(child);
  }
  return out;
}

/**
 * x-amz-copy-source: bucket and key, URL-encoded. `/`, `=` and a few other characters stay
 * literal: S3 accepts them, and S3-compatible servers that decode with decodeURI need them so
 * (Hive folders are `col=value/`).
 */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replace(/%(2F|3D|3A|40|2C|24|3B)/g, (escaped) => decodeURIComponent(escaped))}`;
}

/** Code-unit order, as `Array.prototype.sort` and the local storage sort keys. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Run `task` on each item, `limit` at a time; the first failure is thrown once all started tasks end. */
async function forEachLimit<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
