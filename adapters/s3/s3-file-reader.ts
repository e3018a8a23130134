import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { FileReader, SourceObject } from '../../runtime/storage/file-reader.js';
import type { LocalFiles } from '../../runtime/storage/storage.js';
import type { ObjectCache } from './object-cache.js';
import { listObjects, parseS3Uri } from './s3-storage.js';

/**
 * The part of a glob before its first wildcard: what can be listed with S3's prefix filter
 * (it may end inside a folder name: `data/part-*` lists `data/part-`).
 */
export function literalPrefix(glob: string): string {
  const i = glob.search(/[*?]/);
  return i === -1 ? glob : glob.slice(0, i);
}

/**
 * An anchored RegExp for a key glob: `*` matches within one path segment and `?` one character
 * other than `/`. `**` standing as a whole segment matches any number of segments, none included
 * (between two slashes it matches `a/b` as well as `a/x/y/b`; at the end, everything below the
 * folder); `**` inside a segment is a `*`. Every other character is literal, `[` included (S3 keys
 * may contain it). Examples in tests/unit/s3-glob.test.ts.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let i = 0;
  while (i < glob.length) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      const wholeSegment = i === 0 || glob[i - 1] === '/';
      const after = i + 2;
      if (wholeSegment && glob[after] === '/') {
        re += '(?:[^/]+/)*';
        i = after + 1;
      } else if (wholeSegment && after === glob.length) {
        re += '.*';
        i = after;
      } else {
        re += '[^/]*';
        i = after;
      }
    } else if (c === '*') {
      re += '[^/]*';
      i += 1;
    } else if (c === '?') {
      re += '[^/]';
      i += 1;
    } else {
      re += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
      i += 1;
    }
  }
  return new RegExp(`^${re}$`, 's');
}

export interface S3FileReaderOptions {
  readonly client: S3Client;
  readonly cache: ObjectCache;
  /** Keys per listing page (default S3's 1000); tests set it small. */
  readonly listPageSize?: number;
}

/**
 * A source's files in S3, in any bucket the credentials can read: the pattern's literal prefix is
 * listed (every page) and the keys matched against the glob; files are read through the object
 * cache shared with S3Storage.
 */
export class S3FileReader implements FileReader {
  private readonly client: S3Client;
  private readonly cache: ObjectCache;
  private readonly listPageSize: number | undefined;

  constructor(options: S3FileReaderOptions) {
    this.client = options.client;
    this.cache = options.cache;
    this.listPageSize = options.listPageSize;
  }

  handles(address: string): boolean {
    return address.startsWith('s3://');
  }

  async match(pattern: string, signal?: AbortSignal): Promise<SourceObject[]> {
    const { bucket, key } = parseS3Uri(pattern);
    const matcher = globToRegExp(key);
    const listed = await listObjects(this.client, bucket, literalPrefix(key), { pageSize: this.listPageSize, signal });
    return listed
      .filter((o) => matcher.test(o.key))
      .map((o) => ({ address: `s3://${bucket}/${o.key}`, bytes: o.bytes, etag: o.etag }))
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  async localFiles(objects: readonly SourceObject[], signal?: AbortSignal): Promise<LocalFiles> {
    const cached = await this.cache.acquire(
      objects.map((o) => {
        const { bucket, key } = parseS3Uri(o.address);
        return { bucket, key, etag: o.etag, bytes: o.bytes };
      }),
      signal,
    );
    if (!objects.some((o) => HIVE_FOLDER.test(o.address))) return cached;
    return withHiveFolders(
      objects.map((o) => o.address),
      cached,
      this.cache.dir,
    );
  }
}

/** A `column=value/` folder of a Hive-partitioned layout. */
export const HIVE_FOLDER = /\/[^/=]+=[^/]*\//;

/**
 * DuckDB reads Hive partition columns from a file's path, and a cached download's path has none:
 * the files (at `s3://` addresses) are handed out as symbolic links that keep the objects' keys
 * (under a folder of their own, removed on release), so `year=2024/month=01/part-0.parquet` still
 * says year and month. Used for sources, and for the committed files of partitioned external models.
 */
export async function withHiveFolders(addresses: readonly string[], cached: LocalFiles, cacheDir: string): Promise<LocalFiles> {
  const root = join(cacheDir, 'links', randomUUID());
  try {
    const paths: string[] = [];
    for (const [i, address] of addresses.entries()) {
      const { bucket, key } = parseS3Uri(address);
      const path = join(root, bucket, key);
      await mkdir(dirname(path), { recursive: true });
      await symlink(cached.paths[i], path);
      paths.push(path);
    }
    return {
      paths,
      release: () => {
        rmSync(root, { recursive: true, force: true });
        cached.release();
      },
    };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    cached.release();
    throw error;
  }
}
