import { SmelterError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import { stateKey, traitsOf } from '../materializations/traits.js';
import type { StateRecord } from '../state/state-record.js';
import type { StateStore } from '../state/state-store.js';
import type { Storage } from '../storage/storage.js';
import { sha256Of } from '../util/sha256-file.js';
import { catalogKey, readCatalog } from '../execute/catalog.js';
import { readFileSetManifest, SYMLINK_FOLDER } from '../execute/file-sets.js';
import { committedFiles } from '../execute/publish.js';
import { externalData } from '../execute/state-guard.js';

/**
 * `smelter state verify`: check, for every selected stateful model, that its state record and its
 * data agree — the check a run makes before it reads or rewrites a model, made for all of them at
 * once and deeper: every committed file is read and its SHA-256 compared with the manifest's.
 * Reads only: nothing is changed, repaired or deleted.
 */
export interface VerifiedModel {
  readonly table_name: string;
  /** `ok`: state and data agree; `problem`: they do not (the run would refuse); `reset`/`none`: nothing committed. */
  readonly status: 'ok' | 'problem' | 'reset' | 'none';
  readonly detail: string;
  readonly hint?: string;
}

export interface VerifyContext {
  readonly models: readonly ModelNode[];
  readonly store: StateStore;
  /** The target's storage; undefined when no selected model is external. */
  readonly storage: Storage | undefined;
  readonly connection: EngineConnection;
  readonly signal?: AbortSignal;
}

export async function verifyState(ctx: VerifyContext): Promise<VerifiedModel[]> {
  const records = await ctx.store.read(ctx.models.map(stateKey));
  const catalog = await readCatalog(ctx.connection);
  const out: VerifiedModel[] = [];
  for (const node of ctx.models) {
    const key = stateKey(node);
    try {
      out.push(await verifyOne(node, records.get(key), ctx, (schema, name) => catalog.get(catalogKey(schema, name))));
    } catch (error) {
      if (!(error instanceof SmelterError)) throw error;
      out.push({ table_name: key, status: 'problem', detail: error.message, ...(error.hint ? { hint: error.hint } : {}) });
    }
  }
  return out;
}

async function verifyOne(
  node: ModelNode,
  record: StateRecord | undefined,
  ctx: VerifyContext,
  relationKind: (schema: string, name: string) => string | undefined,
): Promise<VerifiedModel> {
  const key = stateKey(node);
  const { schema, identifier } = node.relation;
  if (record?.origin === 'reset') return { table_name: key, status: 'reset', detail: 'reset: the next run rebuilds it' };
  if (record?.origin === 'legacy') {
    return {
      table_name: key,
      status: 'problem',
      detail: `a watermark record from before smelter (${record.watermark_type ?? 'no watermark_type'} = ${record.last_processed_value ?? 'null'})`,
      hint: `\`smelter state adopt --select ${node.name}\` takes it over`,
    };
  }
  if (record === undefined) {
    const found = node.config.external
      ? await externalData(node, ctx.storage!)
      : traitsOf(node.config.materialized).incremental && relationKind(schema, identifier) === 'table'
        ? `a table ${schema}.${identifier}`
        : undefined;
    if (found === undefined || !traitsOf(node.config.materialized).incremental) return { table_name: key, status: 'none', detail: 'no state: not built yet' };
    return {
      table_name: key,
      status: 'problem',
      detail: `${found} but no state record: a run refuses to build it`,
      hint: `\`smelter state adopt --select ${node.name}\` takes the data over; \`smelter state reset --select ${node.name}\` rebuilds it`,
    };
  }
  if (!node.config.external) {
    if (relationKind(schema, identifier) !== 'table') {
      return {
        table_name: key,
        status: 'problem',
        detail: `state version ${record.version} is committed, but the table ${schema}.${identifier} does not exist`,
        hint: `\`smelter state reset --select ${node.name}\` rebuilds it`,
      };
    }
    return { table_name: key, status: 'ok', detail: `version ${record.version}: table ${schema}.${identifier} exists` };
  }
  if (!record.manifest_pointer) return { table_name: key, status: 'ok', detail: `version ${record.version}: no files committed` };
  const storage = ctx.storage!;
  const manifest = await readFileSetManifest(storage, record.manifest_pointer);
  if (manifest.version !== record.version || manifest.table_name !== key) {
    return {
      table_name: key,
      status: 'problem',
      detail: `the state record (version ${record.version}) points at ${storage.uri(record.manifest_pointer)}, which is the manifest of ${manifest.table_name} version ${manifest.version}`,
      hint: `\`smelter state reset --select ${node.name}\` rebuilds it`,
    };
  }
  // Presence, size and (in object storage) ETag are checked by committedFiles, as for a run.
  const files = await committedFiles(storage, manifest, ctx.signal);
  try {
    for (const [i, file] of manifest.files.entries()) {
      if (file.sha256 && (await sha256Of(files.paths[i])) !== file.sha256) {
        return {
          table_name: key,
          status: 'problem',
          detail: `committed file ${storage.uri(`${manifest.location}/${file.name}`)} does not have the SHA-256 its commit recorded`,
          hint: `the file was changed outside smelter; restore it, or \`smelter state reset --select ${node.name}\` to rebuild the model`,
        };
      }
    }
  } finally {
    files.release();
  }
  const listed = new Set([...manifest.files.map((f) => f.name), ...(manifest.superseded ?? []).map((s) => s.name)]);
  const strays = (await storage.list(manifest.location)).filter((f) => !listed.has(f.key) && !f.key.startsWith(`${SYMLINK_FOLDER}/`));
  const bytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  const stray = strays.length > 0 ? `; ${strays.length} other file${strays.length === 1 ? '' : 's'} in the location, not committed (the next commit deletes ${strays.length === 1 ? 'it' : 'them'})` : '';
  const unfinished = files.unfinished ? '; its publish is unfinished (the next run of the model finishes it)' : '';
  return { table_name: key, status: 'ok', detail: `version ${record.version}: ${manifest.files.length} files, ${bytes} bytes, checksums match${unfinished}${stray}` };
}
