/**
 * The Manifest: what parse produces. Pure, readonly, JSON-serializable data — no behaviour and no
 * handles — so it can be built in a unit test, written to target/manifest.json and compared
 * against an earlier one (`state:modified`).
 */

export type Materialization = 'view' | 'table' | 'ephemeral' | 'incremental' | 'scd2';
export type IncrementalStrategy = 'append' | 'merge' | 'delete+insert' | 'microbatch';
export type OnSchemaChange = 'ignore' | 'fail' | 'append_new_columns' | 'sync_all_columns';

/** A model's resolved config: model config() > YAML properties > project.yml folders > defaults. */
export interface ModelConfig {
  readonly materialized: Materialization;
  readonly schema: string;
  readonly alias: string;
  readonly tags: readonly string[];
  readonly enabled: boolean;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly docs: Readonly<Record<string, unknown>>;
  readonly pre_hook: readonly string[];
  readonly post_hook: readonly string[];
  /** true/false overrides --full-refresh for this model; null follows the flag. */
  readonly full_refresh: boolean | null;
  readonly external: boolean;
  readonly location?: string;
  readonly partition_by?: readonly string[];
  readonly unique_key?: readonly string[];
  readonly incremental_strategy?: IncrementalStrategy;
  readonly watermark?: string;
  readonly on_schema_change?: OnSchemaChange;
  readonly event_time?: string;
  readonly batch_size?: 'hour' | 'day' | 'month' | 'year';
  readonly begin?: string;
  readonly lookback?: number;
  readonly strategy?: 'check' | 'timestamp';
  readonly check_cols?: 'all' | readonly string[];
  readonly updated_at?: string;
  readonly valid_from_column?: string;
  readonly granularity?: 'day' | 'timestamp';
  readonly surrogate_key?: string;
  /** dbt snapshots: other names for dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to, dbt_is_deleted. */
  readonly snapshot_meta_column_names?: Readonly<Record<string, string>>;
  /** dbt snapshots: the current version's dbt_valid_to instead of NULL, as SQL (e.g. "to_date('9999-12-31')"). */
  readonly dbt_valid_to_current?: string;
  readonly hard_deletes?: 'ignore' | 'invalidate' | 'new_record';
  /** `new`: an incremental run reads only the source files it has not processed before (SPEC §9). */
  readonly incremental_sources?: 'all' | 'new';
  /** External models: the size at which a new file is started, in bytes (a file ends at a row group, so it may pass it by one or a few). */
  readonly file_max_bytes?: number;
  /** External models: the columns each file's rows are ordered by (default: the unique key). */
  readonly cluster_by?: readonly string[];
  /** External models: seconds a superseded file stays readable after the commit that superseded it (default 3600). */
  readonly retain_superseded?: number;
}

export interface SeedConfig {
  readonly schema: string;
  readonly alias: string;
  readonly tags: readonly string[];
  readonly enabled: boolean;
  readonly column_types: Readonly<Record<string, string>>;
  /** SQL run before the seed's table is loaded, and after (rendered then, as dbt does). */
  readonly pre_hook: readonly string[];
  readonly post_hook: readonly string[];
  /** The CSV's field separator. */
  readonly delimiter: string;
  readonly quote_columns?: boolean;
}

/** Where a node is written in the database. */
export interface Relation {
  readonly schema: string;
  readonly identifier: string;
}

export interface ColumnInfo {
  readonly name: string;
  readonly description?: string;
  readonly data_type?: string;
}

/** A `ref()` or `source()` call found in a template, with where it was written. */
export interface RefCall {
  readonly name: string;
  readonly line: number;
  /** `ref('package', 'name')`: the package named. */
  readonly package?: string;
}
export interface SourceCall {
  readonly source: string;
  readonly table: string;
  readonly line: number;
}

/**
 * A template that needs no template engine: literal text and simple calls (ref/source/var/config)
 * with literal arguments. Rendering it is string concatenation; the result is identical to
 * Nunjucks' (tests hold the two paths equal).
 */
export type FastSegment =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'ref'; readonly name: string; readonly line: number }
  | { readonly kind: 'source'; readonly source: string; readonly table: string; readonly line: number }
  | { readonly kind: 'var'; readonly name: string; readonly default?: unknown; readonly hasDefault: boolean; readonly line: number }
  | { readonly kind: 'config' };

interface NodeBase {
  /** `model.<project>.<name>`, `seed.<project>.<name>`, `source.<project>.<source>.<table>`. */
  readonly unique_id: string;
  readonly name: string;
  readonly package_name: string;
  /** Path of the defining file, relative to the project directory (POSIX separators). */
  readonly original_file_path: string;
  /** Path inside its resource folder (e.g. `gold/dim_date.sql`), as dbt's `path`. */
  readonly path: string;
  /** dbt's fully qualified name: project, folders, name. */
  readonly fqn: readonly string[];
  readonly tags: readonly string[];
  readonly description: string;
  readonly columns: Readonly<Record<string, ColumnInfo>>;
}

export interface ModelNode extends NodeBase {
  readonly resource_type: 'model';
  readonly raw_code: string;
  readonly checksum: string;
  readonly config: ModelConfig;
  readonly relation: Relation;
  readonly refs: readonly RefCall[];
  readonly sources: readonly SourceCall[];
  readonly depends_on: { readonly nodes: readonly string[]; readonly macros: readonly string[] };
  /** Set when the template can be rendered without the template engine. */
  readonly fast_path?: readonly FastSegment[];
  /** True when a static pass could not see every call and parse rendered the template to record them. */
  readonly parsed_by_render: boolean;
  /**
   * A dbt snapshot (`{% snapshot %}` block): built by the scd2 materialization with dbt's column
   * names; dbt calls it resource type `snapshot`, and `smelter run` leaves it to `snapshot`/`build`.
   */
  readonly snapshot?: boolean;
}

export interface SeedNode extends NodeBase {
  readonly resource_type: 'seed';
  readonly checksum: string;
  readonly config: SeedConfig;
  readonly relation: Relation;
  readonly depends_on: { readonly nodes: readonly string[]; readonly macros: readonly string[] };
}

/** How old a source's newest `loaded_at_field` may be: a warning past `warn_after`, an error past `error_after`. */
export interface SourceFreshness {
  readonly warn_after?: FreshnessAge;
  readonly error_after?: FreshnessAge;
  /** A WHERE condition on the rows looked at (dbt's `filter`). */
  readonly filter?: string;
}

export interface FreshnessAge {
  readonly count: number;
  readonly period: 'minute' | 'hour' | 'day';
}

export interface SourceNode extends NodeBase {
  readonly resource_type: 'source';
  readonly source_name: string;
  /** Rendered external location with `{name}` substituted, or undefined for an in-database relation. */
  readonly external_location?: string;
  readonly loaded_at_field?: string;
  /** dbt's freshness criteria (`smelter source freshness`); undefined: none. */
  readonly freshness?: SourceFreshness;
  readonly relation: Relation;
  readonly config: { readonly enabled: boolean; readonly tags: readonly string[]; readonly event_time?: string };
  readonly depends_on: { readonly nodes: readonly string[]; readonly macros: readonly string[] };
}

/** A data test's config (SPEC §6): how its failing rows are judged and kept. */
export interface TestConfig {
  readonly enabled: boolean;
  readonly tags: readonly string[];
  readonly severity: 'error' | 'warn';
  /** A filter on the tested relation (generic tests). */
  readonly where?: string;
  /** At most this many failing rows are counted (and stored). */
  readonly limit?: number;
  /** Conditions on the failing-row count, e.g. `!= 0`, `> 10`. */
  readonly warn_if: string;
  readonly error_if: string;
  /** The SQL aggregate over the failing rows that warn_if/error_if judge (dbt's `count(*)` by default). */
  readonly fail_calc?: string;
  /** Keep the failing rows in a table of schema `<target schema>_dbt_test__audit` (or the test's `schema`). */
  readonly store_failures: boolean;
  /** `view`: the failures are kept as a view rather than a table. */
  readonly store_failures_as?: 'table' | 'view';
  readonly meta: Readonly<Record<string, unknown>>;
  /** The stored failures' table name (default: the test's short name). */
  readonly alias?: string;
  /** The stored failures' schema suffix, as in dbt: `<target schema>_<schema>`. */
  readonly schema?: string;
  readonly database?: string;
}

/** A data test: a query whose rows are failures. Generic (declared in YAML) or singular (a SQL file). */
export interface TestNode extends NodeBase {
  readonly resource_type: 'test';
  readonly test_type: 'generic' | 'singular';
  /** Generic tests: the test (`unique`, `accepted_values`, a `{% test %}` macro) and its arguments. */
  readonly test_metadata?: { readonly name: string; readonly kwargs: Readonly<Record<string, unknown>> };
  readonly column_name?: string;
  /** The model, seed or source a generic test is declared on. */
  readonly attached_node?: string;
  /** Under 64 characters: dbt's short name (a hash replaces the tail of a long one). */
  readonly alias: string;
  /** Singular tests: the SQL template. */
  readonly raw_code?: string;
  readonly refs: readonly RefCall[];
  readonly sources: readonly SourceCall[];
  readonly checksum: string;
  readonly config: TestConfig;
  readonly depends_on: { readonly nodes: readonly string[]; readonly macros: readonly string[] };
  /** Where it was declared (a YAML line, or the SQL file). */
  readonly line?: number;
}

/**
 * A unit test (dbt's `unit_tests:`): the model's SQL run on given rows for its inputs, in an
 * in-memory database, compared with the expected rows. Not an edge of the graph: it needs no data.
 */
export interface UnitTestNode extends NodeBase {
  readonly resource_type: 'unit_test';
  /** The tested model's unique_id. */
  readonly model: string;
  /** Each input (`ref('x')`, `source('s', 't')` or `this`) with the node it stands for and its rows. */
  readonly given: ReadonlyArray<{ readonly input: string; readonly node?: string; readonly rows: ReadonlyArray<Record<string, unknown>> }>;
  readonly expect: ReadonlyArray<Record<string, unknown>>;
  readonly overrides: { readonly vars: Readonly<Record<string, unknown>>; readonly env_vars?: Readonly<Record<string, string>>; readonly is_incremental?: boolean };
  readonly config: { readonly enabled: boolean; readonly tags: readonly string[] };
  readonly checksum: string;
  readonly depends_on: { readonly nodes: readonly string[]; readonly macros: readonly string[] };
  readonly line?: number;
}

/** An analysis (dbt's analyses/): a SQL template compiled, never run. */
export interface AnalysisNode extends NodeBase {
  readonly resource_type: 'analysis';
  readonly raw_code: string;
  readonly checksum: string;
  readonly config: { readonly enabled: boolean; readonly tags: readonly string[] };
  readonly refs: readonly RefCall[];
  readonly sources: readonly SourceCall[];
  readonly depends_on: { readonly nodes: readonly string[]; readonly macros: readonly string[] };
}

export type ManifestNode = ModelNode | SeedNode | SourceNode | TestNode | UnitTestNode | AnalysisNode;
export type ResourceType = ManifestNode['resource_type'];

export interface MacroDef {
  readonly unique_id: string;
  readonly name: string;
  /** The package defining it (dbt's `package_name`); the project's own name for its macros. */
  readonly package_name?: string;
  readonly original_file_path: string;
  readonly line: number;
  readonly checksum: string;
  readonly depends_on: { readonly macros: readonly string[] };
}

/** A problem found while parsing; parse collects them instead of stopping at the first. */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly hint?: string;
  readonly node?: string;
}

export interface Manifest {
  readonly project_name: string;
  /** Enabled nodes by unique_id. */
  readonly nodes: Readonly<Record<string, ManifestNode>>;
  /** Nodes switched off with `enabled: false`: known, so a ref to one says so instead of "not found". */
  readonly disabled: Readonly<Record<string, ManifestNode>>;
  readonly macros: Readonly<Record<string, MacroDef>>;
  readonly diagnostics: readonly Diagnostic[];
  /** What properties files declare that smelter keeps without running: exposures, groups, the semantic layer. */
  readonly declared?: Readonly<Record<DeclaredKind, Readonly<Record<string, DeclaredResource>>>>;
}

/** The properties-file lists read into the manifest and otherwise left alone. */
export type DeclaredKind = 'exposures' | 'groups' | 'semantic_models' | 'metrics' | 'saved_queries';

/** One entry of such a list, as written. */
export interface DeclaredResource {
  readonly resource_type: 'exposure' | 'group' | 'semantic_model' | 'metric' | 'saved_query';
  readonly unique_id: string;
  readonly name: string;
  readonly package_name: string;
  readonly original_file_path: string;
  readonly line?: number;
  readonly properties: Readonly<Record<string, unknown>>;
}
