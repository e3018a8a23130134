import type { LocalFiles } from './storage.js';

/**
 * Reads the files a source's `external_location` names, by address: a local path or an `s3://`
 * URI, with `*` (within one folder), `**` (any depth) and `?` in the pattern, and Hive partition
 * folders (`year=2024/`) as ordinary folders. Implemented for local paths here and for S3 in
 * adapters/s3 (paginated listings, downloads through the cache).
 */
export interface FileReader {
  /** True when this reader serves `address` (by scheme). */
  handles(address: string): boolean;
  /** The files matching `pattern`, sorted by address. */
  match(pattern: string, signal?: AbortSignal): Promise<SourceObject[]>;
  /** Local paths DuckDB can read for these files (held until released). */
  localFiles(objects: readonly SourceObject[], signal?: AbortSignal): Promise<LocalFiles>;
}

/** One file of a source. */
export interface SourceObject {
  /** Its full address (`s3://bucket/silver/transactions/part-1.parquet`, or an absolute path). */
  readonly address: string;
  readonly bytes: number;
  /** What changes when the file is rewritten: S3's ETag; locally size and modification time. */
  readonly etag: string;
}
