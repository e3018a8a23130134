import { StateError } from '../errors.js';
import type { ModelNode } from '../manifest/types.js';
import { stateKey, traitsOf } from '../materializations/traits.js';
import type { StateRecord } from '../state/state-record.js';
import type { Storage } from '../storage/storage.js';
import { catalogKey } from './catalog.js';
import { locationOf, manifestsOf, SYMLINK_FOLDER } from './file-sets.js';
import { fullRefreshes, requireStorage, type RunScope } from './run-scope.js';

/**
 * State and data must agree (SPEC §5). An incremental or scd2 model whose table or committed files
 * exist but whose state record does not would otherwise be built as new, and its data replaced by
 * whatever the source still holds: a lost record would silently lose history. So the run refuses,
 * naming the recovery. Dropping a model's data is only ever the result of an explicit
 * `--full-refresh` (`--force` too for scd2) or `smelter state reset` (which writes a reset record).
 *
 * Returns the record the model's commit follows: its committed state, or its reset record.
 */
export async function priorRecord(node: ModelNode, scope: RunScope): Promise<StateRecord | undefined> {
  const key = stateKey(node);
  const committed = scope.states.get(key);
  if (committed) return committed;
  const record = scope.records.get(key);
  const traits = traitsOf(node.config.materialized);
  if (record?.origin === 'legacy') {
    throw new StateError(`${key} has a watermark record from before smelter (${record.watermark_type ?? 'no watermark_type'} = ${record.last_processed_value ?? 'null'}), not smelter state; nothing was built`, {
      node: node.unique_id,
      hint: `\`smelter state adopt --select ${node.name}\` takes it and the model's existing data over; \`smelter state reset --select ${node.name}${traits.keepsHistory ? ' --force' : ''}\` rebuilds the model from its source instead`,
    });
  }
  if (record?.origin === 'reset' || !traits.incremental || fullRefreshes(node, scope)) return record;
  const found = await existingData(node, scope);
  if (found === undefined) return undefined;
  const rebuild = traits.keepsHistory
    ? `\`smelter state reset --select ${node.name} --force\` (or --full-refresh --force) rebuilds it from its source, losing the history the source no longer holds`
    : `\`smelter state reset --select ${node.name}\` (or --full-refresh) rebuilds it from its source`;
  throw new StateError(`${key} has ${found} but no state record: refusing to build it as a new model, which would replace that data; nothing was built`, {
    node: node.unique_id,
    hint: `if its state was lost, \`smelter state adopt --select ${node.name}\` takes the existing data over; ${rebuild}`,
  });
}

/** What of the model exists without a record, described for the message; undefined when nothing does. */
async function existingData(node: ModelNode, scope: RunScope): Promise<string | undefined> {
  if (!node.config.external) {
    const kind = scope.catalog.get(catalogKey(node.relation.schema, node.relation.identifier));
    return kind === 'table' ? `a table ${node.relation.schema}.${node.relation.identifier}` : undefined;
  }
  return externalData(node, requireStorage(scope, node));
}

/** Files in an external model's location, or file-set manifests it committed. */
export async function externalData(node: ModelNode, storage: Storage): Promise<string | undefined> {
  const location = locationOf(node);
  const files = (await storage.list(location)).filter((f) => !f.key.startsWith(`${SYMLINK_FOLDER}/`));
  if (files.length > 0) return `${files.length} file${files.length === 1 ? '' : 's'} in ${storage.uri(location)}`;
  const manifests = await storage.list(manifestsOf(stateKey(node)));
  if (manifests.length > 0) return `committed file-set manifests in ${storage.uri(manifestsOf(stateKey(node)))}`;
  return undefined;
}
