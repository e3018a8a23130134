import { ProjectError, type SourceLocation } from '../errors.js';
import type { ModelConfig, SeedConfig } from '../manifest/types.js';
import type { FolderConfig } from '../project/project-config.js';
import { didYouMean } from '../util/did-you-mean.js';
import { ADDITIVE_KEYS, MODEL_CONFIG_KEYS, SEED_CONFIG_KEYS, canonicalConfigKey, type CheckResult } from '../project/config-keys.js';

/** One place config was written, lowest precedence first when layers are merged. */
export interface ConfigLayer {
  readonly values: Readonly<Record<string, unknown>>;
  readonly locate: (key: string) => SourceLocation;
  /** Already validated and normalized (folder config is checked when project.yml loads). */
  readonly checked?: boolean;
}

const MERGED_KEYS = new Set(['meta', 'docs']);

/** The folder layers that apply to a file `folders` deep under its resource root. */
export function folderLayers(tree: FolderConfig, folders: readonly string[], locate: (key: string) => SourceLocation): ConfigLayer[] {
  const layers: ConfigLayer[] = [{ values: tree.config, locate, checked: true }];
  let at: FolderConfig | undefined = tree;
  for (const folder of folders) {
    at = at.folders[folder];
    if (at === undefined) break;
    layers.push({ values: at.config, locate, checked: true });
  }
  return layers;
}

/**
 * `openKeys`: a key smelter does not know is kept as written (dbt accepts any config key: grants,
 * persist_docs, a project's own keys); otherwise it is an error. Known keys are checked either way.
 */
function mergeLayers(layers: readonly ConfigLayer[], keys: Readonly<Record<string, (v: unknown) => CheckResult>>, node: string, openKeys = false): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [rawKey, raw] of Object.entries(layer.values)) {
      const key = canonicalConfigKey(rawKey);
      let value = raw;
      if (!layer.checked) {
        const check = keys[key];
        if (!check && openKeys) {
          merged[key] = raw;
          continue;
        }
        if (!check) {
          throw new ProjectError(`unknown config key '${rawKey}'`, {
            code: 'config',
            location: layer.locate(rawKey),
            hint: didYouMean(rawKey, Object.keys(keys)),
            node,
          });
        }
        const result = check(raw);
        if (!result.ok) {
          throw new ProjectError(`config ${rawKey} must be ${result.expected}, got ${JSON.stringify(raw)}`, {
            code: 'config',
            location: layer.locate(rawKey),
            node,
          });
        }
        value = result.value;
      }
      if (ADDITIVE_KEYS.has(key) && Array.isArray(merged[key])) {
        merged[key] = [...(merged[key] as unknown[]), ...(value as unknown[]).filter((v) => !(merged[key] as unknown[]).includes(v))];
      } else if (MERGED_KEYS.has(key) && merged[key] !== undefined) {
        merged[key] = { ...(merged[key] as object), ...(value as object) };
      } else {
        merged[key] = value;
      }
    }
  }
  return merged;
}

/** Model config by precedence: config() > YAML properties > folders > built-in defaults. */
export function resolveModelConfig(name: string, layers: readonly ConfigLayer[], uniqueId: string, openKeys = false): ModelConfig {
  const m = mergeLayers(layers, MODEL_CONFIG_KEYS, uniqueId, openKeys);
  const config = {
    materialized: 'view',
    schema: 'main',
    alias: name,
    tags: [],
    enabled: true,
    meta: {},
    docs: {},
    pre_hook: [],
    post_hook: [],
    full_refresh: null,
    external: false,
    ...m,
  } as ModelConfig;
  if (config.external && (config.materialized === 'view' || config.materialized === 'ephemeral')) {
    const where = [...layers].reverse().find((l) => 'external' in l.values);
    throw new ProjectError(`external: true is only for table, incremental and scd2 models, not ${config.materialized}`, {
      code: 'config',
      location: where?.locate('external'),
      node: uniqueId,
    });
  }
  if (config.materialized === 'scd2') checkScd2Config(config, layers, uniqueId);
  if (config.incremental_sources === 'new') checkNewSources(config, layers, uniqueId);
  return config;
}

/**
 * `incremental_sources: new` makes the files a model has processed its incremental boundary, so
 * a file read again (rewritten) must not duplicate rows, and the set must commit with the data:
 * SPEC §9's rules.
 */
function checkNewSources(config: ModelConfig, layers: readonly ConfigLayer[], uniqueId: string): void {
  const where = [...layers].reverse().find((l) => 'incremental_sources' in l.values)?.locate('incremental_sources');
  const refuse = (why: string, hint?: string) => new ProjectError(`incremental_sources: new ${why}`, { code: 'config', location: where, node: uniqueId, hint });
  if (config.materialized !== 'incremental' && config.materialized !== 'scd2') throw refuse(`is for incremental and scd2 models, not ${config.materialized}: a ${config.materialized} model reads everything on every run`);
  if (config.incremental_strategy === 'microbatch') throw refuse('is not for microbatch models: their batches choose what they read by event time');
  const strategy = config.incremental_strategy ?? (config.unique_key?.length ? 'merge' : 'append');
  if (config.materialized === 'incremental' && strategy === 'append' && !config.unique_key?.length) {
    throw refuse('needs a unique_key on an append model: a source file that is rewritten is read again, and its rows would be appended twice', "e.g. config(unique_key=['doc_id', 'line_number'])");
  }
  if (config.materialized === 'scd2' && (config.hard_deletes ?? 'ignore') !== 'ignore') {
    throw refuse(`cannot be combined with hard_deletes: ${config.hard_deletes} (a key missing from the new files has not been deleted)`);
  }
  if (!config.external) {
    throw refuse('needs external: true: the processed files are committed with the model\'s file set', 'set external: true');
  }
}

/** An scd2 model needs its natural key, and a strategy with what that strategy compares. */
function checkScd2Config(config: ModelConfig, layers: readonly ConfigLayer[], uniqueId: string): void {
  const at = (key: string) => [...layers].reverse().find((l) => key in l.values)?.locate(key);
  const refuse = (message: string, key: string, hint?: string) => new ProjectError(message, { code: 'config', location: at(key), node: uniqueId, hint });
  if (!config.unique_key?.length) {
    throw refuse('an scd2 model needs unique_key: the natural key whose versions it keeps', 'materialized', "e.g. config(materialized='scd2', unique_key='bioguide_id', check_cols=['party'])");
  }
  if (config.strategy === 'timestamp' && !config.updated_at) {
    throw refuse('strategy timestamp needs updated_at: the column whose newer value makes a new version', 'strategy');
  }
  if (config.check_cols !== undefined && (config.strategy ?? (config.updated_at ? 'timestamp' : 'check')) === 'timestamp') {
    throw refuse('check_cols is for strategy check; strategy timestamp compares updated_at', 'check_cols');
  }
}

export function resolveSeedConfig(name: string, layers: readonly ConfigLayer[], uniqueId: string, openKeys = false): SeedConfig {
  const m = mergeLayers(layers, SEED_CONFIG_KEYS, uniqueId, openKeys);
  return { schema: 'main', alias: name, tags: [], enabled: true, column_types: {}, pre_hook: [], post_hook: [], delimiter: ',', ...m } as SeedConfig;
}
