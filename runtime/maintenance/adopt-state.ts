import { StateError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import { readParquetFiles } from '../materializations/parquet-files.js';
import { isBatched, stateKey } from '../materializations/traits.js';
import { quoteIdentifier, quoteLiteral, renderRelation } from '../render/relation.js';
import type { StateRecord } from '../state/state-record.js';
import type { StateStore } from '../state/state-store.js';
import type { CommittedFile, FileSetManifest, Storage } from '../storage/storage.js';
import { sha256Of } from '../util/sha256-file.js';
import { floorTo, nextBatchStart, type BatchSize } from '../execute/batches.js';
import { catalogKey, readCatalog } from '../execute/catalog.js';
import { locationOf, manifestsOf, stagingKey, SYMLINK_FOLDER } from '../execute/file-sets.js';
import { publishFileSet } from '../execute/publish.js';

/**
 * `smelter state adopt --select`: take over what a pipeline before smelter left — a model's table or
 * its Parquet files in the model's location, and the pipeline's watermark record
 * (`watermark_type`, `last_processed_value`) — by committing a first state record for it, as if
 * smelter had built it. Nothing is rewritten or deleted: the files stay where they are, under their
 * names, and become the model's committed file set.
 *
 * The watermark is the old record's `last_processed_value` when its `watermark_type` is the
 * model's (`max_<watermark>`), else the maximum of the watermark column over the data. A microbatch
 * model's batches count as done from `begin` through the batch of its latest event time (the
 * lookback batches rebuild on its next run anyway).
 */
export interface AdoptedModel {
  readonly table_name: string;
  readonly detail: string;
}

export interface AdoptContext {
  readonly models: readonly ModelNode[];
  readonly store: StateStore;
  readonly storage: Storage | undefined;
  readonly connection: EngineConnection;
  readonly runId: string;
  readonly signal?: AbortSignal;
}

/** Adopts each model in turn; the first that cannot be adopted stops with a StateError (those before it stay adopted). */
export async function adoptState(ctx: AdoptContext, onAdopted: (adopted: AdoptedModel) => void): Promise<void> {
  const records = await ctx.store.read(ctx.models.map(stateKey));
  const catalog = await readCatalog(ctx.connection);
  for (const node of ctx.models) {
    const key = stateKey(node);
    const prior = records.get(key);
    if (prior !== undefined && prior.origin === undefined) {
      throw new StateError(`${key} already has smelter state (version ${prior.version}); nothing was adopted`, {
        node: node.unique_id,
        hint: '`smelter state verify` checks it',
      });
    }
    const lease = await ctx.store.lease(key, ctx.runId);
    try {
      const adopted = node.config.external
        ? await adoptFiles(node, ctx, ctx.storage!, prior)
        : await adoptTable(node, ctx, catalog.has(catalogKey(node.relation.schema, node.relation.identifier)), prior);
      // A legacy record has no version: the first commit over it expects none.
      await ctx.store.commit(ctx.connection, adopted.record, prior?.origin === 'reset' ? prior.version : undefined, lease);
      if (adopted.pointer) await publishFileSet(ctx.storage!, adopted.pointer, () => {});
      onAdopted({ table_name: key, detail: adopted.detail });
    } finally {
      await lease.release().catch(() => undefined);
    }
  }
}

interface Adoption {
  readonly record: StateRecord;
  readonly pointer: string | null;
  readonly detail: string;
}

async function adoptTable(node: ModelNode, ctx: AdoptContext, exists: boolean, prior: StateRecord | undefined): Promise<Adoption> {
  if (!exists) {
    throw new StateError(`${stateKey(node)}: there is no table ${node.relation.schema}.${node.relation.identifier} to adopt; nothing was adopted`, {
      node: node.unique_id,
      hint: 'build it with `smelter run` instead',
    });
  }
  const facts = await factsOf(node, ctx, renderRelation(node.relation), prior);
  return { record: recordOf(node, facts, prior, ctx.runId, null), pointer: null, detail: describe(facts, `table ${node.relation.schema}.${node.relation.identifier}`) };
}

async function adoptFiles(node: ModelNode, ctx: AdoptContext, storage: Storage, prior: StateRecord | undefined): Promise<Adoption> {
  const key = stateKey(node);
  const location = locationOf(node);
  const listed = (await storage.list(location)).filter((f) => !f.key.startsWith(`${SYMLINK_FOLDER}/`));
  const others = listed.filter((f) => !f.key.endsWith('.parquet'));
  if (others.length > 0) {
    // A commit deletes whatever its file set does not list: adopting would lose these.
    throw new StateError(`${key}: ${storage.uri(location)} holds files that are not Parquet (${others.slice(0, 5).map((f) => f.key).join(', ')}${others.length > 5 ? `, and ${others.length - 5} more` : ''}); nothing was adopted`, {
      node: node.unique_id,
      hint: 'move them out of the location: a model\'s location holds only its committed Parquet files',
    });
  }
  if (listed.length === 0) {
    throw new StateError(`${key}: there are no Parquet files in ${storage.uri(location)} to adopt; nothing was adopted`, { node: node.unique_id, hint: 'build it with `smelter run` instead' });
  }
  const local = await storage.localFiles(listed.map((f) => ({ key: `${location}/${f.key}`, bytes: f.bytes, etag: f.etag })), ctx.signal);
  let files: CommittedFile[];
  let facts: Facts;
  try {
    files = await Promise.all(listed.map(async (f, i) => ({ name: f.key, bytes: f.bytes, sha256: await sha256Of(local.paths[i]), ...(storage.isLocal ? {} : { etag: f.etag }) })));
    facts = await factsOf(node, ctx, readParquetFiles(node, local.paths), prior);
  } finally {
    local.release();
  }
  const version = prior?.origin === 'reset' ? prior.version + 1 : 1;
  const manifest: FileSetManifest = {
    table_name: key,
    version,
    run_id: ctx.runId,
    location,
    files: files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    staging: stagingKey(key, ctx.runId),
    staged: {},
  };
  const pointer = `${manifestsOf(key)}/v${version}.json`;
  await storage.writeText(pointer, `${JSON.stringify(manifest, null, 2)}\n`);
  return { record: recordOf(node, facts, prior, ctx.runId, pointer), pointer, detail: describe(facts, `${files.length} files in ${storage.uri(location)}`) };
}

interface Facts {
  readonly rows: number;
  readonly watermark: { readonly type: string; readonly value: string | null; readonly from: 'legacy record' | 'data' } | null;
  readonly batches: Array<[string, string]> | null;
}

/** Row count, watermark and (microbatch) batches done, read from the data being adopted. */
async function factsOf(node: ModelNode, ctx: AdoptContext, rowsOf: string, prior: StateRecord | undefined): Promise<Facts> {
  const [{ n }] = await ctx.connection.query(`SELECT count(*) AS n FROM ${rowsOf}`);
  const rows = Number(n);
  let watermark: Facts['watermark'] = null;
  const column = node.config.watermark;
  if (column) {
    const col = quoteIdentifier(column);
    const [{ column_type }] = await ctx.connection.query(`SELECT column_type FROM (DESCRIBE SELECT ${col} FROM ${rowsOf})`);
    const type = String(column_type);
    if (prior?.origin === 'legacy' && prior.watermark_type === `max_${column}` && prior.last_processed_value !== null) {
      const [{ ok }] = await ctx.connection.query(`SELECT TRY_CAST(${quoteLiteral(prior.last_processed_value)} AS ${type}) IS NOT NULL AS ok`);
      if (!ok) {
        throw new StateError(`${stateKey(node)}: the old watermark record's last_processed_value '${prior.last_processed_value}' is not a ${type} (the type of ${column}); nothing was adopted`, {
          node: node.unique_id,
        });
      }
      watermark = { type, value: prior.last_processed_value, from: 'legacy record' };
    } else {
      const [{ value }] = await ctx.connection.query(`SELECT CAST(max(${col}) AS VARCHAR) AS value FROM ${rowsOf}`);
      watermark = { type, value: value === null || value === undefined ? null : String(value), from: 'data' };
    }
  }
  let batches: Facts['batches'] = null;
  if (isBatched(node) && node.config.event_time && node.config.begin && node.config.batch_size) {
    const [{ latest }] = await ctx.connection.query(`SELECT CAST(CAST(max(${quoteIdentifier(node.config.event_time)}) AS TIMESTAMP) AS VARCHAR) AS latest FROM ${rowsOf}`);
    const size = node.config.batch_size as BatchSize;
    batches = latest === null || latest === undefined ? [] : [[floorTo(new Date(node.config.begin), size).toISOString(), nextBatchStart(floorTo(new Date(`${String(latest).replace(' ', 'T')}Z`), size), size).toISOString()]];
  }
  return { rows, watermark, batches };
}

function recordOf(node: ModelNode, facts: Facts, prior: StateRecord | undefined, runId: string, pointer: string | null): StateRecord {
  return {
    table_name: stateKey(node),
    watermark_type: node.config.watermark ? `max_${node.config.watermark}` : null,
    watermark_data_type: facts.watermark?.type ?? null,
    last_processed_value: facts.watermark?.value ?? null,
    last_processed_timestamp: new Date().toISOString(),
    rows_processed: 0,
    rows_total: facts.rows,
    version: prior?.origin === 'reset' ? prior.version + 1 : 1,
    run_id: runId,
    manifest_pointer: pointer,
    batches: facts.batches,
  };
}

function describe(facts: Facts, what: string): string {
  const watermark = facts.watermark ? `, watermark ${facts.watermark.value ?? 'null'} (from the ${facts.watermark.from})` : '';
  return `adopted ${what}: ${facts.rows} rows${watermark}`;
}
