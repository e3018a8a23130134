import { CompileError } from '../errors.js';
import type { ModelNode, TestNode } from '../manifest/types.js';
import type { LoadedProject } from '../project/load-project.js';
import type { RenderEnvironment } from '../render/render-model.js';
import type { StateRecord } from '../state/state-record.js';
import type { StateStore } from '../state/state-store.js';
import type { LocalFiles, Storage } from '../storage/storage.js';
import type { FileReader } from '../storage/file-reader.js';
import { stateKey, traitsOf } from '../materializations/traits.js';
import type { BoundedWrites } from '../util/bounded-writes.js';
import { catalogKey, type Catalog } from './catalog.js';
import type { CrashPoint } from './crash-points.js';
import type { NodeResult } from './results.js';

/** What every node of one run shares. */
export interface RunScope {
  readonly renv: RenderEnvironment;
  readonly project: LoadedProject;
  /** Relations that exist, kept current as the run builds. */
  readonly catalog: Catalog;
  readonly runFiles: BoundedWrites;
  readonly stateStore: StateStore | undefined;
  readonly storage: Storage | undefined;
  /** Committed state of the planned stateful models, read once when the run starts. */
  readonly states: ReadonlyMap<string, StateRecord>;
  /** Every record of those models, reset and legacy records included (state-record.ts). */
  readonly records: ReadonlyMap<string, StateRecord>;
  readonly fullRefresh: boolean;
  readonly force: boolean;
  readonly eventTimeStart?: Date;
  readonly eventTimeEnd?: Date;
  readonly crash: (point: CrashPoint, model: string) => void;
  /** `build`: the tests run on a model's new contents before it is published (its audit), by model. */
  readonly audits: ReadonlyMap<string, readonly TestNode[]>;
  /** Results of audited tests, reported when their turn comes in the plan. */
  readonly audited: Map<string, NodeResult>;
  /** Local copies of stored files that views read, released when the run ends. */
  readonly held: LocalFiles[];
  /** Readers of source files: local paths, and the backends' (S3). */
  readonly fileReaders: readonly FileReader[];
  /** Something the user should know that does not fail the node. */
  readonly warn: (message: string) => void;
}

/** Whether the model's relation exists as a run expects it: an external model's is the view over its files. */
export function relationExists(node: ModelNode, scope: Pick<RunScope, 'catalog'>): boolean {
  return scope.catalog.get(catalogKey(node.relation.schema, node.relation.identifier)) === (node.config.external ? 'view' : 'table');
}

/** Whether this run processes only new data for `node` (what is_incremental() answers). */
export function isIncrementalRun(node: ModelNode, scope: RunScope): boolean {
  if (!traitsOf(node.config.materialized).incremental) return false;
  return !fullRefreshes(node, scope) && scope.states.has(stateKey(node)) && relationExists(node, scope);
}

/**
 * Whether this run rebuilds the model from scratch: its full_refresh config, else --full-refresh.
 * A model that keeps history its source may lack (scd2) is rebuilt by the flag only with --force.
 */
export function fullRefreshes(node: ModelNode, scope: Pick<RunScope, 'fullRefresh' | 'force'>): boolean {
  if (node.config.full_refresh !== null) return node.config.full_refresh;
  return scope.fullRefresh && (!traitsOf(node.config.materialized).keepsHistory || scope.force);
}

export function requireStateStore(scope: RunScope, node: ModelNode): StateStore {
  if (!scope.stateStore) throw new CompileError('incremental and external models need a state store', { node: node.unique_id });
  return scope.stateStore;
}

export function requireStorage(scope: RunScope, node: ModelNode): Storage {
  if (!scope.storage) {
    throw new CompileError(`external model ${node.name} needs storage: set storage: in target ${scope.project.config.target.name}`, {
      node: node.unique_id,
      location: { file: 'project.yml' },
    });
  }
  return scope.storage;
}
