import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProjectError, type SourceLocation } from '../errors.js';
import { didYouMean } from '../util/did-you-mean.js';
import { parseYamlFile, type YamlFile } from '../util/yaml-file.js';
import { renderEnvVars } from './env-var-text.js';
import type { PackageSpec } from './package-spec.js';
import { parseRange } from './semver.js';

/** dbt reads either; `dependencies.yml` is the newer name and never templated. */
export const PACKAGES_FILE_NAMES = ['packages.yml', 'dependencies.yml'] as const;

export interface PackagesFile {
  /** Path of the file as messages show it (relative to the root project). */
  readonly file: string;
  readonly packages: PackageSpec[];
  /** Identifies the list as written: package-lock.yml records it, and is used only while it matches. */
  readonly sha1Hash: string;
}

export interface ReadPackagesOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** How messages name `dir` (default: nothing, the root project). */
  readonly displayDir?: string;
  /**
   * false: keep `{{ env_var(...) }}` as written instead of reading the environment. For a check
   * that needs no URL (is every package installed?) in a run whose environment lacks the token
   * `deps` had. Default true.
   */
  readonly renderEnvVars?: boolean;
}

/**
 * The packages a project lists, from its packages.yml or dependencies.yml; undefined when it has
 * neither. A malformed file is a ProjectError naming file, line and key.
 */
export function readPackagesFile(projectDir: string, options: ReadPackagesOptions = {}): PackagesFile | undefined {
  const display = (name: string) => (options.displayDir ? `${options.displayDir}/${name}` : name);
  const present = PACKAGES_FILE_NAMES.filter((name) => existsSync(join(projectDir, name))).map((name) => ({
    name,
    yaml: parseYamlFile(readFileSync(join(projectDir, name), 'utf8'), display(name)),
  }));
  const listing = present.filter(({ yaml }) => isRecord(yaml.value) && yaml.value.packages !== undefined);
  if (listing.length > 1) {
    throw new ProjectError('packages are listed in both packages.yml and dependencies.yml: keep one list', {
      location: listing[1].yaml.locate(['packages']),
    });
  }
  const chosen = listing[0] ?? present[0];
  if (chosen === undefined) return undefined;
  const packages = readPackageList(chosen.yaml, {
    env: options.env ?? process.env,
    allowTemplates: chosen.name === 'packages.yml',
    renderEnvVars: options.renderEnvVars ?? true,
    topLevelKeys: chosen.name === 'dependencies.yml' ? ['packages', 'projects'] : ['packages'],
  });
  return { file: chosen.yaml.file, packages: packages.specs, sha1Hash: hashEntries(packages.raw) };
}

export interface PackageListOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly allowTemplates: boolean;
  readonly renderEnvVars?: boolean;
  readonly topLevelKeys: readonly string[];
  /** Keys an entry may carry besides its kind's own (package-lock.yml adds `name`). */
  readonly extraEntryKeys?: readonly string[];
}

/** The `packages:` list of a parsed file: the specs, and the entries as written (for the hash). */
export function readPackageList(yaml: YamlFile, options: PackageListOptions): { specs: PackageSpec[]; raw: unknown[] } {
  const root = yaml.value ?? {};
  if (!isRecord(root)) throw new ProjectError(`${yaml.file} must be a mapping with a packages: list`, { location: yaml.locate([]) });
  for (const key of Object.keys(root)) {
    if (!options.topLevelKeys.includes(key)) {
      throw new ProjectError(`unknown key '${key}'`, { location: yaml.locate([key]), hint: didYouMean(key, options.topLevelKeys) });
    }
  }
  if (root.projects !== undefined && !(Array.isArray(root.projects) && root.projects.length === 0)) {
    throw new ProjectError('projects: (dependencies on other dbt projects, dbt Mesh) is not supported by smelter', { location: yaml.locate(['projects']) });
  }
  const list = root.packages ?? [];
  if (!Array.isArray(list)) throw new ProjectError('packages must be a list', { location: yaml.locate(['packages']) });
  const specs = list.map((entry, i) => readEntry(entry, yaml, ['packages', i], options));
  return { specs, raw: list };
}

const KEYS_OF = {
  local: ['local'],
  git: ['git', 'revision', 'subdirectory', 'warn-unpinned'],
  hub: ['package', 'version', 'install-prerelease'],
} as const;

function readEntry(entry: unknown, yaml: YamlFile, path: (string | number)[], options: PackageListOptions): PackageSpec {
  const location = yaml.locate(path);
  const at = (key: string) => yaml.locate([...path, key]);
  if (!isRecord(entry)) throw new ProjectError('a package must be a mapping with local:, git: or package:', { location });
  if ('tarball' in entry) throw new ProjectError('tarball packages are not supported by smelter deps (use a hub package, git or local)', { location: at('tarball') });
  if ('private' in entry) throw new ProjectError('private packages (private:) are not supported by smelter deps (use git: with the URL)', { location: at('private') });
  const kinds = (['local', 'git', 'package'] as const).filter((k) => k in entry);
  if (kinds.length === 0) throw new ProjectError('a package needs one of local:, git: or package:', { location });
  if (kinds.length > 1) throw new ProjectError(`a package has one source, not both ${kinds[0]}: and ${kinds[1]}:`, { location: at(kinds[1]) });
  const kind = kinds[0] === 'package' ? 'hub' : kinds[0];
  const allowed: readonly string[] = [...KEYS_OF[kind], ...(options.extraEntryKeys ?? [])];
  for (const key of Object.keys(entry)) {
    if (!allowed.includes(key)) {
      throw new ProjectError(`unknown key '${key}' in a ${kind === 'hub' ? 'hub' : kind} package`, { location: at(key), hint: didYouMean(key, allowed) });
    }
  }
  const keyLocations: Record<string, SourceLocation> = {};
  for (const key of Object.keys(entry)) keyLocations[key] = at(key);
  const text = (key: string, required: boolean): string | undefined => {
    const value = entry[key];
    if (value === undefined || value === null) {
      if (required) throw new ProjectError(`${key}: is required`, { location });
      return undefined;
    }
    if (typeof value !== 'string') {
      throw new ProjectError(`${key} must be a string, got ${JSON.stringify(value)}${typeof value === 'number' ? ` (quote it: "${String(value)}")` : ''}`, { location: at(key) });
    }
    const rendered = options.renderEnvVars === false ? value.trim() : renderEnvVars(value, options.env, at(key), options.allowTemplates).trim();
    if (rendered === '') throw new ProjectError(`${key} must not be empty`, { location: at(key) });
    return rendered;
  };
  const flag = (key: string): boolean => {
    const value = entry[key];
    if (value === undefined || value === null) return key === 'warn-unpinned';
    if (typeof value !== 'boolean') throw new ProjectError(`${key} must be true or false, got ${JSON.stringify(value)}`, { location: at(key) });
    return value;
  };
  switch (kind) {
    case 'local':
      return { kind, local: text('local', true)!, location, keyLocations, asWritten: entry };
    case 'git': {
      const subdirectory = text('subdirectory', false);
      if (subdirectory !== undefined && (subdirectory.startsWith('/') || subdirectory.split(/[\\/]/).includes('..'))) {
        throw new ProjectError(`subdirectory must be a path inside the repository, got '${subdirectory}'`, { location: at('subdirectory') });
      }
      return { kind, git: text('git', true)!, revision: text('revision', false), subdirectory, warnUnpinned: flag('warn-unpinned'), location, keyLocations, asWritten: entry };
    }
    case 'hub': {
      const name = text('package', true)!;
      if (!/^[\w.-]+\/[\w.-]+$/.test(name)) {
        throw new ProjectError(`package must be the hub's org/name (like dbt-labs/dbt_utils), got '${name}'`, { location: at('package') });
      }
      if (entry.version === undefined || entry.version === null) {
        throw new ProjectError(`hub package ${name} needs a version: (a version like 1.4.1, a range like ">=1.0.0", or a list of ranges)`, { location });
      }
      const ranges = Array.isArray(entry.version) ? entry.version : [entry.version];
      if (ranges.length === 0) throw new ProjectError('version must list at least one range', { location: at('version') });
      for (const range of ranges) {
        if (typeof range !== 'string') {
          throw new ProjectError(`version must be a string or a list of strings, got ${JSON.stringify(range)}${typeof range === 'number' ? ` (quote it: "${String(range)}")` : ''}`, { location: at('version') });
        }
        if (parseRange(range) === undefined) {
          throw new ProjectError(`'${range}' is not a version or range (write 1.4.1, ">=1.0.0" or "<2.0.0")`, { location: at('version') });
        }
      }
      return { kind, package: name, version: ranges as string[], installPrerelease: flag('install-prerelease'), location, keyLocations, asWritten: entry };
    }
  }
}

/**
 * One digest of the list as written, independent of key order and of the order of the entries:
 * each entry as JSON with sorted keys, the lines sorted.
 */
export function hashEntries(entries: readonly unknown[]): string {
  const lines = entries.map((entry) => JSON.stringify(sortKeys(entry))).sort();
  return createHash('sha1').update(lines.join('\n')).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isRecord(value)) return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  return value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
