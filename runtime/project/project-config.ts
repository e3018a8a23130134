/** The validated contents of project.yml, with only the active target resolved. */

/**
 * A var's type: declared (`{type: date, default: ...}`: string, integer, number, boolean, date,
 * timestamp, identifier), or taken from a plain default (string, number, boolean, list, map; null:
 * any scalar).
 */
export type VarType = 'string' | 'integer' | 'number' | 'boolean' | 'date' | 'timestamp' | 'identifier' | 'list' | 'map' | 'any';

export interface DeclaredVar {
  readonly name: string;
  readonly default: unknown;
  readonly type: VarType;
  /** Declared with `type:` (or `values:`): only such a var may be set by a Lambda event. */
  readonly typed: boolean;
  /** `values: [...]`: the only values the var may take. */
  readonly values?: ReadonlyArray<string | number | boolean>;
  /** `pattern:` (a string var): a regular expression the whole value must match. */
  readonly pattern?: string;
}

export interface StateConfig {
  readonly backend: 'local' | 'dynamodb';
  readonly table?: string;
  readonly lease_seconds?: number;
}

export interface TargetConfig {
  readonly name: string;
  /** As written (":memory:" or a path relative to the project directory). */
  readonly database: string;
  /** Absolute path, or ":memory:". */
  readonly databasePath: string;
  readonly threads: number;
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly storage?: string;
  readonly state: StateConfig;
  /** Bytes the S3 object cache may hold (`cache_max_bytes`); the backend's default when unset. */
  readonly cacheMaxBytes?: number;
  readonly vars: Readonly<Record<string, unknown>>;
}

/**
 * Folder-level config: `config` applies to every node in the folder (and below), `folders` holds
 * the subfolders' own levels. Each config value remembers where it was written.
 */
export interface FolderConfig {
  readonly config: Readonly<Record<string, unknown>>;
  readonly folders: Readonly<Record<string, FolderConfig>>;
}

export interface ProjectConfig {
  /** Absolute project directory. */
  readonly dir: string;
  readonly name: string;
  readonly modelPaths: readonly string[];
  readonly macroPaths: readonly string[];
  readonly seedPaths: readonly string[];
  readonly dataTestPaths: readonly string[];
  readonly targetPath: string;
  /** Declared vars with their project defaults. */
  readonly vars: Readonly<Record<string, DeclaredVar>>;
  readonly target: TargetConfig;
  readonly targetNames: readonly string[];
  readonly onRunStart: readonly string[];
  readonly onRunEnd: readonly string[];
  readonly models: FolderConfig;
  readonly seeds: FolderConfig;
}
