/**
 * Where external (Parquet) models keep their files: a local folder, or a bucket and prefix in S3
 * (implemented in adapters/s3). Keys are POSIX paths relative to the storage root
 * (`gold/dim_member/part-1.parquet`).
 *
 * The interface does not assume DuckDB can reach the storage: DuckDB only ever reads and writes
 * local files. Reads go through `localFiles` (a local folder hands out its own files; S3 hands out
 * cached downloads), and writes go through a `StagingArea` (DuckDB writes into a local folder,
 * `save` makes those files objects of the storage). Publishing moves (locally) or copies (S3).
 */
export interface Storage {
  /** For messages: the root as configured (`target/lake`, `s3://bucket/prefix`). */
  readonly description: string;
  /** True when keys are local files (the database's views may then outlive the process). */
  readonly isLocal: boolean;
  /** The address a reader outside smelter uses for `key` (Athena's symlink manifest): an absolute path or `s3://...`. */
  uri(key: string): string;
  /** The files under `prefix` (recursively), keys relative to `prefix`, sorted by key. */
  list(prefix: string): Promise<StoredFile[]>;
  /** One file's size and tag, or undefined when it does not exist. */
  head(key: string): Promise<StoredFile | undefined>;
  readText(key: string): Promise<string | undefined>;
  /** Write a whole file so that a reader sees either the old or the new contents. */
  writeText(key: string, text: string): Promise<void>;
  /**
   * Local paths DuckDB can read, one per file, in order. S3 downloads what its cache lacks (in
   * parallel) and verifies each download against the expected size and tag when given; the
   * returned paths stay valid until `release` is called on the lease.
   */
  localFiles(files: readonly FileRef[], signal?: AbortSignal): Promise<LocalFiles>;
  /** A local folder for DuckDB to write files that are to become `key`'s (a folder key). */
  openStaging(key: string): Promise<StagingArea>;
  /**
   * Make the file at `from` also (or only) the file at `to`: a rename in a folder, a server-side
   * copy in S3 (the source is removed later with its staging folder). Returns the published file.
   */
  publish(from: string, to: string): Promise<StoredFile>;
  /** Delete files, or folders recursively; missing ones are ignored. */
  remove(keys: readonly string[]): Promise<void>;
}

/** A file in storage. */
export interface StoredFile {
  /** Relative to the prefix it was listed under (or the root, for `head` and `publish`). */
  readonly key: string;
  readonly bytes: number;
  /** The storage's version tag: S3's ETag; locally the modification time and size. */
  readonly etag: string;
}

/** A file to read: its key and, when known, what it must be (a committed file). */
export interface FileRef {
  readonly key: string;
  readonly bytes?: number;
  readonly etag?: string;
}

/** Local copies of stored files, held until released (a cache does not evict held files). */
export interface LocalFiles {
  readonly paths: readonly string[];
  release(): void;
}

/** Where a run writes an external model's new files before they are stored. */
export interface StagingArea {
  /** The local folder DuckDB writes into (created). */
  readonly localDir: string;
  /**
   * Store what DuckDB wrote under the staging key (an upload in S3; nothing to do locally).
   * Returns each file with its key relative to the staging key, its size, SHA-256 and tag.
   */
  save(): Promise<StagedFile[]>;
  /** Forget the local folder (the stored staging key is removed by the commit protocol). */
  discard(): Promise<void>;
}

export interface StagedFile extends StoredFile {
  readonly sha256: string;
}

/** Folder of the storage root that no model location can be in (a schema is an identifier). */
export const SMELTER_AREA = '.smelter';

/** One committed file of an external model, as its file-set manifest records it (SPEC §4). */
export interface CommittedFile {
  /** Relative to the model's location. */
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The storage's tag of the published file (S3: its ETag, which is not a content hash under KMS or multipart). */
  readonly etag?: string;
}

/**
 * The committed file set of an external model, kept in storage (the state record points at it, so
 * records stay small).
 */
export interface FileSetManifest {
  readonly table_name: string;
  readonly version: number;
  readonly run_id: string;
  /** The model's location, relative to the storage root. */
  readonly location: string;
  /** The committed files, sorted by name. */
  readonly files: readonly CommittedFile[];
  /** Where this version's files were staged (relative to the root): publishing copies them from there. */
  readonly staging: string;
  /** For each committed file of this version, its name in the staging folder. */
  readonly staged: Readonly<Record<string, string>>;
  /** `incremental_sources: new`: the source files processed so far, as chunk keys per source. */
  readonly processed?: ProcessedSets;
  /**
   * Files of earlier versions that stay in the location until `until` (ISO time), so queries that
   * started before the commit keep working (`retain_superseded`).
   */
  readonly superseded?: ReadonlyArray<{ readonly name: string; readonly until: string }>;
}

/** Per source (unique_id), the keys of the chunks of its processed-file set, by chunk number. */
export type ProcessedSets = Readonly<Record<string, Readonly<Record<string, string>>>>;
