import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ProjectError } from '../errors.js';
import type { RenderScope } from '../template/template-engine.js';
import { parseYamlFile, type YamlFile } from '../util/yaml-file.js';
import { didYouMean } from '../util/did-you-mean.js';
import { MODEL_CONFIG_KEYS, SEED_CONFIG_KEYS, canonicalConfigKey, type CheckResult } from './config-keys.js';
import type { LoadedProject, LoadProjectOptions } from './load-project.js';
import { envVar, ProjectReader } from './project-reader.js';
import { varTypeOf } from './var-types.js';
import type { DeclaredVar, FolderConfig, PackageLayout, ProjectConfig, TargetConfig } from './project-config.js';
import { nativeValue, readDbtProfile } from './dbt-profile.js';
import { findMissingPackages } from '../packages/installed-check.js';
import { lookupVar } from '../render/context.js';
import { targetContext } from '../render/project-context.js';

export const DBT_PROJECT_FILE = 'dbt_project.yml';

/** dbt_project.yml keys smelter reads; the others listed are dbt's and have no effect here. */
const READ_KEYS = [
  'name', 'version', 'config-version', 'profile', 'model-paths', 'macro-paths', 'seed-paths', 'test-paths', 'snapshot-paths',
  'target-path', 'packages-install-path', 'vars', 'models', 'seeds', 'snapshots', 'tests', 'data_tests', 'on-run-start',
  'on-run-end', 'dispatch', 'clean-targets', 'analysis-paths',
] as const;
const IGNORED_KEYS = [
  'docs-paths', 'asset-paths', 'log-path', 'require-dbt-version', 'flags', 'quoting',
  'query-comment', 'sources', 'metrics', 'semantic-models', 'saved-queries', 'exposures', 'unit_tests', 'restrict-access',
  'dbt-cloud', 'source-paths', 'data-paths', 'modules-path',
] as const;

/**
 * A dbt project: dbt_project.yml, the DuckDB output of its profile, and the packages installed
 * under dbt_packages/. dbt's rules apply where they differ from project.yml's: config keys with or
 * without `+`, custom config keys, Jinja in config values, vars settable from --vars without a
 * declaration, and the configuration paths that match nothing are warnings.
 */
export function loadDbtProject(projectDir: string, options: LoadProjectOptions & { readonly profilesDir?: string }): LoadedProject {
  const yaml = parseYamlFile(readFileSync(join(projectDir, DBT_PROJECT_FILE), 'utf8'), DBT_PROJECT_FILE);
  return new DbtProjectReader(yaml, options.env ?? process.env).readDbt(projectDir, options);
}

class DbtProjectReader extends ProjectReader {
  private varValues: Record<string, unknown> = {};
  private target: TargetConfig | undefined;
  private readonly warnings: ProjectError[] = [];

  readDbt(projectDir: string, options: LoadProjectOptions & { readonly profilesDir?: string }): LoadedProject {
    const root = this.yaml.value;
    if (root === null || root === undefined) throw this.error([], `${DBT_PROJECT_FILE} is empty`, 'it needs at least `name:`');
    const top = this.map(root, []);
    for (const key of Object.keys(top)) {
      if ((READ_KEYS as readonly string[]).includes(key) || (IGNORED_KEYS as readonly string[]).includes(key)) continue;
      this.warnings.push(this.error([key], `unknown key '${key}' in ${DBT_PROJECT_FILE} is ignored`, didYouMean(key, [...READ_KEYS, ...IGNORED_KEYS])));
    }
    const name = this.string(top.name, ['name'], true)!;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw this.error(['name'], `name must be an identifier (letters, digits, _), got '${name}'`);

    // Vars: the root project's global ones, then those it scopes to itself; --vars may set any name (dbt's rule).
    const rawVars = top.vars === undefined || top.vars === null ? {} : this.map(top.vars, ['vars']);
    const packageScopedVars: Record<string, Record<string, unknown>> = {};
    const globalVars: Record<string, unknown> = {};
    const installPath = this.string(top['packages-install-path'], ['packages-install-path']) ?? 'dbt_packages';
    // packages.yml lists what must be installed: a run without it would fail on each missing macro instead.
    const missing = findMissingPackages(projectDir, installPath);
    if (missing) throw missing;
    const packageDirs = listPackageDirs(projectDir, installPath);
    for (const [k, v] of Object.entries(rawVars)) {
      const scoped = v !== null && typeof v === 'object' && !Array.isArray(v) && (k === name || packageDirs.has(k));
      if (scoped) packageScopedVars[k] = v as Record<string, unknown>;
      else globalVars[k] = v;
    }
    const ownVars = { ...globalVars, ...(packageScopedVars[name] ?? {}) };
    this.varValues = { ...ownVars, ...(options.vars ?? {}) };

    const profile = readDbtProfile({
      projectDir,
      profileName: this.string(top.profile, ['profile']) ?? name,
      profilesDir: options.profilesDir,
      target: options.target,
      env: this.env,
      varValues: this.varValues,
    });

    // Config values below may read the target (`+schema: "{{ target.name }}_x"`), as in dbt.
    this.target = { ...profile.target, vars: {} };
    const vars: Record<string, DeclaredVar> = {};
    for (const [k, v] of Object.entries(ownVars)) vars[k] = { name: k, default: v, type: varTypeOf(v), typed: false };

    const packages: PackageLayout[] = [];
    const layoutOf = (pkgName: string, dir: string, project: Record<string, unknown>): PackageLayout => {
      const list = (key: string, fallback: string) => {
        const v = project[key];
        const values = typeof v === 'string' ? [v] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : [fallback];
        return values.map((p) => (dir === '' ? p : `${dir}/${p}`).replace(/\/+$/, ''));
      };
      const testPaths = list('test-paths', 'tests');
      return {
        name: pkgName,
        dir,
        modelPaths: list('model-paths', 'models'),
        macroPaths: list('macro-paths', 'macros'),
        seedPaths: list('seed-paths', 'seeds'),
        dataTestPaths: testPaths,
        snapshotPaths: list('snapshot-paths', 'snapshots'),
        models: { config: {}, folders: {} },
        seeds: { config: {}, folders: {} },
        snapshots: { config: {}, folders: {} },
        tests: { config: {}, folders: {} },
        vars: {},
      };
    };

    const rootLayout = layoutOf(name, '', top);
    const layouts = new Map<string, PackageLayout>([[name, rootLayout]]);
    const packageFiles = new Map<string, { yaml: YamlFile; top: Record<string, unknown>; dir: string }>();
    for (const [dirName, rel] of [...packageDirs].sort()) {
      const file = `${rel}/${DBT_PROJECT_FILE}`;
      const pkgYaml = parseYamlFile(readFileSync(join(projectDir, file), 'utf8'), file);
      const pkgTop = (pkgYaml.value ?? {}) as Record<string, unknown>;
      const pkgName = typeof pkgTop.name === 'string' ? pkgTop.name : dirName;
      if (pkgName === name) {
        throw new ProjectError(`the package in ${rel} has the root project's name '${name}'`, { code: 'config', location: pkgYaml.locate(['name']) });
      }
      if (layouts.has(pkgName)) {
        throw new ProjectError(`two installed packages are named '${pkgName}' (${packageFiles.get(pkgName)!.dir} and ${rel})`, { code: 'duplicate', location: pkgYaml.locate(['name']) });
      }
      layouts.set(pkgName, layoutOf(pkgName, rel, pkgTop));
      packageFiles.set(pkgName, { yaml: pkgYaml, top: pkgTop, dir: rel });
    }

    // Folder config: a package's own dbt_project.yml, then the root project's, which wins.
    const resourceConfig = (resource: 'models' | 'seeds' | 'snapshots' | 'tests', keys: KeyChecks | undefined) => {
      const perPackage = new Map<string, FolderConfig>();
      for (const [pkgName, file] of packageFiles) {
        const reader = new DbtProjectReader(file.yaml, this.env);
        reader.varValues = { ...this.varValues };
        const own = reader.resourceTree(file.top[resource], [resource], projectDir, layouts, keys, pkgName);
        perPackage.set(pkgName, own.get(pkgName) ?? EMPTY_FOLDER);
        this.warnings.push(...reader.warnings);
      }
      const fromRoot = this.resourceTree(top[resource] ?? (resource === 'tests' ? top.data_tests : undefined), [resource], projectDir, layouts, keys, undefined);
      for (const [pkgName, tree] of fromRoot) perPackage.set(pkgName, mergeFolderConfig(perPackage.get(pkgName) ?? EMPTY_FOLDER, tree));
      return perPackage;
    };
    const modelTrees = resourceConfig('models', MODEL_CONFIG_KEYS);
    const seedTrees = resourceConfig('seeds', SEED_CONFIG_KEYS);
    const snapshotTrees = resourceConfig('snapshots', undefined);
    const testTrees = resourceConfig('tests', undefined);
    for (const [pkgName, layout] of layouts) {
      const pkg = packageFiles.get(pkgName);
      const pkgVars = pkg?.top.vars !== null && typeof pkg?.top.vars === 'object' ? (pkg.top.vars as Record<string, unknown>) : {};
      const full: PackageLayout = {
        ...layout,
        models: modelTrees.get(pkgName) ?? EMPTY_FOLDER,
        seeds: seedTrees.get(pkgName) ?? EMPTY_FOLDER,
        snapshots: snapshotTrees.get(pkgName) ?? EMPTY_FOLDER,
        tests: testTrees.get(pkgName) ?? EMPTY_FOLDER,
        // dbt's precedence for a package's var: its own project < the root's global < the root's scoped to it.
        vars: pkgName === name ? ownVars : { ...pkgVars, ...globalVars, ...(packageScopedVars[pkgName] ?? {}) },
      };
      if (pkgName === name) layouts.set(name, full);
      else packages.push(full);
    }
    const rootFull = layouts.get(name)!;

    const config: ProjectConfig = {
      flavor: 'dbt',
      packages,
      dispatch: this.dispatch(top.dispatch),
      dir: projectDir,
      name,
      modelPaths: rootFull.modelPaths,
      macroPaths: rootFull.macroPaths,
      seedPaths: rootFull.seedPaths,
      dataTestPaths: rootFull.dataTestPaths,
      snapshotPaths: rootFull.snapshotPaths,
      targetPath: this.string(top['target-path'], ['target-path']) ?? 'target',
      cleanTargets: this.stringList(top['clean-targets'], ['clean-targets']),
      analysisPaths: this.stringList(top['analysis-paths'], ['analysis-paths']),
      vars,
      target: { ...profile.target, vars: {} },
      targetNames: profile.targetNames,
      onRunStart: this.stringList(top['on-run-start'], ['on-run-start']) ?? [],
      onRunEnd: this.stringList(top['on-run-end'], ['on-run-end']) ?? [],
      models: rootFull.models,
      seeds: rootFull.seeds,
      snapshots: rootFull.snapshots,
      tests: rootFull.tests,
    };
    // Package vars are visible to every node; a package's own default never overrides the root's.
    const varValues: Record<string, unknown> = {};
    for (const pkg of packages) Object.assign(varValues, pkg.vars);
    Object.assign(varValues, this.varValues);
    return { config, varValues, warnings: this.warnings };
  }

  /** `dispatch: [{macro_namespace, search_order}]`. */
  private dispatch(value: unknown): Record<string, readonly string[]> {
    if (value === undefined || value === null) return {};
    if (!Array.isArray(value)) throw this.error(['dispatch'], 'dispatch must be a list of {macro_namespace, search_order}');
    const out: Record<string, readonly string[]> = {};
    value.forEach((entry, i) => {
      const m = this.map(entry, ['dispatch', i]);
      this.checkKeys(m, ['macro_namespace', 'search_order'], ['dispatch', String(i)], 'dispatch key');
      const namespace = this.string(m.macro_namespace, ['dispatch', i, 'macro_namespace'], true)!;
      const order = this.stringList(m.search_order, ['dispatch', i, 'search_order']);
      if (!order?.length) throw this.error(['dispatch', i, 'search_order'], 'dispatch search_order must list at least one package');
      out[namespace] = order;
    });
    return out;
  }

  /**
   * One resource's block (`models:`): its top level may hold config for every package; a key
   * naming a package holds that package's folders. Returns each package's tree.
   */
  resourceTree(
    value: unknown,
    at: string[],
    projectDir: string,
    layouts: ReadonlyMap<string, PackageLayout>,
    keys: KeyChecks | undefined,
    onlyPackage: string | undefined,
  ): Map<string, FolderConfig> {
    const out = new Map<string, FolderConfig>();
    if (value === undefined || value === null) return out;
    const m = this.map(value, at);
    const everywhere: Record<string, unknown> = {};
    for (const [rawKey, v] of Object.entries(m)) {
      const keyPath = [...at, rawKey];
      const layout = layouts.get(rawKey);
      if (!rawKey.startsWith('+') && layout !== undefined && isMapping(v)) {
        if (onlyPackage !== undefined && rawKey !== onlyPackage) continue;
        const roots = rootsOf(layout, at[0]);
        out.set(rawKey, this.folderTree(v, keyPath, projectDir, roots, keys, ''));
        continue;
      }
      if (!rawKey.startsWith('+') && isMapping(v)) {
        this.warnings.push(this.error(keyPath, `${at[0]}.${rawKey} names no package (${[...layouts.keys()].join(', ')}) and applies to nothing`, didYouMean(rawKey, [...layouts.keys()])));
        continue;
      }
      everywhere[configKey(rawKey)] = this.configValue(v, keyPath, keys);
    }
    if (Object.keys(everywhere).length > 0) {
      for (const name of layouts.keys()) {
        if (onlyPackage !== undefined && name !== onlyPackage) continue;
        const tree = out.get(name) ?? EMPTY_FOLDER;
        out.set(name, { config: { ...everywhere, ...tree.config }, folders: tree.folders });
      }
    }
    return out;
  }

  /**
   * dbt's folder levels: `+key` is config; a key whose value is not a mapping is config; a mapping
   * under a plain key is a folder, or a single file's config when it names a file there. A level
   * matching nothing is a warning, as in dbt.
   */
  private folderTree(value: unknown, at: string[], projectDir: string, roots: readonly string[], keys: KeyChecks | undefined, folder: string): FolderConfig {
    const m = this.map(value, at);
    const config: Record<string, unknown> = {};
    const folders: Record<string, FolderConfig> = {};
    for (const [rawKey, v] of Object.entries(m)) {
      const keyPath = [...at, rawKey];
      if (rawKey.startsWith('+') || !isMapping(v)) {
        config[configKey(rawKey)] = this.configValue(v, keyPath, keys);
        continue;
      }
      const sub = folder === '' ? rawKey : `${folder}/${rawKey}`;
      const exists = roots.some((r) => isDir(join(projectDir, r, sub)) || hasFileNamed(join(projectDir, r, folder), rawKey));
      if (!exists) {
        this.warnings.push(this.error(keyPath, `${this.keyName(keyPath)} applies to nothing: no folder or file ${roots[0]}/${sub}`));
      }
      folders[rawKey] = this.folderTree(v, keyPath, projectDir, roots, keys, sub);
    }
    return { config, folders };
  }

  /** A config value: Jinja rendered (dbt renders config in dbt_project.yml), then checked when smelter knows the key. */
  private configValue(raw: unknown, keyPath: readonly (string | number)[], keys: KeyChecks | undefined): unknown {
    const key = configKey(String(keyPath[keyPath.length - 1]));
    // Hooks are templates of their own, rendered when they run (with `this`), as dbt does.
    const value = HOOK_KEYS.has(key) ? raw : this.renderDeep(raw, keyPath);
    const check = keys?.[key];
    if (check === undefined) return value;
    const result = check(value);
    if (!result.ok) throw this.error(keyPath, `${this.keyName(keyPath)} must be ${result.expected}, got ${JSON.stringify(value)}`);
    return result.value;
  }

  protected override renderScope(): RenderScope {
    const varValues = this.varValues;
    return {
      functions: {
        env_var: (name: unknown, fallback?: unknown) => envVar(this.env, name, fallback),
        var: (name: unknown, ...rest: unknown[]) => lookupVar(varValues, String(name), rest.length > 0, rest[0]),
      },
      values: this.target === undefined ? {} : { target: targetContext(this.target) },
    };
  }

  /** dbt renders config values to Python values: `{{ var('x', false) }}` is the boolean false. */
  protected override renderedValue(text: string): unknown {
    return nativeValue(text);
  }
}

type KeyChecks = Readonly<Record<string, (v: unknown) => CheckResult>>;

const HOOK_KEYS = new Set(['pre_hook', 'post_hook']);

const EMPTY_FOLDER: FolderConfig = { config: {}, folders: {} };

function configKey(rawKey: string): string {
  return canonicalConfigKey(rawKey.startsWith('+') ? rawKey.slice(1) : rawKey);
}

function rootsOf(layout: PackageLayout, resource: string | undefined): readonly string[] {
  switch (resource) {
    case 'seeds':
      return layout.seedPaths;
    case 'snapshots':
      return layout.snapshotPaths;
    case 'tests':
      return layout.dataTestPaths;
    default:
      return layout.modelPaths;
  }
}

function mergeFolderConfig(base: FolderConfig, over: FolderConfig): FolderConfig {
  const folders: Record<string, FolderConfig> = { ...base.folders };
  for (const [k, v] of Object.entries(over.folders)) folders[k] = folders[k] ? mergeFolderConfig(folders[k], v) : v;
  return { config: { ...base.config, ...over.config }, folders };
}

/** Installed packages: each folder (or symlink) under the install path with a dbt_project.yml. */
function listPackageDirs(projectDir: string, installPath: string): Map<string, string> {
  const out = new Map<string, string>();
  const base = join(projectDir, installPath);
  if (!isDir(base)) return out;
  for (const entry of readdirSync(base)) {
    const dir = join(base, entry);
    if (isDir(dir) && existsSync(join(dir, DBT_PROJECT_FILE))) out.set(entry, relative(projectDir, dir));
  }
  return out;
}

function hasFileNamed(dir: string, stem: string): boolean {
  try {
    return readdirSync(dir).some((f) => f.replace(/\.(sql|csv|py)$/, '') === stem && f !== stem);
  } catch {
    return false;
  }
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
