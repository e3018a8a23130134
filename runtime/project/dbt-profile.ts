import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { ProjectError } from '../errors.js';
import { TemplateEngine } from '../template/template-engine.js';
import { TemplateLocatedError } from '../template/strict-compiler.js';
import { parseYamlFile, type YamlFile } from '../util/yaml-file.js';
import { didYouMean } from '../util/did-you-mean.js';
import { lookupVar } from '../render/context.js';
import { envVar } from './project-reader.js';
import type { TargetConfig } from './project-config.js';

export const PROFILES_FILE = 'profiles.yml';

/** dbt-duckdb output keys smelter honours. */
const OUTPUT_KEYS = ['type', 'path', 'database', 'schema', 'threads', 'settings', 'extensions', 'external_root'] as const;
/** dbt-duckdb output keys that need what smelter does not do here (attachments, plugins, remote filesystems). */
const REFUSED_KEYS: Readonly<Record<string, string>> = {
  attach: 'attaching other databases',
  plugins: 'dbt-duckdb plugins',
  filesystems: 'fsspec filesystems',
  secrets: 'DuckDB secrets (S3 access goes through the AWS SDK here)',
  remote: 'a remote DuckDB server',
  module_paths: 'Python module paths',
  use_credential_provider: 'a credential provider',
};
/** Extensions every DuckDB build here has: listing them is harmless; others cannot be installed (no network). */
const BUNDLED_EXTENSIONS = new Set(['parquet', 'json', 'icu', 'core_functions']);

export interface DbtProfileOptions {
  readonly projectDir: string;
  readonly profileName: string;
  /** --profiles-dir; else DBT_PROFILES_DIR, the project folder, then ~/.dbt (dbt's order). */
  readonly profilesDir?: string;
  /** --target; else the profile's `target:`. */
  readonly target?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly varValues: Readonly<Record<string, unknown>>;
}

/** The DuckDB output of a dbt profile, as smelter's target. */
export function readDbtProfile(options: DbtProfileOptions): { target: TargetConfig; targetNames: string[] } {
  const { path, shown } = findProfiles(options);
  const yaml = parseYamlFile(readFileSync(path, 'utf8'), shown);
  const fail = (at: readonly (string | number)[], message: string, hint?: string) => new ProjectError(message, { code: 'config', location: yaml.locate(at), hint });
  const root = yaml.value;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) throw fail([], `${shown} must be a mapping of profile names`);
  const profiles = root as Record<string, unknown>;
  const profile = profiles[options.profileName];
  if (profile === undefined) {
    throw new ProjectError(`${shown} has no profile '${options.profileName}' (dbt_project.yml's profile:)`, {
      code: 'config',
      location: { file: shown },
      hint: didYouMean(options.profileName, Object.keys(profiles).filter((k) => k !== 'config')),
    });
  }
  if (profile === null || typeof profile !== 'object') throw fail([options.profileName], `profile ${options.profileName} must be a mapping with target: and outputs:`);
  const { target: defaultTarget, outputs } = profile as { target?: unknown; outputs?: unknown };
  if (outputs === null || typeof outputs !== 'object' || Array.isArray(outputs)) throw fail([options.profileName], `profile ${options.profileName} needs outputs:`);
  const targetNames = Object.keys(outputs);
  const engine = new TemplateEngine([]);
  const render = (value: unknown, at: readonly (string | number)[]): unknown => renderValue(engine, yaml, value, at, options);
  const name = options.target ?? (typeof defaultTarget === 'string' ? String(render(defaultTarget, [options.profileName, 'target'])) : targetNames[0]);
  if (!targetNames.includes(name)) {
    throw new ProjectError(`${options.target ? '--target' : `${shown}: target`} '${name}' is not an output of profile ${options.profileName}`, {
      code: 'config',
      location: options.target ? undefined : yaml.locate([options.profileName, 'target']),
      hint: didYouMean(name, targetNames) ?? `outputs: ${targetNames.join(', ')}`,
    });
  }
  const at = (key?: string) => (key === undefined ? [options.profileName, 'outputs', name] : [options.profileName, 'outputs', name, key]);
  const raw = (outputs as Record<string, unknown>)[name];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fail(at(), `output ${name} of profile ${options.profileName} must be a mapping`);
  const output = raw as Record<string, unknown>;
  const type = render(output.type, at('type'));
  if (type !== 'duckdb') {
    throw fail(at('type'), `output ${name} of profile ${options.profileName} is type ${JSON.stringify(type)}: smelter runs dbt-duckdb profiles (type: duckdb)`, 'add a duckdb output and choose it with --target or target:');
  }
  for (const key of Object.keys(output)) {
    if (REFUSED_KEYS[key]) throw fail(at(key), `${key}: smelter does not support ${REFUSED_KEYS[key]} (profile ${options.profileName}, output ${name})`);
    if (!(OUTPUT_KEYS as readonly string[]).includes(key)) {
      throw fail(at(key), `unknown key '${key}' in output ${name} of profile ${options.profileName}`, didYouMean(key, OUTPUT_KEYS));
    }
  }
  const value = (key: string) => (output[key] === undefined ? undefined : render(output[key], at(key)));
  const database = value('path') ?? ':memory:';
  if (typeof database !== 'string' || database === '') throw fail(at('path'), `path must be a file path or :memory:, got ${JSON.stringify(database)}`);
  const schema = value('schema') ?? 'main';
  if (typeof schema !== 'string' || !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(schema)) throw fail(at('schema'), `schema must be an identifier, got ${JSON.stringify(schema)}`);
  const threads = value('threads') ?? 1;
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1) throw fail(at('threads'), `threads must be a positive integer, got ${JSON.stringify(threads)}`);
  const settings = value('settings') ?? {};
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw fail(at('settings'), 'settings must be a mapping of DuckDB settings');
  for (const [k, v] of Object.entries(settings)) {
    if (!['string', 'number', 'boolean'].includes(typeof v)) throw fail([...at('settings'), k], `settings.${k} must be a string, number or boolean`);
    // Every connection runs in UTC (README, Microbatch): a run's times must not depend on a zone.
    if (k.toLowerCase() === 'timezone') throw fail([...at('settings'), k], `settings.${k}: smelter runs every connection in UTC, so the time zone cannot be set`);
  }
  const extensions = value('extensions') ?? [];
  for (const [i, ext] of (Array.isArray(extensions) ? extensions : [extensions]).entries()) {
    const extName = typeof ext === 'string' ? ext : (ext as { name?: unknown } | null)?.name;
    if (typeof extName !== 'string' || !BUNDLED_EXTENSIONS.has(extName)) {
      throw fail([...at('extensions'), i], `extension ${JSON.stringify(extName ?? ext)} cannot be loaded here: only DuckDB's bundled extensions (${[...BUNDLED_EXTENSIONS].join(', ')}) are available, and S3 is read through the AWS SDK`);
    }
  }
  const databasePath = database === ':memory:' ? database : isAbsolute(database) ? database : join(options.projectDir, database);
  return {
    targetNames,
    target: {
      name,
      database,
      databasePath,
      threads,
      settings: settings as Record<string, string | number | boolean>,
      storage: typeof value('external_root') === 'string' ? (value('external_root') as string) : undefined,
      state: { backend: 'local' },
      vars: {},
      schema,
      profileName: options.profileName,
    },
  };
}

function findProfiles(options: DbtProfileOptions): { path: string; shown: string } {
  const candidates = options.profilesDir !== undefined
    ? [options.profilesDir]
    : [options.env.DBT_PROFILES_DIR, options.projectDir, join(homedir(), '.dbt')].filter((d): d is string => d !== undefined && d !== '');
  for (const dir of candidates) {
    const path = join(isAbsolute(dir) ? dir : join(process.cwd(), dir), PROFILES_FILE);
    if (existsSync(path)) {
      const rel = relative(options.projectDir, path);
      return { path, shown: rel.startsWith('..') || isAbsolute(rel) ? path : rel };
    }
  }
  throw new ProjectError(`no ${PROFILES_FILE} for profile '${options.profileName}': looked in ${candidates.join(', ')}`, {
    code: 'config',
    hint: 'write a profiles.yml with a duckdb output in the project folder, or pass --profiles-dir DIR',
  });
}

function renderValue(engine: TemplateEngine, yaml: YamlFile, value: unknown, at: readonly (string | number)[], options: DbtProfileOptions): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{') && !value.includes('{%')) return value;
    try {
      const text = engine.render(yaml.file, value, {
        functions: {
          env_var: (name: unknown, fallback?: unknown) => envVar(options.env, name, fallback),
          var: (name: unknown, ...rest: unknown[]) => lookupVar(options.varValues, String(name), rest.length > 0, rest[0]),
        },
        values: {},
      });
      return nativeValue(text);
    } catch (error) {
      const message = error instanceof TemplateLocatedError ? error.message : String(error);
      throw new ProjectError(`${at.join('.')}: ${message}`, { code: 'config', location: yaml.locate(at), hint: (error as { hint?: string }).hint });
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => renderValue(engine, yaml, v, [...at, i], options));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(engine, yaml, v, [...at, k], options)]));
  }
  return value;
}

/** What Jinja's native rendering gives dbt: booleans, None, numbers, else the text. */
export function nativeValue(text: string): unknown {
  const t = text.trim();
  if (t === 'True' || t === 'true') return true;
  if (t === 'False' || t === 'false') return false;
  if (t === 'None' || t === 'none') return null;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return text;
}
