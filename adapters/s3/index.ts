import type { S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_CACHE_DIR, ObjectCache } from './object-cache.js';
import { createS3Client, type S3ClientOptions } from './s3-client.js';
import { S3FileReader } from './s3-file-reader.js';
import { S3Storage } from './s3-storage.js';

export { ObjectCache, DEFAULT_CACHE_DIR, entryName, quoteEtag } from './object-cache.js';
export type { CacheLease, CacheStats, CachedObject, ObjectRequest } from './object-cache.js';
export { BrokenBodyError, createS3Client, storageError } from './s3-client.js';
export type { S3ClientOptions } from './s3-client.js';
export { S3FileReader, globToRegExp, literalPrefix } from './s3-file-reader.js';
export { MULTIPART_THRESHOLD, PART_SIZE, S3Storage, listObjects, parseS3Uri } from './s3-storage.js';
export type { S3Location } from './s3-storage.js';

export interface OpenS3Options {
  /** Where region, endpoint, credentials and SMELTER_CACHE_DIR come from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** The object cache's folder (default SMELTER_CACHE_DIR, else /tmp/smelter-cache). */
  readonly cacheDir?: string;
  /** The cache's byte budget: the target's `cache_max_bytes`. */
  readonly cacheMaxBytes: number;
  /** Retry settings of the client (tests shorten the backoff). */
  readonly clientOptions?: S3ClientOptions;
  /** Keys per listing page (default S3's 1000); tests set it small to reach later pages. */
  readonly listPageSize?: number;
}

/** One S3 client and one object cache, shared by every storage root and the source reader. */
export interface S3Access {
  /** Storage under `root` (`s3://bucket` or `s3://bucket/prefix`); a malformed root is a ProjectError. */
  storage(root: string): S3Storage;
  readonly reader: S3FileReader;
  readonly cache: ObjectCache;
  readonly client: S3Client;
  /** Close the client's sockets (the cache stays on disk). */
  close(): void;
}

/**
 * S3 for a process: made once (a Lambda keeps it across warm invocations, so the cache's index
 * and the client's connections are reused), with storages made per root.
 */
export function openS3(options: OpenS3Options): S3Access {
  const env = options.env ?? process.env;
  const client = createS3Client(env, options.clientOptions);
  const backoffBaseMs = options.clientOptions?.backoffBaseMs;
  const cache = new ObjectCache({
    client,
    dir: options.cacheDir ?? (env.SMELTER_CACHE_DIR || DEFAULT_CACHE_DIR),
    maxBytes: options.cacheMaxBytes,
    backoffBaseMs,
  });
  const listPageSize = options.listPageSize;
  return {
    storage: (root) => new S3Storage({ client, cache, root, listPageSize, backoffBaseMs }),
    reader: new S3FileReader({ client, cache, listPageSize }),
    cache,
    client,
    close: () => client.destroy(),
  };
}
