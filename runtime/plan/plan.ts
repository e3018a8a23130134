import { ProjectError } from '../errors.js';
import type { Manifest } from '../manifest/types.js';
import type { TargetConfig } from '../project/project-config.js';
import { topologicalOrder, type Dag } from '../graph/dag.js';
import { materializationFor } from '../materializations/index.js';
import { traitsOf } from '../materializations/traits.js';

/** Which nodes a run builds, in what order, and what each waits for. Pure data. */
export interface RunPlan {
  /** Executable nodes in topological order. */
  readonly nodes: readonly string[];
  /** For each node, the planned nodes it must wait for (directly or through unplanned nodes). */
  readonly parents: Readonly<Record<string, readonly string[]>>;
  /** Schemas the plan writes to, created before the first node runs. */
  readonly schemas: readonly string[];
}

/**
 * Manifest + selection -> RunPlan. Sources and ephemeral models are not built; a node waits for
 * every planned ancestor even when the nodes between them are not selected.
 */
export function planRun(manifest: Manifest, dag: Dag, selected: ReadonlySet<string>, target: TargetConfig): RunPlan {
  const planned = new Set<string>();
  for (const id of selected) {
    const node = manifest.nodes[id];
    if (!node) continue;
    if (node.resource_type === 'seed' || node.resource_type === 'test' || node.resource_type === 'unit_test') planned.add(id);
    if (node.resource_type !== 'model') continue;
    const strategy = materializationFor(node.config.materialized, node.config.external);
    if (node.config.materialized === 'ephemeral') continue;
    if ('unavailable' in strategy) {
      throw new ProjectError(strategy.unavailable, { code: 'config', location: { file: node.original_file_path }, node: id });
    }
    if (target.database === ':memory:' && target.state.backend === 'local' && (node.config.external || node.config.materialized === 'incremental')) {
      throw new ProjectError(
        `target ${target.name} keeps its database in memory, so the state of ${node.name} cannot be local (it would not outlive the process): use the dynamodb backend`,
        { code: 'config', location: { file: node.original_file_path }, node: id },
      );
    }
    if (target.state.backend !== 'local' && traitsOf(node.config.materialized).incremental && !node.config.external) {
      // DynamoDB and DuckDB cannot commit together: only a file set (committed by its state record) can.
      throw new ProjectError(
        `target ${target.name} keeps state in DynamoDB, so ${node.config.materialized} model ${node.name} must be external (its files commit with its state record; a database table cannot)`,
        { code: 'config', location: { file: node.original_file_path }, node: id, hint: 'set external: true' },
      );
    }
    if (target.database === ':memory:' && node.config.materialized !== 'view' && !node.config.external) {
      throw new ProjectError(
        `target ${target.name} keeps its database in memory, so ${node.config.materialized} model ${node.name} must be external (nothing else outlives the process)`,
        { code: 'config', location: { file: node.original_file_path }, node: id },
      );
    }
    planned.add(id);
  }
  const order = topologicalOrder(dag).filter((id) => planned.has(id));
  const nearest = new Map<string, readonly string[]>();
  const plannedAncestors = (id: string): readonly string[] => {
    const cached = nearest.get(id);
    if (cached) return cached;
    const out = new Set<string>();
    for (const p of dag.inNeighbors(id)) {
      if (planned.has(p)) out.add(p);
      else for (const a of plannedAncestors(p)) out.add(a);
    }
    const list = [...out];
    nearest.set(id, list);
    return list;
  };
  const parents: Record<string, readonly string[]> = {};
  const schemas = new Set<string>();
  for (const id of order) {
    parents[id] = plannedAncestors(id);
    const node = manifest.nodes[id];
    if (node.resource_type === 'model' || node.resource_type === 'seed') schemas.add(node.relation.schema);
  }
  // A model waits for its unit tests. A unit test reads no data, but it takes the types of inputs
  // it gives untyped rows for from their relations, so it waits for what its model waits for: in a
  // `build` from nothing, the inputs exist by the time it runs (dbt's order).
  for (const id of order) {
    const node = manifest.nodes[id];
    if (node.resource_type === 'unit_test' && parents[node.model] !== undefined) {
      parents[id] = [...new Set([...parents[id], ...parents[node.model]])];
      parents[node.model] = [...parents[node.model], id];
    }
  }
  // `build`: a node also waits for the tests of what it reads, so a failed test stops it. A test of
  // one input is waited for by the nodes that read that input directly (or through nodes not
  // planned, such as sources); the nodes below wait for those, so the whole subtree does. A test of
  // several inputs is waited for by every node that has all of them as ancestors: one that also
  // reads a descendant (relationships to a child) cannot be waited for. A test that reads no node
  // (`select 1 where false`) has nothing downstream, as in dbt: nothing waits for it.
  const tests = order.filter((id) => manifest.nodes[id].resource_type === 'test');
  if (tests.length > 0) {
    const byInput = new Map<string, string[]>();
    const multiInput: string[] = [];
    for (const t of tests) {
      const inputs = manifest.nodes[t].depends_on.nodes;
      if (inputs.length === 1) byInput.set(inputs[0], [...(byInput.get(inputs[0]) ?? []), t]);
      else if (inputs.length > 1) multiInput.push(t);
    }
    /** What a node reads: its graph parents, and through parents that are not planned, theirs. */
    const readThrough = (id: string, out = new Set<string>()): Set<string> => {
      for (const p of dag.inNeighbors(id)) {
        if (out.has(p)) continue;
        out.add(p);
        if (!planned.has(p)) readThrough(p, out);
      }
      return out;
    };
    const ancestors = new Map<string, Set<string>>();
    const ancestorsOf = (id: string): Set<string> => {
      let found = ancestors.get(id);
      if (!found) {
        found = new Set<string>();
        for (const p of dag.inNeighbors(id)) {
          found.add(p);
          for (const a of ancestorsOf(p)) found.add(a);
        }
        ancestors.set(id, found);
      }
      return found;
    };
    for (const id of order) {
      const node = manifest.nodes[id];
      if (node.resource_type === 'test' || node.resource_type === 'unit_test') continue;
      const waits = [...readThrough(id)].flatMap((input) => byInput.get(input) ?? []);
      if (multiInput.length > 0) {
        const above = ancestorsOf(id);
        waits.push(...multiInput.filter((t) => manifest.nodes[t].depends_on.nodes.every((d) => above.has(d))));
      }
      if (waits.length > 0) parents[id] = [...new Set([...parents[id], ...waits])];
    }
  }
  return { nodes: order, parents, schemas: [...schemas].sort() };
}
