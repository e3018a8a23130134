/**
 * Where external (Parquet) models keep their files. Keys are POSIX paths relative to the storage
 * root (`gold/dim_member/part-1.parquet`); DuckDB reads and writes through `localPath`. The local
 * implementation is a folder; S3 comes later through the same interface.
 */
export interface Storage {
  /** For messages: the root as configured (`target/lake`, `s3://bucket/prefix`). */
  readonly description: string;
  /** A path DuckDB can read or write for `key`. */
  localPath(key: string): string;
  /** Keys of the files under `prefix` (recursively), relative to `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Move one file; the destination's folders are created. */
  move(from: string, to: string): Promise<void>;
  /** Delete files or folders (recursively); missing ones are ignored. */
  remove(key: string): Promise<void>;
  readText(key: string): Promise<string | undefined>;
  /** Write a whole file so that a reader sees either the old or the new contents. */
  writeText(key: string, text: string): Promise<void>;
  exists(key: string): Promise<boolean>;
}

/** Folder of the storage root that no model location can be in (a schema is an identifier). */
export const SMELTER_AREA = '.smelter';

/**
 * The committed file set of an external model, kept in storage (the state record points at it, so
 * records stay small). Files are relative to the model's location.
 */
export interface FileSetManifest {
  readonly table_name: string;
  readonly version: number;
  readonly run_id: string;
  /** The model's location, relative to the storage root. */
  readonly location: string;
  /** The committed files, relative to the location. */
  readonly files: readonly string[];
  /** Where this version's files were staged (relative to the root): publishing moves them from there. */
  readonly staging: string;
  /** For each committed file of this version, its name in the staging folder. */
  readonly staged: Readonly<Record<string, string>>;
}
