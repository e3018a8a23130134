/** One upstream column: a manifest node (model, seed, source, ephemeral model) and a column of it. */
export interface ColumnRef {
  readonly node: string;
  readonly column: string;
}

/** Each output column of one model, by name as the output has it: the upstream columns its values come from. */
export type ColumnLineage = Readonly<Record<string, readonly ColumnRef[]>>;

/** A table reference naming a project node's relation that the model does not declare with ref()/source(). */
export interface UndeclaredRead {
  /** As written in the SQL, e.g. `gold.dim_member`. */
  readonly relation: string;
  readonly node: string;
  /** What to write instead, e.g. `{{ ref('dim_member') }}`. */
  readonly suggestion: string;
}

export interface LineageResult {
  /** By model unique_id, ephemeral models included. */
  readonly columnLineage: Readonly<Record<string, ColumnLineage>>;
  /** Each model's output columns, in order. */
  readonly outputColumns: Readonly<Record<string, readonly string[]>>;
  readonly undeclared: Readonly<Record<string, readonly UndeclaredRead[]>>;
  /** A model whose SQL could not be (fully) analysed: why. Its lineage is the best partial one. */
  readonly problems: Readonly<Record<string, string>>;
}

/** Stable order for a lineage list: by node, then column; duplicates dropped. */
export function sortRefs(refs: Iterable<ColumnRef>): ColumnRef[] {
  const byKey = new Map<string, ColumnRef>();
  for (const r of refs) byKey.set(`${r.node}\u0000${r.column}`, { node: r.node, column: r.column });
  return [...byKey.values()].sort((a, b) => (a.node === b.node ? cmp(a.column, b.column) : cmp(a.node, b.node)));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
