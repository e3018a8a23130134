/**
 * Column lineage both ways. manifest.json records only where a model's columns come from
 * (`column_lineage` on each node, upstream columns); where a column goes is that relation
 * inverted across every node. Pure: the page and the tests share it.
 */
import type { ColumnRef } from './site-data.js';

/** `node` + NUL + `column`: a key no unique_id or column name can contain. */
export function columnKey(ref: ColumnRef): string {
  return `${ref.node}\u0000${ref.column}`;
}

export interface ColumnLineageIndex {
  /** The columns `ref` is computed from (one step). */
  upstream(ref: ColumnRef): readonly ColumnRef[];
  /** The columns computed from `ref` (one step). */
  downstream(ref: ColumnRef): readonly ColumnRef[];
}

/** Reads `column_lineage` from each of `nodes` (manifest.json's nodes); malformed entries are skipped. */
export function indexColumnLineage(nodes: Readonly<Record<string, unknown>>): ColumnLineageIndex {
  const up = new Map<string, ColumnRef[]>();
  const down = new Map<string, ColumnRef[]>();
  for (const [id, node] of Object.entries(nodes)) {
    const lineage = (node as { column_lineage?: unknown } | null)?.column_lineage;
    if (lineage === null || typeof lineage !== 'object') continue;
    for (const [column, sources] of Object.entries(lineage as Record<string, unknown>)) {
      if (!Array.isArray(sources)) continue;
      const target: ColumnRef = { node: id, column };
      const parents = sources.filter(isColumnRef).map((s) => ({ node: s.node, column: s.column }));
      up.set(columnKey(target), parents);
      for (const parent of parents) {
        const key = columnKey(parent);
        const list = down.get(key) ?? [];
        if (!list.some((c) => c.node === id && c.column === column)) list.push(target);
        down.set(key, list);
      }
    }
  }
  return {
    upstream: (ref) => up.get(columnKey(ref)) ?? [],
    downstream: (ref) => down.get(columnKey(ref)) ?? [],
  };
}

function isColumnRef(value: unknown): value is ColumnRef {
  const v = value as { node?: unknown; column?: unknown } | null;
  return v !== null && typeof v === 'object' && typeof v.node === 'string' && typeof v.column === 'string';
}

/** One column and what it leads to, as far as the lineage goes (a column met twice on a path stops it). */
export interface LineageTree {
  readonly ref: ColumnRef;
  readonly next: readonly LineageTree[];
}

/** The columns `ref` comes from (`up`) or goes to (`down`), transitively, as a tree. */
export function lineageTree(index: ColumnLineageIndex, ref: ColumnRef, direction: 'up' | 'down', onPath: ReadonlySet<string> = new Set()): LineageTree {
  const key = columnKey(ref);
  const path = new Set(onPath).add(key);
  const step = direction === 'up' ? index.upstream(ref) : index.downstream(ref);
  return { ref, next: step.filter((r) => !path.has(columnKey(r))).map((r) => lineageTree(index, r, direction, path)) };
}
