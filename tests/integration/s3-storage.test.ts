import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { entryName, openS3, type S3Access } from '../../adapters/s3/index.js';
import { InterruptedError, ProjectError, StorageError } from '../../runtime/errors.js';
import type { StoredFile } from '../../runtime/storage/storage.js';
import { createBucket, startS3rver, testS3Client, type S3Server } from '../helpers/s3-server.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';

/**
 * The S3 adapter against s3rver (a real S3 API, objects on disk) in a child process, reached
 * through a counting, fault-injecting proxy. Objects are seeded straight to s3rver, so the proxy
 * counts only what the adapter does.
 */

const LAKE = 'smelter-lake';
const SOURCES = 'smelter-sources';
const ROOT = `s3://${LAKE}/warehouse`;

let server: S3Server;
let proxy: S3Proxy;
let seed: S3Client;
let work: string;
let s3: S3Access;
const opened: S3Access[] = [];

function env(): NodeJS.ProcessEnv {
  return { AWS_ENDPOINT_URL_S3: proxy.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
}

/** S3 access with a cache in `cacheDir` (a fresh one by default) and a 1 ms backoff base. */
function open(options: { cacheDir?: string; cacheMaxBytes?: number; listPageSize?: number } = {}): S3Access {
  const access = openS3({
    env: env(),
    cacheDir: options.cacheDir ?? mkdtempSync(join(work, 'cache-')),
    cacheMaxBytes: options.cacheMaxBytes ?? 1 << 30,
    clientOptions: { backoffBaseMs: 1 },
    listPageSize: options.listPageSize,
  });
  opened.push(access);
  return access;
}

async function put(bucket: string, key: string, body: Buffer | string): Promise<void> {
  await seed.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body) }));
}

async function getBytes(bucket: string, key: string): Promise<Buffer> {
  const out = await seed.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

const md5Etag = (data: Buffer | string) => `"${createHash('md5').update(data).digest('hex')}"`;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
/** `n` bytes that differ from one object to the next. */
function bytesOf(n: number, salt: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + salt) % 251;
  return out;
}

/** Whatever was thrown by `promise`. */
async function failure(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StorageError) return error;
    throw error;
  }
  throw new Error('expected a StorageError');
}

/** Files in a cache's objects/ folder (temp files included). */
const cachedFiles = (access: S3Access) => readdirSync(join(access.cache.dir, 'objects')).sort();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'smelter-s3-test-'));
  server = await startS3rver();
  proxy = await startS3Proxy(server.endpoint);
  seed = testS3Client(server.endpoint);
  await createBucket(server.endpoint, LAKE);
  await createBucket(server.endpoint, SOURCES);
  s3 = open();
});

afterAll(async () => {
  for (const access of opened) access.close();
  seed?.destroy();
  await proxy?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  proxy.reset();
  proxy.clearFaults();
});

describe('roots', () => {
  it('a root names a bucket and an optional prefix, and keys are addressed under it', () => {
    expect(s3.storage(`${ROOT}/`).uri('gold/dim_date/part-0.parquet')).toBe('s3://smelter-lake/warehouse/gold/dim_date/part-0.parquet');
    expect(s3.storage('s3://smelter-lake').uri('gold/x.parquet')).toBe('s3://smelter-lake/gold/x.parquet');
    expect(s3.storage(ROOT).description).toBe(ROOT);
    expect(s3.storage(ROOT).isLocal).toBe(false);
  });

  it('a malformed root is a ProjectError saying what is wrong', () => {
    const message = (root: string) => {
      try {
        s3.storage(root);
      } catch (error) {
        expect(error).toBeInstanceOf(ProjectError);
        return (error as ProjectError).message;
      }
      return 'accepted';
    };
    expect(message('s3:/smelter-lake/x')).toBe('malformed S3 location "s3:/smelter-lake/x": expected s3://bucket or s3://bucket/prefix');
    expect(message('target/lake')).toBe('malformed S3 location "target/lake": expected s3://bucket or s3://bucket/prefix');
    expect(message('s3://Smelter_Lake/x')).toBe(
      'malformed S3 location "s3://Smelter_Lake/x": "Smelter_Lake" is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)',
    );
    expect(message('s3://smelter-lake/a//b')).toBe('malformed S3 location "s3://smelter-lake/a//b": the prefix has an empty folder name');
  });
});

describe('listing and head', () => {
  it('lists every page of a folder, recursively, keys relative to it and sorted', async () => {
    const keys = ['many/e.txt', 'many/a.txt', 'many/sub/deep.txt', 'many/c.txt', 'many/b.txt', 'many/d.txt'];
    for (const key of keys) await put(LAKE, `warehouse/${key}`, key);
    await put(LAKE, 'warehouse/many-not/x.txt', 'beside the folder');
    const paged = open({ listPageSize: 2 });
    proxy.reset();

    const files = await paged.storage(ROOT).list('many');

    expect(files).toEqual(
      ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt', 'sub/deep.txt'].map((key) => ({ key, bytes: `many/${key}`.length, etag: md5Etag(`many/${key}`) })),
    );
    expect(proxy.snapshot().requests.LIST).toBe(3);
    expect(await paged.storage(ROOT).list('many/')).toEqual(files);
    expect(await paged.storage(ROOT).list('nothing-here')).toEqual([]);
  });

  it('head gives size and ETag, or undefined for a missing key', async () => {
    await put(LAKE, 'warehouse/head/one.json', '{"a":1}');
    expect(await s3.storage(ROOT).head('head/one.json')).toEqual({ key: 'head/one.json', bytes: 7, etag: md5Etag('{"a":1}') });
    expect(await s3.storage(ROOT).head('head/missing.json')).toBeUndefined();
  });

  it('a missing bucket is a non-transient StorageError naming it', async () => {
    const error = await failure(s3.storage('s3://no-such-bucket/lake').list('gold'));
    expect(error.message).toBe('listing s3://no-such-bucket/lake/gold/ failed: NoSuchBucket (HTTP 404): The specified bucket does not exist');
    expect(error.transient).toBe(false);
    expect(error.hint).toBe('the bucket does not exist in this account and region (AWS_REGION, AWS_ENDPOINT_URL_S3)');
  });
});

describe('source globs', () => {
  const objects: Record<string, string> = {
    'silver/transactions/_SUCCESS': '',
    'silver/transactions/year=2023/month=12/part-0.parquet': 'dec',
    'silver/transactions/year=2024/month=01/part-0.parquet': 'jan 0',
    'silver/transactions/year=2024/month=01/part-1.parquet': 'jan 1!',
    'silver/transactions/year=2024/month=02/part-0.parquet': 'feb 0..',
    'silver/members/members.csv': 'id,name\n1,Ann\n',
    'silver/members/archive/members-2023.csv': 'id,name\n',
  };
  const address = (key: string) => ({ address: `s3://${SOURCES}/${key}`, bytes: Buffer.byteLength(objects[key]), etag: md5Etag(objects[key]) });

  beforeAll(async () => {
    for (const [key, body] of Object.entries(objects)) await put(SOURCES, key, body);
  });

  it('** crosses Hive folders, through every listing page', async () => {
    const reader = open({ listPageSize: 2 }).reader;
    proxy.reset();
    expect(await reader.match(`s3://${SOURCES}/silver/transactions/**/*.parquet`)).toEqual([
      address('silver/transactions/year=2023/month=12/part-0.parquet'),
      address('silver/transactions/year=2024/month=01/part-0.parquet'),
      address('silver/transactions/year=2024/month=01/part-1.parquet'),
      address('silver/transactions/year=2024/month=02/part-0.parquet'),
    ]);
    // Five keys under silver/transactions/, two per page.
    expect(proxy.snapshot().requests.LIST).toBe(3);
  });

  it('* and ? stay within a folder; a literal address matches itself', async () => {
    const reader = s3.reader;
    expect(reader.handles(`s3://${SOURCES}/x`)).toBe(true);
    expect(reader.handles('/data/silver/x')).toBe(false);
    expect(await reader.match(`s3://${SOURCES}/silver/transactions/year=2024/*/part-?.parquet`)).toEqual([
      address('silver/transactions/year=2024/month=01/part-0.parquet'),
      address('silver/transactions/year=2024/month=01/part-1.parquet'),
      address('silver/transactions/year=2024/month=02/part-0.parquet'),
    ]);
    expect(await reader.match(`s3://${SOURCES}/silver/members/*.csv`)).toEqual([address('silver/members/members.csv')]);
    expect(await reader.match(`s3://${SOURCES}/silver/members/**`)).toEqual([
      address('silver/members/archive/members-2023.csv'),
      address('silver/members/members.csv'),
    ]);
    expect(await reader.match(`s3://${SOURCES}/silver/members/members.csv`)).toEqual([address('silver/members/members.csv')]);
    expect(await reader.match(`s3://${SOURCES}/gold/**`)).toEqual([]);
  });

  it('matched files are read through the cache, with their SHA-256', async () => {
    const matched = await s3.reader.match(`s3://${SOURCES}/silver/members/**`);
    const lease = await s3.reader.localFiles(matched);
    try {
      expect(lease.paths.map((p) => readFileSync(p, 'utf8'))).toEqual([objects['silver/members/archive/members-2023.csv'], objects['silver/members/members.csv']]);
      expect(lease.paths[1].endsWith('.csv')).toBe(true);
      expect(proxy.snapshot().bytes.GET).toBe(Buffer.byteLength(objects['silver/members/archive/members-2023.csv']) + Buffer.byteLength(objects['silver/members/members.csv']));
    } finally {
      lease.release();
    }
  });
});

describe('text files', () => {
  it('writeText and readText round-trip UTF-8, and a rewrite replaces the whole text', async () => {
    const storage = s3.storage(ROOT);
    const text = '{"table_name":"gold.fact","note":"café ✓"}';
    await storage.writeText('.smelter/manifests/gold.fact.json', text);
    expect(proxy.snapshot().bytes.PUT).toBe(Buffer.byteLength(text));
    expect(await storage.readText('.smelter/manifests/gold.fact.json')).toBe(text);
    await storage.writeText('.smelter/manifests/gold.fact.json', '{}');
    expect(await storage.readText('.smelter/manifests/gold.fact.json')).toBe('{}');
    expect((await getBytes(LAKE, 'warehouse/.smelter/manifests/gold.fact.json')).toString()).toBe('{}');
  });

  it('readText of a missing key is undefined', async () => {
    expect(await s3.storage(ROOT).readText('.smelter/manifests/none.json')).toBeUndefined();
  });
});

describe('staging, publish and remove', () => {
  it('uploads a staging folder (multipart above 16 MB), publishes by copy and removes folders', async () => {
    const access = open();
    const storage = access.storage(ROOT);
    const staging = await storage.openStaging('.smelter/staging/run-1/gold/fact');
    expect(staging.localDir.startsWith(join(access.cache.dir, 'staging') + '/')).toBe(true);
    const small = bytesOf(1000, 1);
    const hive = bytesOf(2345, 2);
    const big = bytesOf(17 * 1024 * 1024 + 5, 3);
    writeFileSync(join(staging.localDir, 'part-0.parquet'), small);
    mkdirSync(join(staging.localDir, 'year=2024', 'month=01'), { recursive: true });
    writeFileSync(join(staging.localDir, 'year=2024', 'month=01', 'part-1.parquet'), hive);
    writeFileSync(join(staging.localDir, 'big.parquet'), big);

    const staged = await staging.save();

    const bigHead = await storage.head('.smelter/staging/run-1/gold/fact/big.parquet');
    expect(staged).toEqual([
      { key: 'big.parquet', bytes: big.length, sha256: sha256(big), etag: bigHead!.etag },
      { key: 'part-0.parquet', bytes: 1000, sha256: sha256(small), etag: md5Etag(small) },
      { key: 'year=2024/month=01/part-1.parquet', bytes: 2345, sha256: sha256(hive), etag: md5Etag(hive) },
    ]);
    const uploads = proxy.totals(`${LAKE}/warehouse/.smelter/staging/run-1/gold/fact/`);
    // Two PutObjects and three parts (8 + 8 + 1 MiB); CreateMultipartUpload and Complete.
    expect(uploads.requests.PUT).toBe(5);
    expect(uploads.requests.POST).toBe(2);
    expect(uploads.bytes.PUT).toBe(1000 + 2345 + big.length);
    expect(sha256(await getBytes(LAKE, 'warehouse/.smelter/staging/run-1/gold/fact/big.parquet'))).toBe(sha256(big));

    proxy.reset();
    const published: StoredFile[] = [];
    for (const f of staged) published.push(await storage.publish(`.smelter/staging/run-1/gold/fact/${f.key}`, `gold/fact/${f.key}`));
    expect(published).toEqual(staged.map((f) => ({ key: `gold/fact/${f.key}`, bytes: f.bytes, etag: published.find((p) => p.key === `gold/fact/${f.key}`)!.etag })));
    for (const p of published) expect((await storage.head(p.key))!.etag).toBe(p.etag);
    expect(proxy.snapshot().requests.COPY).toBe(3);

    // The uploaded files went into the cache, and moved with the copy: reading them downloads nothing.
    proxy.reset();
    const lease = await storage.localFiles(published.map((p) => ({ key: p.key, bytes: p.bytes, etag: p.etag })));
    try {
      expect(lease.paths.map((p) => sha256(readFileSync(p)))).toEqual([sha256(big), sha256(small), sha256(hive)]);
    } finally {
      lease.release();
    }
    expect(proxy.snapshot().requests.GET).toBe(0);
    expect(access.cache.stats()).toMatchObject({ hits: 3, misses: 0, bytesDownloaded: 0, entries: 3 });

    proxy.reset();
    await storage.remove(['.smelter/staging/run-1']);
    expect(proxy.snapshot().requests).toMatchObject({ LIST: 1, DELETE: 1 });
    expect(await storage.list('.smelter/staging/run-1')).toEqual([]);
    expect((await storage.list('gold/fact')).map((f) => f.key)).toEqual(['big.parquet', 'part-0.parquet', 'year=2024/month=01/part-1.parquet']);

    await storage.remove(['gold/fact/part-0.parquet', 'gold/fact/never-written.parquet', 'gold/fact/year=2024']);
    expect((await storage.list('gold/fact')).map((f) => f.key)).toEqual(['big.parquet']);

    await staging.discard();
    expect(existsSync(staging.localDir)).toBe(false);
  });

  it('publishing a file the cache does not know looks it up first; a missing one is a StorageError', async () => {
    const body = bytesOf(4321, 9);
    await put(LAKE, 'warehouse/.smelter/staging/run-2/x.parquet', body);
    const published = await s3.storage(ROOT).publish('.smelter/staging/run-2/x.parquet', 'gold/x/x.parquet');
    expect(published).toEqual({ key: 'gold/x/x.parquet', bytes: 4321, etag: md5Etag(body) });
    expect(proxy.snapshot().requests).toMatchObject({ HEAD: 1, COPY: 1 });
    expect((await getBytes(LAKE, 'warehouse/gold/x/x.parquet')).equals(body)).toBe(true);

    const error = await failure(s3.storage(ROOT).publish('.smelter/staging/none/a.parquet', 'gold/a.parquet'));
    expect(error.message).toBe(
      'publishing s3://smelter-lake/warehouse/.smelter/staging/none/a.parquet as s3://smelter-lake/warehouse/gold/a.parquet failed: s3://smelter-lake/warehouse/.smelter/staging/none/a.parquet does not exist',
    );
    expect(error.transient).toBe(false);
  });
});

describe('object cache', () => {
  const content = bytesOf(3000, 7);
  let cacheDir: string;

  beforeAll(async () => {
    await put(LAKE, 'warehouse/cache/a.parquet', content);
    cacheDir = mkdtempSync(join(work, 'shared-cache-'));
  });

  it('downloads once: the second read is a hit with no request', async () => {
    const access = open({ cacheDir });
    const storage = access.storage(ROOT);
    const ref = { key: 'cache/a.parquet', bytes: 3000, etag: md5Etag(content) };
    const first = await storage.localFiles([ref]);
    first.release();
    expect(proxy.snapshot().requests.GET).toBe(1);
    expect(proxy.snapshot().bytes.GET).toBe(3000);

    proxy.reset();
    const second = await storage.localFiles([ref, ref]);
    second.release();
    expect(second.paths).toEqual([first.paths[0], first.paths[0]]);
    expect(readFileSync(second.paths[0]).equals(content)).toBe(true);
    expect(proxy.snapshot().requests.GET).toBe(0);
    expect(proxy.snapshot().bytes.GET).toBe(0);
    expect(access.cache.stats()).toEqual({ hits: 2, misses: 1, bytesDownloaded: 3000, evictions: 0, entries: 1, bytesCached: 3000 });
  });

  it('a fresh process finds the entries already on disk', async () => {
    const access = open({ cacheDir });
    const lease = await access.storage(ROOT).localFiles([{ key: 'cache/a.parquet', bytes: 3000, etag: md5Etag(content) }]);
    lease.release();
    expect(proxy.snapshot().requests.GET).toBe(0);
    expect(access.cache.stats()).toEqual({ hits: 1, misses: 0, bytesDownloaded: 0, evictions: 0, entries: 1, bytesCached: 3000 });
    expect(access.cache.find(LAKE, 'warehouse/cache/a.parquet')).toMatchObject({ etag: md5Etag(content), bytes: 3000, sha256: sha256(content) });
  });

  it('a fresh process drops what killed processes left: old temp files and files without a record', async () => {
    const objects = join(cacheDir, 'objects');
    writeFileSync(join(objects, '.tmp-killed-download'), 'half');
    utimesSync(join(objects, '.tmp-killed-download'), new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
    writeFileSync(join(objects, '.tmp-download-in-progress'), 'half');
    writeFileSync(join(objects, entryName(LAKE, 'warehouse/cache/unrecorded.parquet', '"abc"')), 'no record');
    const access = open({ cacheDir });
    (await access.storage(ROOT).localFiles([{ key: 'cache/a.parquet', bytes: 3000, etag: md5Etag(content) }])).release();
    expect(cachedFiles(access)).toEqual(['.tmp-download-in-progress', entryName(LAKE, 'warehouse/cache/a.parquet', md5Etag(content))].sort());
    expect(access.cache.stats()).toMatchObject({ hits: 1, misses: 0, entries: 1 });
    rmSync(join(objects, '.tmp-download-in-progress'));
  });

  it('without an ETag the object is looked up first; a rewritten object is a new entry', async () => {
    const access = open({ cacheDir });
    const storage = access.storage(ROOT);
    const hit = await storage.localFiles([{ key: 'cache/a.parquet' }]);
    hit.release();
    expect(proxy.snapshot().requests).toMatchObject({ HEAD: 1, GET: 0 });

    const rewritten = bytesOf(1234, 8);
    await put(LAKE, 'warehouse/cache/a.parquet', rewritten);
    proxy.reset();
    const fresh = await storage.localFiles([{ key: 'cache/a.parquet' }]);
    fresh.release();
    expect(proxy.snapshot().requests).toMatchObject({ HEAD: 1, GET: 1 });
    expect(readFileSync(fresh.paths[0]).equals(rewritten)).toBe(true);
    expect(fresh.paths[0]).not.toBe(hit.paths[0]);
    expect(access.cache.stats()).toMatchObject({ entries: 2, bytesCached: 3000 + 1234 });
    await put(LAKE, 'warehouse/cache/a.parquet', content);
  });

  it('an ETag or size other than the expected one is a non-transient error naming the object, and caches nothing', async () => {
    const access = open();
    const storage = access.storage(ROOT);
    const wrongTag = await failure(storage.localFiles([{ key: 'cache/a.parquet', etag: '"0123456789abcdef0123456789abcdef"' }]));
    expect(wrongTag.message).toBe(
      `s3://smelter-lake/warehouse/cache/a.parquet has ETag ${md5Etag(content)}, not the expected "0123456789abcdef0123456789abcdef": the object changed after it was listed or committed`,
    );
    expect(wrongTag.transient).toBe(false);
    const wrongSize = await failure(storage.localFiles([{ key: 'cache/a.parquet', bytes: 2999 }]));
    expect(wrongSize.message).toBe(
      's3://smelter-lake/warehouse/cache/a.parquet has 3000 bytes, not the expected 2999: the object changed after it was listed or committed',
    );
    expect(wrongSize.transient).toBe(false);
    expect(cachedFiles(access)).toEqual([]);
  });

  it('evicts least recently used files past the budget, never held ones', async () => {
    const access = open({ cacheMaxBytes: 2500 });
    const storage = access.storage(ROOT);
    const refs: Record<string, { key: string; bytes: number; etag: string }> = {};
    for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) {
      const body = bytesOf(1000, 20 + i);
      await put(LAKE, `warehouse/evict/${name}.parquet`, body);
      refs[name] = { key: `evict/${name}.parquet`, bytes: 1000, etag: md5Etag(body) };
    }
    const fileOf = (name: string) => join(access.cache.dir, 'objects', entryName(LAKE, `warehouse/evict/${name}.parquet`, refs[name].etag));

    const a = await storage.localFiles([refs.a]);
    (await storage.localFiles([refs.b])).release();
    const c = await storage.localFiles([refs.c]);
    // a (held) and c fit; b, released, made room.
    expect([existsSync(fileOf('a')), existsSync(fileOf('b')), existsSync(fileOf('c'))]).toEqual([true, false, true]);
    expect(access.cache.stats()).toMatchObject({ evictions: 1, entries: 2, bytesCached: 2000 });

    // Everything is held: the cache goes over its budget rather than evict a file in use.
    const d = await storage.localFiles([refs.d]);
    expect(access.cache.stats()).toMatchObject({ evictions: 1, entries: 3, bytesCached: 3000 });
    expect(readFileSync(a.paths[0]).length + readFileSync(c.paths[0]).length + readFileSync(d.paths[0]).length).toBe(3000);

    a.release();
    await sleep(5);
    c.release();
    await sleep(5);
    d.release();
    // b again: a and c, the least recently released, make room.
    (await storage.localFiles([refs.b])).release();
    expect(['a', 'b', 'c', 'd'].filter((name) => existsSync(fileOf(name)))).toEqual(['b', 'd']);
    expect(access.cache.stats()).toMatchObject({ evictions: 3, entries: 2, bytesCached: 2000, misses: 5 });
  });
});

describe('faults', () => {
  const body = bytesOf(10_000, 40);
  const etag = md5Etag(body);
  const getOf = (key: string) => (r: { op: string; key: string }) => r.op === 'GET' && r.key === `warehouse/${key}`;

  beforeAll(async () => {
    for (const key of ['slow', 'reset', 'cut-once', 'cut-always', 'down']) await put(LAKE, `warehouse/faults/${key}.bin`, body);
  });

  it('503 SlowDown twice, then success', async () => {
    const access = open();
    const fault = proxy.fail({ match: getOf('faults/slow.bin'), times: 2, kind: '503' });
    const lease = await access.storage(ROOT).localFiles([{ key: 'faults/slow.bin', bytes: 10_000, etag }]);
    lease.release();
    expect(fault.hits).toBe(2);
    expect(proxy.snapshot().requests.GET).toBe(3);
    expect(proxy.snapshot().bytes.GET).toBe(10_000);
    expect(sha256(readFileSync(lease.paths[0]))).toBe(sha256(body));
  });

  it('a connection reset once, then success', async () => {
    const access = open();
    const fault = proxy.fail({ match: getOf('faults/reset.bin'), times: 1, kind: 'reset' });
    const lease = await access.storage(ROOT).localFiles([{ key: 'faults/reset.bin', bytes: 10_000, etag }]);
    lease.release();
    expect(fault.hits).toBe(1);
    expect(proxy.snapshot().requests.GET).toBe(2);
    expect(sha256(readFileSync(lease.paths[0]))).toBe(sha256(body));
  });

  it('a body truncated once is downloaded again', async () => {
    const access = open();
    const fault = proxy.fail({ match: getOf('faults/cut-once.bin'), times: 1, kind: 'truncate' });
    const lease = await access.storage(ROOT).localFiles([{ key: 'faults/cut-once.bin', bytes: 10_000, etag }]);
    lease.release();
    expect(fault.hits).toBe(1);
    expect(proxy.snapshot().requests.GET).toBe(2);
    expect(proxy.snapshot().bytes.GET).toBe(5_000 + 10_000);
    expect(access.cache.stats()).toMatchObject({ misses: 1, bytesDownloaded: 15_000, entries: 1 });
    expect(sha256(readFileSync(lease.paths[0]))).toBe(sha256(body));
  });

  it('a body truncated every time fails transient and leaves no cache entry', async () => {
    const access = open();
    proxy.fail({ match: getOf('faults/cut-always.bin'), times: Infinity, kind: 'truncate' });
    const error = await failure(access.storage(ROOT).localFiles([{ key: 'faults/cut-always.bin', bytes: 10_000, etag }]));
    expect(error.message).toBe(
      'reading s3://smelter-lake/warehouse/faults/cut-always.bin failed: BrokenBody after 3 attempts: the body broke off after 5000 of 10000 bytes (aborted)',
    );
    expect(error.transient).toBe(true);
    expect(proxy.snapshot().requests.GET).toBe(3);
    expect(cachedFiles(access)).toEqual([]);
    expect(access.cache.stats()).toMatchObject({ entries: 0, bytesCached: 0 });
  });

  it('a persistent 503 ends in a transient StorageError once the SDK has retried', async () => {
    const access = open();
    proxy.fail({ match: getOf('faults/down.bin'), times: Infinity, kind: '503' });
    const error = await failure(access.storage(ROOT).localFiles([{ key: 'faults/down.bin', bytes: 10_000, etag }]));
    expect(error).toBeInstanceOf(StorageError);
    expect(error.message).toBe('reading s3://smelter-lake/warehouse/faults/down.bin failed: SlowDown (HTTP 503) after 5 attempts: Please reduce your request rate.');
    expect(error.transient).toBe(true);
    expect(proxy.snapshot().requests.GET).toBe(5);
    expect(cachedFiles(access)).toEqual([]);

    proxy.fail({ match: (r) => r.op === 'PUT', times: Infinity, kind: '503' });
    const write = await failure(access.storage(ROOT).writeText('faults/state.json', '{}'));
    expect(write.message).toBe('writing s3://smelter-lake/warehouse/faults/state.json failed: SlowDown (HTTP 503) after 5 attempts: Please reduce your request rate.');
    expect(write.transient).toBe(true);
  });

  it('an aborted read is an InterruptedError and caches nothing', async () => {
    const access = open();
    const controller = new AbortController();
    controller.abort();
    await expect(access.storage(ROOT).localFiles([{ key: 'faults/slow.bin', bytes: 10_000, etag }], controller.signal)).rejects.toBeInstanceOf(InterruptedError);
    expect(cachedFiles(access)).toEqual([]);
  });

  it('persistent resets end in a transient StorageError', async () => {
    proxy.fail({ match: (r) => r.op === 'LIST', times: Infinity, kind: 'reset' });
    const error = await failure(s3.storage(ROOT).list('faults'));
    expect(error.message).toBe('listing s3://smelter-lake/warehouse/faults/ failed: ECONNRESET after 5 attempts: socket hang up');
    expect(error.transient).toBe(true);
    expect(proxy.snapshot().requests.LIST).toBe(5);
  });
});
