import { parseByteSize } from '../util/byte-size.js';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, resolve, isAbsolute } from 'node:path';
import { ProjectError } from '../errors.js';
import { parseYamlFile } from '../util/yaml-file.js';
import { didYouMean } from '../util/did-you-mean.js';
import { ProjectReader } from './project-reader.js';
import { MODEL_CONFIG_KEYS, SEED_CONFIG_KEYS, canonicalConfigKey } from './config-keys.js';
import type { DeclaredVar, FolderConfig, ProjectConfig, StateConfig, TargetConfig } from './project-config.js';
import { boundJson, boundText } from '../util/bounded-text.js';
import { DBT_PROJECT_FILE, loadDbtProject } from './dbt-project.js';
import {
  DECLARED_VAR_TYPES,
  VAR_DECLARATION_KEYS,
  describeVar,
  eventRefusal,
  isDeclaredType,
  ofType,
  typeOfValues,
  unsafeInEvent,
  varAccepts,
  varTypeOf,
} from './var-types.js';

export { varTypeOf } from './var-types.js';
export { envVar } from './project-reader.js';

export const PROJECT_FILE = 'project.yml';

export interface LoadProjectOptions {
  /** --target: overrides project.yml's `target:`. */
  readonly target?: string;
  /** --vars (already parsed), or a Lambda event's vars: may set declared vars only, each of its type. */
  readonly vars?: Readonly<Record<string, unknown>>;
  /**
   * Where `vars` and `target` come from, for messages and for what they may set. `event` (a Lambda
   * event) may set only typed vars, a string only with `pattern:` or `values:`, and never a string
   * holding a quote, semicolon or comment. Default `cli`.
   */
  readonly from?: 'cli' | 'event';
  readonly env?: NodeJS.ProcessEnv;
  /** A dbt project's --profiles-dir. */
  readonly profilesDir?: string;
}

export interface LoadedProject {
  readonly config: ProjectConfig;
  /** Final var values: project defaults < target vars < --vars. */
  readonly varValues: Readonly<Record<string, unknown>>;
  /** What reading the project found harmless but worth saying (dbt warns where project.yml errs). */
  readonly warnings?: readonly ProjectError[];
}

const TOP_LEVEL_KEYS = [
  'name',
  'version',
  'model-paths',
  'macro-paths',
  'seed-paths',
  'data-test-paths',
  'analysis-paths',
  'target-path',
  'vars',
  'target',
  'targets',
  'on-run-start',
  'on-run-end',
  'models',
  'seeds',
] as const;
const TARGET_KEYS = ['database', 'threads', 'settings', 'storage', 'state', 'cache_max_bytes', 'vars'] as const;
const STATE_KEYS = ['backend', 'table', 'lease_seconds'] as const;
const DEFAULT_TARGET = 'dev';

/** Read and validate `project.yml` in `dir`; the active target alone is rendered. */
export function loadProject(dir: string, options: LoadProjectOptions = {}): LoadedProject {
  const projectDir = resolve(dir);
  const path = join(projectDir, PROJECT_FILE);
  if (!existsSync(path)) {
    // A dbt project runs as written: dbt_project.yml and its profile (SPEC §12).
    if (existsSync(join(projectDir, DBT_PROJECT_FILE))) return loadDbtProject(projectDir, options);
    throw new ProjectError(`no ${PROJECT_FILE} or ${DBT_PROJECT_FILE} in ${projectDir}`, {
      hint: 'run smelter in a project directory or pass --project-dir DIR',
    });
  }
  const yaml = parseYamlFile(readFileSync(path, 'utf8'), PROJECT_FILE);
  const reader = new SmelterProjectReader(yaml, options.env ?? process.env);
  return reader.read(projectDir, options);
}

/** project.yml. */
class SmelterProjectReader extends ProjectReader {
  read(projectDir: string, options: LoadProjectOptions): LoadedProject {
    const root = this.yaml.value;
    if (root === null || root === undefined) throw this.error([], `${PROJECT_FILE} is empty`, 'it needs at least `name:`');
    const top = this.map(root, []);
    this.checkKeys(top, TOP_LEVEL_KEYS, [], `key`);

    const name = this.string(top.name, ['name'], true)!;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw this.error(['name'], `name must be an identifier (letters, digits, _), got '${name}'`);
    const paths = (key: string, fallback: string) => this.stringList(top[key], [key]) ?? [fallback];

    const vars = this.declaredVars(top.vars);
    const { target, targetNames } = this.target(top, projectDir, options.target, vars, options.from ?? 'cli');

    const varValues: Record<string, unknown> = {};
    for (const v of Object.values(vars)) varValues[v.name] = v.default;
    for (const [k, v] of Object.entries(target.vars)) varValues[k] = v;
    for (const [k, v] of Object.entries(options.vars ?? {})) {
      varValues[k] = this.givenVar(k, v, vars, target.vars, options.from ?? 'cli');
    }

    const config: ProjectConfig = {
      flavor: 'smelter',
      packages: [],
      dispatch: {},
      dir: projectDir,
      name,
      modelPaths: paths('model-paths', 'models'),
      macroPaths: paths('macro-paths', 'macros'),
      seedPaths: paths('seed-paths', 'seeds'),
      dataTestPaths: paths('data-test-paths', 'data_tests'),
      analysisPaths: paths('analysis-paths', 'analyses'),
      targetPath: this.string(top['target-path'], ['target-path']) ?? 'target',
      vars,
      target,
      targetNames,
      onRunStart: this.stringList(top['on-run-start'], ['on-run-start']) ?? [],
      onRunEnd: this.stringList(top['on-run-end'], ['on-run-end']) ?? [],
      models: { config: {}, folders: {} },
      seeds: { config: {}, folders: {} },
    };
    const models = this.folderConfig(top.models, ['models'], projectDir, config.modelPaths, MODEL_CONFIG_KEYS);
    const seeds = this.folderConfig(top.seeds, ['seeds'], projectDir, config.seedPaths, SEED_CONFIG_KEYS);
    return { config: { ...config, models, seeds }, varValues };
  }

  /** One value of --vars or an event, checked against its declaration before anything renders. */
  private givenVar(k: string, v: unknown, vars: Record<string, DeclaredVar>, targetVars: Readonly<Record<string, unknown>>, from: 'cli' | 'event'): unknown {
    const label = from === 'event' ? 'event vars' : '--vars';
    const name = boundText(k, 100);
    const declared = Object.hasOwn(vars, k) ? vars[k] : (Object.hasOwn(targetVars, k) ? { name: k, default: targetVars[k], type: varTypeOf(targetVars[k]), typed: false } : undefined);
    if (!declared) {
      throw new ProjectError(`${label} sets '${name}', which ${PROJECT_FILE} does not declare`, {
        code: 'vars',
        hint: didYouMean(k, [...Object.keys(vars), ...Object.keys(targetVars)]) ?? 'declare it under vars: in project.yml',
      });
    }
    if (from === 'event') {
      const refusal = eventRefusal(declared, name);
      if (refusal !== undefined) throw new ProjectError(refusal, { code: 'vars' });
    }
    if (!varAccepts(declared, v)) {
      throw new ProjectError(`${label} '${name}' must be ${describeVar(declared)}, got ${boundJson(v)}`, { code: 'vars' });
    }
    if (from === 'event' && typeof v === 'string') {
      const unsafe = unsafeInEvent(v);
      if (unsafe !== undefined) throw new ProjectError(`${label} '${name}' holds ${unsafe}, which no value from an event may hold: got ${boundJson(v)}`, { code: 'vars' });
    }
    return v;
  }

  protected declaredVars(value: unknown): Record<string, DeclaredVar> {
    if (value === undefined || value === null) return {};
    const m = this.map(value, ['vars']);
    const out: Record<string, DeclaredVar> = {};
    for (const [k, raw] of Object.entries(m)) {
      const v = this.renderDeep(raw, ['vars', k]);
      out[k] = isDeclaration(v) ? this.typedVar(k, v as Record<string, unknown>) : { name: k, default: v, type: varTypeOf(v), typed: false };
    }
    return out;
  }

  /** `name: {type: T, default: D, values: [...], pattern: RE}`: every key checked, the default of its type. */
  private typedVar(name: string, decl: Record<string, unknown>): DeclaredVar {
    const at = (key?: string) => (key === undefined ? ['vars', name] : ['vars', name, key]);
    this.checkKeys(decl, VAR_DECLARATION_KEYS, at(), 'var key');
    let values: Array<string | number | boolean> | undefined;
    if (decl.values !== undefined) {
      if (!Array.isArray(decl.values) || decl.values.length === 0 || !decl.values.every((x) => ['string', 'number', 'boolean'].includes(typeof x))) {
        throw this.error(at('values'), `vars.${name}.values must be a non-empty list of strings, numbers or booleans`);
      }
      values = decl.values as Array<string | number | boolean>;
    }
    // `values:` without `type:` says the type: integers, numbers, booleans, else strings.
    const typeRaw = decl.type ?? (values === undefined ? undefined : typeOfValues(values));
    if (typeRaw === undefined) throw this.error(at(), `vars.${name} needs type: (one of ${DECLARED_VAR_TYPES.join(', ')}) beside its default`);
    if (!isDeclaredType(typeRaw)) {
      throw this.error(
        at('type'),
        `vars.${name}.type must be one of ${DECLARED_VAR_TYPES.join(', ')}, got ${boundJson(typeRaw)}`,
        typeof typeRaw === 'string' ? didYouMean(typeRaw, DECLARED_VAR_TYPES) : undefined,
      );
    }
    const type = typeRaw;
    let pattern: string | undefined;
    if (decl.pattern !== undefined) {
      if (type !== 'string') throw this.error(at('pattern'), `vars.${name}.pattern applies to a string var, not ${type === 'integer' || type === 'identifier' ? 'an' : 'a'} ${type}`);
      if (typeof decl.pattern !== 'string') throw this.error(at('pattern'), `vars.${name}.pattern must be a regular expression as a string, got ${boundJson(decl.pattern)}`);
      try {
        new RegExp(decl.pattern, 'u');
      } catch (error) {
        throw this.error(at('pattern'), `vars.${name}.pattern is not a valid regular expression: ${(error as Error).message}`);
      }
      pattern = decl.pattern;
    }
    for (const [i, x] of (values ?? []).entries()) {
      if (!ofType(type, x)) throw this.error([...at('values'), i], `vars.${name}.values: ${boundJson(x)} is not ${describeVar({ type })}`);
    }
    const declared: DeclaredVar = { name, default: decl.default ?? null, type, typed: true, values, pattern };
    if (!varAccepts(declared, declared.default)) {
      throw this.error(at('default'), `vars.${name}.default must be ${describeVar(declared)} (or null), got ${boundJson(declared.default)}`);
    }
    return declared;
  }

  private target(
    top: Record<string, unknown>,
    projectDir: string,
    requested: string | undefined,
    vars: Record<string, DeclaredVar>,
    from: 'cli' | 'event',
  ): { target: TargetConfig; targetNames: string[] } {
    const targets = top.targets === undefined ? undefined : this.map(top.targets, ['targets']);
    const targetNames = targets ? Object.keys(targets) : [DEFAULT_TARGET];
    const defaultName = this.string(top.target, ['target']) ?? (targets ? targetNames[0] : DEFAULT_TARGET);
    if (targets && top.target !== undefined && !(defaultName in targets)) {
      throw this.error(['target'], `target '${defaultName}' is not defined under targets:`, didYouMean(defaultName, targetNames));
    }
    const name = requested ?? defaultName;
    if (!targetNames.includes(name)) {
      throw new ProjectError(`${from === 'event' ? 'event target' : '--target'} '${boundText(name)}' is not defined in ${PROJECT_FILE}`, {
        code: 'config',
        hint: didYouMean(name, targetNames) ?? `targets: ${targetNames.join(', ')}`,
      });
    }
    const raw = targets ? this.map(targets[name] ?? {}, ['targets', name]) : {};
    const at = (key: string) => ['targets', name, key];
    this.checkKeys(raw, TARGET_KEYS, ['targets', name], 'target key');
    // Rendered in the order written, so the first error reported is the first in the file.
    const renderedValues = new Map(Object.entries(raw).map(([k, v]) => [k, this.renderDeep(v, at(k))]));
    const rendered = (key: string) => renderedValues.get(key);

    const database = this.string(rendered('database'), at('database')) ?? join(this.string(top['target-path'], ['target-path']) ?? 'target', `${name}.duckdb`);
    const threads = rendered('threads') ?? 4;
    if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1) {
      throw this.error(at('threads'), `targets.${name}.threads must be a positive integer, got ${JSON.stringify(threads)}`);
    }
    const settingsRaw = rendered('settings') ?? {};
    const settings = this.map(settingsRaw, at('settings')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(settings)) {
      if (!['string', 'number', 'boolean'].includes(typeof v)) {
        throw this.error([...at('settings'), k], `targets.${name}.settings.${k} must be a string, number or boolean`);
      }
    }
    const stateRaw = rendered('state') ?? { backend: 'local' };
    const stateMap = this.map(stateRaw, at('state'));
    this.checkKeys(stateMap, STATE_KEYS, at('state'), 'state key');
    const backend = stateMap.backend ?? 'local';
    if (backend !== 'local' && backend !== 'dynamodb') {
      throw this.error([...at('state'), 'backend'], `targets.${name}.state.backend must be 'local' or 'dynamodb', got ${JSON.stringify(backend)}`);
    }
    const state: StateConfig = {
      backend,
      table: this.string(stateMap.table, [...at('state'), 'table']),
      lease_seconds: stateMap.lease_seconds === undefined ? undefined : this.positiveInt(stateMap.lease_seconds, [...at('state'), 'lease_seconds']),
    };
    if (backend === 'dynamodb' && !state.table) throw this.error(at('state'), `targets.${name}.state: the dynamodb backend needs table:`);
    const targetVarsRaw = rendered('vars') ?? {};
    const targetVars = this.map(targetVarsRaw, at('vars'));
    for (const [k, v] of Object.entries(targetVars)) {
      const declared = vars[k];
      if (declared && !varAccepts(declared, v)) {
        const like = declared.typed ? 'as declared in vars:' : 'like its default in vars:';
        throw this.error([...at('vars'), k], `targets.${name}.vars.${k} must be ${describeVar(declared)} ${like}, got ${boundJson(v)}`);
      }
    }
    const storage = this.string(rendered('storage'), at('storage'));
    const cacheRaw = rendered('cache_max_bytes');
    const cacheMaxBytes = cacheRaw === undefined ? undefined : parseByteSize(cacheRaw);
    if (cacheRaw !== undefined && cacheMaxBytes === undefined) {
      throw this.error(at('cache_max_bytes'), `targets.${name}.cache_max_bytes must be a size such as 2GB or 500MB, got ${JSON.stringify(cacheRaw)}`);
    }
    return {
      targetNames,
      target: {
        name,
        database,
        databasePath: database === ':memory:' ? database : isAbsolute(database) ? database : join(projectDir, database),
        threads,
        settings: settings as Record<string, string | number | boolean>,
        storage,
        state,
        cacheMaxBytes,
        vars: targetVars,
        schema: 'main',
      },
    };
  }

  protected folderConfig(
    value: unknown,
    path: string[],
    projectDir: string,
    roots: readonly string[],
    keys: Readonly<Record<string, (v: unknown) => { ok: boolean; value?: unknown; expected?: string }>>,
  ): FolderConfig {
    if (value === undefined || value === null) return { config: {}, folders: {} };
    const walk = (node: unknown, at: string[], folder: string): FolderConfig => {
      const m = this.map(node, at);
      const config: Record<string, unknown> = {};
      const folders: Record<string, FolderConfig> = {};
      for (const [rawKey, v] of Object.entries(m)) {
        const keyPath = [...at, rawKey];
        const isConfig = rawKey.startsWith('+');
        const key = canonicalConfigKey(isConfig ? rawKey.slice(1) : rawKey);
        const sub = folder === '' ? rawKey : `${folder}/${rawKey}`;
        const folderExists = !isConfig && roots.some((r) => isDir(join(projectDir, r, sub)));
        if (folderExists && v !== null && typeof v === 'object' && !Array.isArray(v)) {
          folders[rawKey] = walk(v, keyPath, sub);
          continue;
        }
        const check = keys[key];
        if (folderExists && !check) throw this.error(keyPath, `${this.keyName(keyPath)} must be a mapping`);
        if (!check) {
          const where = `${roots[0]}/${sub}`;
          throw this.error(
            keyPath,
            isConfig ? `unknown config key '${key}' in ${this.keyName(keyPath)}` : `no folder ${where} and no config key ${rawKey}`,
            didYouMean(key, Object.keys(keys)) ?? didYouMean(rawKey, listFolders(projectDir, roots, folder)),
          );
        }
        const result = check(v);
        if (!result.ok) throw this.error(keyPath, `${this.keyName(keyPath)} must be ${result.expected}, got ${JSON.stringify(v)}`);
        config[key] = result.value;
      }
      return { config, folders };
    };
    return walk(value, path, '');
  }

}


/**
 * A var written as a mapping with `type:` or `values:` is a declaration; so is one with `default:`
 * and only declaration keys, so `{default: 5}` without its type is an error rather than a map.
 * Any other mapping is a plain default of type map.
 */
function isDeclaration(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  if (keys.includes('type') || keys.includes('values')) return true;
  return keys.includes('default') && keys.every((k) => (VAR_DECLARATION_KEYS as readonly string[]).includes(k));
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function listFolders(projectDir: string, roots: readonly string[], folder: string): string[] {
  const out: string[] = [];
  for (const r of roots) {
    const dir = join(projectDir, r, folder);
    if (!isDir(dir)) continue;
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) out.push(d.name);
  }
  return out;
}
