import { ProjectError, type SourceLocation } from '../errors.js';
import type { ColumnInfo, FreshnessAge, SourceFreshness } from '../manifest/types.js';
import type { YamlFile } from '../util/yaml-file.js';
import { didYouMean } from '../util/did-you-mean.js';

/**
 * dbt's `version: 2` properties files: docs, columns and config for models and seeds, and source
 * declarations. Structure is validated here; config values are checked where config is merged.
 */

export interface PropertyConfig {
  readonly values: Readonly<Record<string, unknown>>;
  readonly locate: (key: string) => { file: string; line?: number; column?: number };
}

/** One entry of a `tests:`/`data_tests:` list, as written, with where it was written. */
export interface TestDeclaration {
  readonly raw: unknown;
  readonly column?: string;
  readonly file: string;
  readonly line?: number;
  readonly column_number?: number;
  /** Where a value inside the entry was written (`['accepted_values', 'values']`); the entry's place if unknown. */
  readonly locate: (path: readonly (string | number)[]) => SourceLocation;
}

/** One entry of `unit_tests:` (dbt's unit tests), structure checked; rows as written. */
export interface UnitTestDeclaration {
  readonly name: string;
  readonly model: string;
  readonly given: ReadonlyArray<{ readonly input: string; readonly rows: ReadonlyArray<Record<string, unknown>>; readonly line?: number; readonly location: SourceLocation }>;
  readonly expect: ReadonlyArray<Record<string, unknown>>;
  readonly vars: Readonly<Record<string, unknown>>;
  /** overrides.env_vars: what env_var() reads while the model renders. */
  readonly envVars: Readonly<Record<string, string>>;
  /** overrides.macros.is_incremental */
  readonly isIncremental?: boolean;
  readonly enabled: boolean;
  readonly tags: readonly string[];
  readonly file: string;
  readonly line?: number;
  /** Where `model:` was written. */
  readonly modelLocation: SourceLocation;
}

export interface NodeProperties {
  readonly name: string;
  readonly file: string;
  /** Where its `name:` was written. */
  readonly line?: number;
  readonly column?: number;
  readonly description: string;
  readonly columns: Readonly<Record<string, ColumnInfo>>;
  readonly config: PropertyConfig;
  /** Data tests declared on the node or its columns. */
  readonly tests: readonly TestDeclaration[];
}

export interface SourceTableProperties {
  readonly name: string;
  readonly identifier: string;
  readonly description: string;
  readonly externalLocation?: string;
  readonly loadedAtField?: string;
  /** The table's freshness, else its source's; undefined when neither sets one (or the table says `freshness: null`). */
  readonly freshness?: SourceFreshness;
  readonly columns: Readonly<Record<string, ColumnInfo>>;
  readonly enabled: boolean;
  /** The column microbatch models filter this table on. */
  readonly eventTime?: string;
  readonly tags: readonly string[];
  readonly line?: number;
  readonly tests: readonly TestDeclaration[];
}

export interface SourceProperties {
  readonly name: string;
  readonly file: string;
  readonly line?: number;
  readonly schema: string;
  readonly description: string;
  readonly externalLocation?: string;
  readonly tables: readonly SourceTableProperties[];
}

/** An entry of `exposures:`, `groups:`, `semantic_models:`, `metrics:` or `saved_queries:`, kept as written. */
export interface DeclaredEntry {
  readonly kind: 'exposures' | 'groups' | 'semantic_models' | 'metrics' | 'saved_queries';
  readonly name: string;
  readonly line?: number;
  readonly properties: Readonly<Record<string, unknown>>;
}

export interface PropertiesFile {
  readonly models: readonly NodeProperties[];
  readonly seeds: readonly NodeProperties[];
  readonly snapshots: readonly NodeProperties[];
  /** Singular data tests' properties (top-level `data_tests:`). */
  readonly singularTests: readonly NodeProperties[];
  readonly declared: readonly DeclaredEntry[];
  /** What dbt accepts but smelter does not act on, where a user would expect an effect (contracts). */
  readonly warnings: readonly ProjectError[];
  readonly sources: readonly SourceProperties[];
  readonly unitTests: readonly UnitTestDeclaration[];
  /** One error per entry that could not be read; the other entries are read all the same. */
  readonly errors: readonly ProjectError[];
  /**
   * What those entries named, so that parse reports nothing about what refers to them (the error
   * is theirs, not their dependents'). `unknownSources`: a source entry whose name is unreadable.
   */
  readonly broken: {
    readonly models: readonly string[];
    readonly seeds: readonly string[];
    readonly snapshots: readonly string[];
    readonly sources: readonly string[];
    readonly unknownSources: boolean;
  };
}

const DECLARED_KEYS = ['exposures', 'groups', 'semantic_models', 'metrics', 'saved_queries'] as const;
const FILE_KEYS = ['version', 'models', 'seeds', 'snapshots', 'sources', 'unit_tests', 'macros', 'analyses', 'data_tests', ...DECLARED_KEYS];
/** `versions` is refused with its own message (model versions are not supported). */
const NODE_KEYS = [
  'name', 'description', 'config', 'columns', 'tests', 'data_tests', 'docs', 'meta', 'tags', 'latest_version', 'versions', 'access', 'group',
  'constraints', 'deprecation_date', 'time_spine', 'freshness', 'arguments',
];
const COLUMN_KEYS = ['name', 'description', 'data_type', 'tests', 'data_tests', 'meta', 'tags', 'quote', 'constraints', 'granularity', 'config', 'docs', 'policy_tags'];
const SOURCE_KEYS = ['name', 'description', 'schema', 'database', 'external_location', 'loaded_at_field', 'tables', 'meta', 'tags', 'config', 'freshness', 'loader'];
const SOURCE_CONFIG_KEYS = ['enabled', 'event_time', 'tags', 'meta', 'external_location'];
const TABLE_KEYS = ['name', 'description', 'identifier', 'external_location', 'loaded_at_field', 'columns', 'tests', 'data_tests', 'meta', 'tags', 'config', 'freshness'];

type Path = (string | number)[];

/**
 * `render` expands templates in source strings (`var()`, `env_var()`); it throws with a message.
 * A file that is not a properties file at all throws; a bad entry is collected in `errors`.
 */
export function readPropertiesFile(yaml: YamlFile, render: (text: string) => string): PropertiesFile {
  const fail = (path: Path, message: string, hint?: string) =>
    new ProjectError(message, { code: 'config', location: yaml.locate(path), hint });
  const asMap = (v: unknown, path: Path, what: string): Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail(path, `${what} must be a mapping`);
    return v as Record<string, unknown>;
  };
  const asList = (v: unknown, path: Path, what: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw fail(path, `${what} must be a list`);
    return v;
  };
  const checkKeys = (m: Record<string, unknown>, allowed: string[], path: Path, what: string) => {
    for (const k of Object.keys(m)) {
      if (!allowed.includes(k)) throw fail([...path, k], `unknown key '${k}' in ${what}`, didYouMean(k, allowed));
    }
  };
  const str = (v: unknown, path: Path, what: string, required = false): string | undefined => {
    if (v === undefined || v === null) {
      if (required) throw fail(path, `${what} is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw fail(path, `${what} must be a string`);
    return v;
  };
  /** dbt's `freshness: {warn_after: {count, period}, error_after: {...}, filter}`; null (or neither bound) is none. */
  const freshness = (v: unknown, path: Path): SourceFreshness | undefined => {
    if (v === undefined || v === null) return undefined;
    const f = asMap(v, path, 'freshness');
    checkKeys(f, ['warn_after', 'error_after', 'filter'], path, 'freshness');
    const age = (key: 'warn_after' | 'error_after'): FreshnessAge | undefined => {
      if (f[key] === undefined || f[key] === null) return undefined;
      const a = asMap(f[key], [...path, key], key);
      checkKeys(a, ['count', 'period'], [...path, key], key);
      // dbt leaves a bound without a count unset.
      if (a.count === undefined || a.count === null) return undefined;
      if (typeof a.count !== 'number' || !Number.isInteger(a.count) || a.count <= 0) throw fail([...path, key, 'count'], `${key}.count must be a positive whole number`);
      if (a.period !== 'minute' && a.period !== 'hour' && a.period !== 'day') throw fail([...path, key, 'period'], `${key}.period must be minute, hour or day`);
      return { count: a.count, period: a.period };
    };
    const warn = age('warn_after');
    const error = age('error_after');
    const filter = str(f.filter, [...path, 'filter'], 'freshness.filter');
    if (!warn && !error) return undefined;
    return { ...(warn ? { warn_after: warn } : {}), ...(error ? { error_after: error } : {}), ...(filter ? { filter } : {}) };
  };
  const rendered = (v: string | undefined, path: Path): string | undefined => {
    if (v === undefined || (!v.includes('{{') && !v.includes('{%'))) return v;
    try {
      return render(v);
    } catch (error) {
      throw fail(path, `${(error as Error).message}`, (error as { hint?: string }).hint);
    }
  };
  const tags = (v: unknown, path: Path): string[] => {
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    throw fail(path, 'tags must be a string or a list of strings');
  };
  const testsOf = (m: Record<string, unknown>, path: Path, column?: string): TestDeclaration[] =>
    (['tests', 'data_tests'] as const).flatMap((key) =>
      asList(m[key], [...path, key], key).map((raw, i) => {
        const at = yaml.locate([...path, key, i]);
        return { raw, column, file: yaml.file, line: at.line, column_number: at.column, locate: (p: readonly (string | number)[]) => yaml.locate([...path, key, i, ...p]) };
      }),
    );

  const columns = (v: unknown, path: Path): { columns: Record<string, ColumnInfo>; tests: TestDeclaration[] } => {
    const out: Record<string, ColumnInfo> = {};
    const tests: TestDeclaration[] = [];
    asList(v, path, 'columns').forEach((raw, i) => {
      const m = asMap(raw, [...path, i], 'a column');
      checkKeys(m, COLUMN_KEYS, [...path, i], 'a column');
      const name = str(m.name, [...path, i], 'column name', true)!;
      out[name] = {
        name,
        description: str(m.description, [...path, i, 'description'], 'description') ?? '',
        data_type: str(m.data_type, [...path, i, 'data_type'], 'data_type'),
      };
      tests.push(...testsOf(m, [...path, i], name));
    });
    return { columns: out, tests };
  };

  const errors: ProjectError[] = [];
  const broken = { models: [] as string[], seeds: [] as string[], snapshots: [] as string[], sources: [] as string[], unknownSources: false };
  /** Each entry on its own: a bad one is reported and names what it was about; the rest are read. */
  const entries = <T>(list: unknown[], read: (raw: unknown, i: number) => T, failed: (name: string | undefined) => void): T[] => {
    const out: T[] = [];
    list.forEach((raw, i) => {
      try {
        out.push(read(raw, i));
      } catch (error) {
        if (!(error instanceof ProjectError)) throw error;
        errors.push(error);
        const name = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>).name : undefined;
        failed(typeof name === 'string' ? name : undefined);
      }
    });
    return out;
  };

  const warnings: ProjectError[] = [];
  const warn = (path: Path, message: string, hint?: string) => warnings.push(fail(path, message, hint));
  const nodeList = (key: 'models' | 'seeds' | 'snapshots' | 'analyses' | 'data_tests'): NodeProperties[] =>
    entries(asList(root[key], [key], key), (raw, i) => {
      const path: Path = [key, i];
      const m = asMap(raw, path, `an entry of ${key}`);
      if (key === 'snapshots' && m.relation !== undefined) {
        throw fail([...path, 'relation'], `${String(m.name)}: snapshots defined in YAML (relation:) are not supported`, 'write a {% snapshot %} block selecting from the relation, in a .sql file under snapshots/');
      }
      checkKeys(m, NODE_KEYS, path, `${key}[${i}]`);
      const name = str(m.name, path, `${key}[${i}].name`, true)!;
      if (m.versions !== undefined) {
        throw fail([...path, 'versions'], `${name}: model versions (versions:) are not supported`, 'keep one version of the model, in its own file, without versions:');
      }
      const config = m.config === undefined ? {} : { ...asMap(m.config, [...path, 'config'], `${name}: config`) };
      // dbt enforces a contract's column types and constraints when it builds; smelter does not.
      const contract = config.contract as { enforced?: unknown } | undefined;
      if (contract !== null && typeof contract === 'object' && contract.enforced === true) {
        warn([...path, 'config', 'contract'], `${name}: contract is not enforced: smelter builds the model without checking its columns' types or constraints`);
      }
      delete config.contract;
      if (m.constraints !== undefined) warn([...path, 'constraints'], `${name}: constraints are not enforced`);
      asList(m.columns, [...path, 'columns'], 'columns').forEach((c, j) => {
        if (c !== null && typeof c === 'object' && (c as Record<string, unknown>).constraints !== undefined) warn([...path, 'columns', j, 'constraints'], `${name}: constraints are not enforced`);
      });
      // Access and group govern refs across dbt projects; one smelter project has nothing to restrict.
      for (const k of ['access', 'group'] as const) {
        if (m[k] !== undefined && config[k] === undefined) config[k] = m[k];
      }
      if (m.tags !== undefined) config.tags = [...tags(config.tags, [...path, 'config', 'tags']), ...tags(m.tags, [...path, 'tags'])];
      if (m.meta !== undefined) config.meta = { ...asMap(m.meta, [...path, 'meta'], 'meta'), ...((config.meta as object) ?? {}) };
      if (m.docs !== undefined) config.docs = asMap(m.docs, [...path, 'docs'], 'docs');
      const cols = columns(m.columns, [...path, 'columns']);
      const at = yaml.locate([...path, 'name']);
      return {
        name,
        file: yaml.file,
        line: at.line,
        column: at.column,
        description: str(m.description, [...path, 'description'], 'description') ?? '',
        columns: cols.columns,
        config: {
          values: config,
          locate: (k: string) => yaml.locate(m.config !== undefined && k in (m.config as object) ? [...path, 'config', k] : [...path, k]),
        },
        tests: [...testsOf(m, path), ...cols.tests],
      };
    }, (name) => name !== undefined && (key === 'models' || key === 'seeds' || key === 'snapshots') && broken[key].push(name));

  const root = asMap(yaml.value ?? {}, [], yaml.file);
  checkKeys(root, FILE_KEYS, [], 'a properties file');
  if (root.version !== undefined && root.version !== 2) throw fail(['version'], 'version must be 2');

  /** A source's or source table's `config:`, keys checked; `at(key)` is where a key was written. */
  const sourceConfig = (m: Record<string, unknown>, path: Path, what: string) => {
    const values = m.config === undefined || m.config === null ? {} : asMap(m.config, [...path, 'config'], `${what}: config`);
    for (const k of Object.keys(values)) {
      if (!SOURCE_CONFIG_KEYS.includes(k)) throw fail([...path, 'config', k], `unknown source config key '${k}'`, didYouMean(k, SOURCE_CONFIG_KEYS));
    }
    return { values, at: (key: string): Path => [...path, 'config', key] };
  };
  /**
   * Where a source's files are: `external_location:` as smelter writes it, or under `config:`, `meta:`
   * or `config: {meta:}` as dbt-duckdb projects write it. Two different places given at once is an error: which
   * one wins would be a guess.
   */
  const externalLocation = (m: Record<string, unknown>, config: { values: Record<string, unknown>; at: (k: string) => Path }, path: Path): string | undefined => {
    const meta = m.meta === undefined || m.meta === null ? {} : asMap(m.meta, [...path, 'meta'], 'meta');
    const configMeta = config.values.meta === undefined || config.values.meta === null ? {} : asMap(config.values.meta, config.at('meta'), 'meta');
    const given = [
      { value: m.external_location, at: [...path, 'external_location'] },
      { value: config.values.external_location, at: config.at('external_location') },
      { value: meta.external_location, at: [...path, 'meta', 'external_location'] },
      { value: configMeta.external_location, at: [...config.at('meta'), 'external_location'] },
    ].filter((g) => g.value !== undefined && g.value !== null);
    const locations = given.map((g) => rendered(str(g.value, g.at, 'external_location'), g.at)!);
    if (new Set(locations).size > 1) throw fail(given[1].at, `external_location is given twice, differently (also at line ${yaml.locate(given[0].at).line})`);
    return locations[0];
  };

  const sources = entries(asList(root.sources, ['sources'], 'sources'), (raw, i): SourceProperties => {
    const path: Path = ['sources', i];
    const m = asMap(raw, path, 'a source');
    checkKeys(m, SOURCE_KEYS, path, `sources[${i}]`);
    // dbt renders a source's name, schema, database and identifier (var(), env_var(), target) at parse.
    const name = rendered(str(m.name, path, `sources[${i}].name`, true), [...path, 'name'])!;
    const sconfig = sourceConfig(m, path, `source ${name}`);
    const sourceLocation = externalLocation(m, sconfig, path);
    const sourceLoadedAt = str(m.loaded_at_field, [...path, 'loaded_at_field'], 'loaded_at_field');
    const sourceFreshness = freshness(m.freshness, [...path, 'freshness']);
    const schema = rendered(str(m.schema, [...path, 'schema'], 'schema'), [...path, 'schema']) ?? name;
    rendered(str(m.database, [...path, 'database'], 'database'), [...path, 'database']);
    const tables = asList(m.tables, [...path, 'tables'], 'tables').map((rawTable, j): SourceTableProperties => {
      const tpath: Path = [...path, 'tables', j];
      const t = asMap(rawTable, tpath, 'a source table');
      checkKeys(t, TABLE_KEYS, tpath, `source ${name} table`);
      const tableName = str(t.name, tpath, `source ${name} table name`, true)!;
      const tconfig = sourceConfig(t, tpath, `source ${name} table ${tableName}`);
      const identifier = rendered(str(t.identifier, [...tpath, 'identifier'], 'identifier'), [...tpath, 'identifier']) ?? tableName;
      const location = externalLocation(t, tconfig, tpath) ?? sourceLocation;
      // A source's config is the default of each of its tables'.
      const enabled = tconfig.values.enabled ?? sconfig.values.enabled ?? true;
      if (typeof enabled !== 'boolean') throw fail(tconfig.values.enabled !== undefined ? tconfig.at('enabled') : sconfig.at('enabled'), 'enabled must be true or false');
      const eventTime =
        str(tconfig.values.event_time, tconfig.at('event_time'), 'event_time') ?? str(sconfig.values.event_time, sconfig.at('event_time'), 'event_time');
      return {
        name: tableName,
        identifier,
        description: str(t.description, [...tpath, 'description'], 'description') ?? '',
        externalLocation: location?.replaceAll('{name}', tableName).replaceAll('{identifier}', identifier),
        loadedAtField: str(t.loaded_at_field, [...tpath, 'loaded_at_field'], 'loaded_at_field') ?? sourceLoadedAt,
        // A table's own freshness replaces its source's; `freshness: null` turns it off.
        ...(() => {
          const own = 'freshness' in t ? freshness(t.freshness, [...tpath, 'freshness']) : sourceFreshness;
          return own ? { freshness: own } : {};
        })(),
        ...(() => {
          const cols = columns(t.columns, [...tpath, 'columns']);
          return { columns: cols.columns, tests: [...testsOf(t, tpath), ...cols.tests] };
        })(),
        enabled,
        eventTime,
        tags: [
          ...tags(m.tags, [...path, 'tags']),
          ...tags(sconfig.values.tags, sconfig.at('tags')),
          ...tags(t.tags, [...tpath, 'tags']),
          ...tags(tconfig.values.tags, tconfig.at('tags')),
        ].filter((tag, k, all) => all.indexOf(tag) === k),
        line: yaml.locate(tpath).line,
      };
    });
    return {
      name,
      file: yaml.file,
      line: yaml.locate(path).line,
      schema,
      description: str(m.description, [...path, 'description'], 'description') ?? '',
      externalLocation: sourceLocation,
      tables,
    };
  }, (name) => (name === undefined ? (broken.unknownSources = true) : broken.sources.push(name)));

  const declared: DeclaredEntry[] = DECLARED_KEYS.flatMap((kind) =>
    entries(asList(root[kind], [kind], kind), (raw, i): DeclaredEntry => {
      const m = asMap(raw, [kind, i], `an entry of ${kind}`);
      const name = str(m.name, [kind, i], `${kind}[${i}].name`, true)!;
      return { kind, name, line: yaml.locate([kind, i, 'name']).line, properties: m };
    }, () => {}),
  );
  const models = nodeList('models');
  const seeds = nodeList('seeds');
  const snapshots = nodeList('snapshots');
  // Analyses are never built; their properties are checked as a model's and kept nowhere.
  nodeList('analyses');
  const singularTests = nodeList('data_tests');
  return {
    models,
    seeds,
    snapshots,
    singularTests,
    declared,
    warnings,
    sources,
    unitTests: entries(asList(root.unit_tests, ['unit_tests'], 'unit_tests'), (raw, i): UnitTestDeclaration => {
      const path: Path = ['unit_tests', i];
      const m = asMap(raw, path, 'a unit test');
      checkKeys(m, ['name', 'model', 'description', 'given', 'expect', 'overrides', 'config'], path, `unit_tests[${i}]`);
      const name = str(m.name, path, `unit_tests[${i}].name`, true)!;
      const rowsOf = (v: Record<string, unknown>, at: Path, what: string): Array<Record<string, unknown>> => {
        checkKeys(v, ['input', 'rows', 'format', 'fixture'], at, what);
        if (v.fixture !== undefined) throw fail([...at, 'fixture'], `${name}: fixture files are not supported; give the rows inline (format: dict or csv)`);
        const format = v.format ?? 'dict';
        if (format === 'csv') return parseCsvRows(str(v.rows, [...at, 'rows'], `${what} rows`, true)!, (message) => fail([...at, 'rows'], `${name}: ${message}`));
        if (format !== 'dict') throw fail([...at, 'format'], `${name}: format must be dict or csv`);
        return asList(v.rows, [...at, 'rows'], `${what} rows`).map((row, j) => ({ ...asMap(row, [...at, 'rows', j], 'a row') }));
      };
      const given = asList(m.given, [...path, 'given'], 'given').map((g, j) => {
        const at: Path = [...path, 'given', j];
        const entry = asMap(g, at, 'a given input');
        return { input: str(entry.input, at, `${name}: given input`, true)!, rows: rowsOf(entry, at, 'given'), line: yaml.locate(at).line, location: yaml.locate([...at, 'input']) };
      });
      const expect = rowsOf({ ...asMap(m.expect ?? {}, [...path, 'expect'], 'expect'), input: undefined }, [...path, 'expect'], 'expect');
      const overrides = m.overrides === undefined ? {} : asMap(m.overrides, [...path, 'overrides'], 'overrides');
      checkKeys(overrides, ['vars', 'macros', 'env_vars'], [...path, 'overrides'], 'overrides');
      const macros = overrides.macros === undefined ? {} : asMap(overrides.macros, [...path, 'overrides', 'macros'], 'overrides.macros');
      checkKeys(macros, ['is_incremental'], [...path, 'overrides', 'macros'], 'overrides.macros');
      if (macros.is_incremental !== undefined && typeof macros.is_incremental !== 'boolean') throw fail([...path, 'overrides', 'macros', 'is_incremental'], 'is_incremental must be true or false');
      const config = m.config === undefined ? {} : asMap(m.config, [...path, 'config'], 'config');
      checkKeys(config, ['enabled', 'tags', 'meta'], [...path, 'config'], 'config');
      if (config.enabled !== undefined && typeof config.enabled !== 'boolean') throw fail([...path, 'config', 'enabled'], 'enabled must be true or false');
      return {
        name,
        model: str(m.model, path, `${name}: model`, true)!,
        given,
        expect,
        vars: overrides.vars === undefined ? {} : asMap(overrides.vars, [...path, 'overrides', 'vars'], 'overrides.vars'),
        envVars: Object.fromEntries(
          Object.entries(overrides.env_vars === undefined ? {} : asMap(overrides.env_vars, [...path, 'overrides', 'env_vars'], 'overrides.env_vars')).map(([k, v]) => {
            if (v === null || typeof v === 'object') throw fail([...path, 'overrides', 'env_vars', k], `env var ${k} must be a string, number or boolean`);
            return [k, String(v)];
          }),
        ),
        ...(macros.is_incremental !== undefined ? { isIncremental: macros.is_incremental as boolean } : {}),
        enabled: (config.enabled as boolean | undefined) ?? true,
        tags: tags(config.tags, [...path, 'config', 'tags']),
        file: yaml.file,
        line: yaml.locate(path).line,
        modelLocation: yaml.locate([...path, 'model']),
      };
    }, () => {}),
    errors,
    broken,
  };
}

/** `format: csv` rows: a header line, then values; double quotes around a value that holds a comma. */
export function parseCsvRows(text: string, fail: (message: string) => Error): Array<Record<string, unknown>> {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw fail('csv rows need a header line');
  const split = (line: string): string[] => {
    const out: string[] = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') (cell += '"'), i++;
        else if (ch === '"') quoted = false;
        else cell += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',') (out.push(cell), (cell = ''));
      else cell += ch;
    }
    out.push(cell);
    return out.map((c) => c.trim());
  };
  const header = split(lines[0]);
  return lines.slice(1).map((line, i) => {
    const cells = split(line);
    if (cells.length !== header.length) throw fail(`csv row ${i + 1} has ${cells.length} values for ${header.length} columns`);
    // An empty cell is NULL, as in dbt's csv fixtures.
    return Object.fromEntries(header.map((h, j) => [h, cells[j] === '' ? null : cells[j]]));
  });
}
