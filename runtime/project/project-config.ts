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
  /**
   * The schema models are built in unless configured otherwise: `main` for project.yml; a dbt
   * profile's `schema:`, which dbt's naming prefixes to custom schemas.
   */
  readonly schema: string;
  /** dbt profiles only: the profile's name (`target.profile_name`). */
  readonly profileName?: string;
}

/**
 * Folder-level config: `config` applies to every node in the folder (and below), `folders` holds
 * the subfolders' own levels. Each config value remembers where it was written.
 */
export interface FolderConfig {
  readonly config: Readonly<Record<string, unknown>>;
  readonly folders: Readonly<Record<string, FolderConfig>>;
}

/**
 * A dbt package installed under dbt_packages/ (or the root project itself, seen the same way):
 * where its files are and the config the root project and the package give its folders.
 */
export interface PackageLayout {
  readonly name: string;
  /** Project-relative directory of the package ('' for the root project). */
  readonly dir: string;
  /** Project-relative, like every path the parser reads. */
  readonly modelPaths: readonly string[];
  readonly macroPaths: readonly string[];
  readonly seedPaths: readonly string[];
  readonly dataTestPaths: readonly string[];
  readonly snapshotPaths: readonly string[];
  readonly models: FolderConfig;
  readonly seeds: FolderConfig;
  readonly snapshots: FolderConfig;
  readonly tests: FolderConfig;
  /** The package's own `vars:` (its defaults; the root project's override them). */
  readonly vars: Readonly<Record<string, unknown>>;
}

export interface ProjectConfig {
  /**
   * How the project was written: `smelter` (project.yml) or `dbt` (dbt_project.yml with a DuckDB
   * profile). A dbt project gets dbt's behaviour where the two differ: dbt's schema naming,
   * custom config keys, and any var settable from --vars.
   */
  readonly flavor: 'smelter' | 'dbt';
  /** Installed packages in the order they are loaded; empty for a project.yml project. */
  readonly packages: readonly PackageLayout[];
  /** dbt's `dispatch:`: per macro namespace, the packages whose macros are searched, in order. */
  readonly dispatch: Readonly<Record<string, readonly string[]>>;
  /** Absolute project directory. */
  readonly dir: string;
  readonly name: string;
  readonly modelPaths: readonly string[];
  readonly macroPaths: readonly string[];
  readonly seedPaths: readonly string[];
  readonly dataTestPaths: readonly string[];
  readonly targetPath: string;
  /** Where the root project's analyses are (`analysis-paths`; default `analyses`). */
  readonly analysisPaths?: readonly string[];
  /** What `smelter clean` deletes: dbt_project.yml's `clean-targets`; else the target path. */
  readonly cleanTargets?: readonly string[];
  /** Declared vars with their project defaults. */
  readonly vars: Readonly<Record<string, DeclaredVar>>;
  readonly target: TargetConfig;
  readonly targetNames: readonly string[];
  readonly onRunStart: readonly string[];
  readonly onRunEnd: readonly string[];
  readonly models: FolderConfig;
  readonly seeds: FolderConfig;
  /** dbt projects: snapshot-paths and `snapshots:` / `tests:` folder config. */
  readonly snapshotPaths?: readonly string[];
  readonly snapshots?: FolderConfig;
  readonly tests?: FolderConfig;
}
