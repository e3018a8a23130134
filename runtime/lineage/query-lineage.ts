import type { AstNode } from './parse-sql.js';
import type { ColumnRef } from './types.js';

/**
 * Column lineage of one parsed query, from DuckDB's parser AST: each output column and the
 * upstream columns its values come from. Only value positions are walked: WHERE, GROUP BY,
 * HAVING, QUALIFY, ORDER BY, join conditions, window PARTITION BY/ORDER BY, aggregate FILTER and
 * ORDER BY, CASE's WHEN conditions, EXISTS and the subquery of `x IN (...)` shape which rows
 * there are, not what a column holds, so they never contribute.
 */

export interface OutputColumn {
  readonly name: string;
  readonly refs: readonly ColumnRef[];
}

/** A table reference outside the query's own CTEs, as the project knows it. */
export interface TableTarget {
  readonly node: string;
  /** Its columns, when known: needed to expand `*` and to place unqualified names in joins. */
  readonly columns: readonly string[] | undefined;
}

export interface QueryContext {
  /** The node a table reference names, or undefined for a table outside the project. */
  resolveTable(ref: { readonly catalog: string; readonly schema: string; readonly name: string }): TableTarget | undefined;
  /** A CTE that stands for a node (an inlined ephemeral model): a hop, not a query to descend into. */
  isNodeCte(name: string): boolean;
  /** DuckDB's name for an unaliased expression's column. */
  nameOf(expression: AstNode): string | undefined;
  problem(message: string): void;
}

/** One relation in a FROM clause. */
interface Item {
  /** What a qualified column may name it by, lower case: its alias, or `table` and `schema.table`. */
  readonly names: readonly string[];
  readonly label: string;
  /** Undefined when unknown (a table function, a table outside the project without columns). */
  readonly columns: readonly OutputColumn[] | undefined;
  readonly node?: string;
}

interface Scope {
  readonly items: Item[];
  /** Columns `*` leaves out of an item: the right side's USING/NATURAL keys, shown once. */
  readonly hidden: Map<Item, Set<string>>;
  readonly ctes: ReadonlyMap<string, readonly OutputColumn[]>;
  readonly parent?: Scope;
}

type Ctes = ReadonlyMap<string, readonly OutputColumn[]>;

const lower = (s: string) => s.toLowerCase();
const obj = (v: unknown): AstNode | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as AstNode) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function queryLineage(statementNode: AstNode, ctx: QueryContext): OutputColumn[] {
  return new Walker(ctx).query(statementNode, new Map(), undefined);
}

class Walker {
  constructor(private readonly ctx: QueryContext) {}

  query(node: AstNode, outerCtes: Ctes, parent: Scope | undefined): OutputColumn[] {
    const ctes = this.withCtes(obj(node.cte_map), outerCtes, parent);
    switch (node.type) {
      case 'SELECT_NODE':
        return this.select(node, ctes, parent);
      case 'SET_OPERATION_NODE':
      case 'RECURSIVE_CTE_NODE':
        return this.setOperation(node, ctes, parent);
      default:
        this.ctx.problem(`a ${String(node.type)} query is not analysed`);
        return [];
    }
  }

  private withCtes(cteMap: AstNode | undefined, outer: Ctes, parent: Scope | undefined): Ctes {
    const entries = list(cteMap?.map);
    if (entries.length === 0) return outer;
    const ctes = new Map(outer);
    for (const entry of entries) {
      const name = str(obj(entry)?.key);
      const value = obj(obj(entry)?.value);
      const body = obj(obj(value?.query)?.node);
      if (!body || this.ctx.isNodeCte(name)) continue;
      const aliases = list(value?.aliases).map(str);
      if (body.type === 'RECURSIVE_CTE_NODE') {
        ctes.set(lower(name), this.recursiveCte(name, body, aliases, ctes, parent));
      } else {
        ctes.set(lower(name), renamed(this.query(body, ctes, parent), aliases));
      }
    }
    return ctes;
  }

  /**
   * A recursive CTE: its anchor, then its recursive part read against what is known so far, until
   * nothing new arrives (a row of one iteration may move a value to another column of the next).
   */
  private recursiveCte(name: string, body: AstNode, aliases: string[], ctes: Map<string, readonly OutputColumn[]>, parent: Scope | undefined): readonly OutputColumn[] {
    let current = renamed(this.query(obj(body.left)!, ctes, parent), aliases);
    for (let round = 0; round < 8; round++) {
      ctes.set(lower(name), current);
      const step = this.query(obj(body.right)!, ctes, parent);
      const next = current.map((c, i) => ({ name: c.name, refs: unique([...c.refs, ...(step[i]?.refs ?? [])]) }));
      if (next.every((c, i) => c.refs.length === current[i].refs.length)) return next;
      current = next;
    }
    return current;
  }

  private setOperation(node: AstNode, ctes: Ctes, parent: Scope | undefined): OutputColumn[] {
    const left = this.query(obj(node.left)!, ctes, parent);
    const right = this.query(obj(node.right)!, ctes, parent);
    const kind = str(node.setop_type);
    // EXCEPT keeps rows of its left side: the right only removes some, like a filter.
    if (kind === 'EXCEPT') return left;
    if (kind === 'UNION_BY_NAME') {
      const out = left.map((c) => ({ name: c.name, refs: [...c.refs] }));
      for (const c of right) {
        const same = out.find((o) => lower(o.name) === lower(c.name));
        if (same) same.refs.push(...c.refs);
        else out.push({ name: c.name, refs: [...c.refs] });
      }
      return out;
    }
    if (left.length !== right.length) this.ctx.problem(`a ${kind} of ${left.length} and ${right.length} columns`);
    return left.map((c, i) => ({ name: c.name, refs: [...c.refs, ...(right[i]?.refs ?? [])] }));
  }

  private select(node: AstNode, ctes: Ctes, parent: Scope | undefined): OutputColumn[] {
    const scope: Scope = { items: [], hidden: new Map(), ctes, parent };
    this.addFrom(obj(node.from_table), scope);
    const out: OutputColumn[] = [];
    list(node.select_list).forEach((e, i) => {
      const expr = obj(e)!;
      if (expr.class === 'STAR') {
        out.push(...this.star(expr, scope));
        return;
      }
      const refs = this.refs(expr, scope, out, new Set());
      const names = list(expr.column_names).map(str);
      const name = str(expr.alias) || (expr.class === 'COLUMN_REF' ? this.columnName(names, scope) : this.ctx.nameOf(expr)) || `col${i}`;
      out.push({ name, refs });
    });
    return out;
  }

  private addFrom(table: AstNode | undefined, scope: Scope): void {
    if (!table) return;
    const alias = str(table.alias);
    switch (table.type) {
      case 'EMPTY':
        return;
      case 'BASE_TABLE': {
        const [catalog, schema, name] = [str(table.catalog_name), str(table.schema_name), str(table.table_name)];
        const cte = !schema && !catalog ? scope.ctes.get(lower(name)) : undefined;
        if (cte) {
          scope.items.push({ names: [lower(alias || name)], label: name, columns: cte });
          return;
        }
        const target = this.ctx.resolveTable({ catalog, schema, name });
        const names = alias ? [lower(alias)] : [lower(name), ...(schema ? [lower(`${schema}.${name}`)] : [])];
        const label = [catalog, schema, name].filter(Boolean).join('.');
        const columns = target?.columns?.map((c) => ({ name: c, refs: [{ node: target.node, column: c }] }));
        scope.items.push({ names, label, columns, node: target?.node });
        return;
      }
      case 'JOIN': {
        this.addFrom(obj(table.left), scope);
        const before = scope.items.length;
        this.addFrom(obj(table.right), scope);
        const leftNames = new Set(scope.items.slice(0, before).flatMap((i) => (i.columns ?? []).map((c) => lower(c.name))));
        const shared = table.ref_type === 'NATURAL'
          ? scope.items.slice(before).flatMap((i) => (i.columns ?? []).map((c) => lower(c.name)).filter((n) => leftNames.has(n)))
          : list(table.using_columns).map((c) => lower(str(c)));
        if (shared.length > 0) for (const item of scope.items.slice(before)) scope.hidden.set(item, new Set(shared));
        return;
      }
      case 'SUBQUERY': {
        const body = obj(obj(table.subquery)?.node);
        // The scope built so far is visible to a LATERAL subquery.
        const columns = body ? renamed(this.query(body, scope.ctes, scope), list(table.column_name_alias).map(str)) : undefined;
        scope.items.push({ names: [lower(alias)], label: alias || 'subquery', columns });
        return;
      }
      case 'EXPRESSION_LIST': {
        const rows = list(table.values).map(list);
        const columns = (rows[0] ?? []).map((_, i) => ({
          name: `col${i}`,
          refs: unique(rows.flatMap((row) => this.refs(obj(row[i]), scope, [], new Set()))),
        }));
        scope.items.push({ names: [lower(alias)], label: 'VALUES', columns });
        return;
      }
      case 'TABLE_FUNCTION': {
        const fn = str(obj(table.function)?.function_name);
        // range(...) or read_parquet('...') reads nothing of the project, like a table outside it;
        // one whose arguments read columns or queries hides lineage it cannot be asked for.
        if (readsSomething(obj(table.function)?.children)) this.ctx.problem(`reads the table function ${fn}() over columns or a query: its lineage is not known`);
        scope.items.push({ names: [lower(alias || fn)], label: `${fn}()`, columns: undefined });
        return;
      }
      default:
        this.ctx.problem(`a ${String(table.type)} in FROM is not analysed`);
        scope.items.push({ names: [lower(alias)], label: String(table.type), columns: undefined });
    }
  }

  /** `*`, `t.*`, with EXCLUDE and REPLACE, or COLUMNS('regex'). */
  private star(expr: AstNode, scope: Scope): OutputColumn[] {
    const relation = lower(str(expr.relation_name));
    const items = relation ? scope.items.filter((i) => i.names.includes(relation)) : scope.items;
    if (relation && items.length === 0) this.ctx.problem(`${relation}.*: no relation ${relation} in FROM`);
    const excluded = new Set(list(expr.exclude_list).map((x) => lower(excludedName(x))));
    const replaced = new Map(list(expr.replace_list).map((r) => [lower(str(obj(r)?.key)), obj(obj(r)?.value)] as const));
    let matches: (name: string) => boolean = () => true;
    if (expr.columns) {
      const pattern = obj(expr.expr)?.class === 'CONSTANT' ? obj(obj(expr.expr)?.value)?.value : undefined;
      if (typeof pattern !== 'string') {
        this.ctx.problem('COLUMNS(...) with other than a regular expression is not analysed');
        return [];
      }
      const regex = new RegExp(pattern);
      matches = (name) => regex.test(name);
    }
    const out: OutputColumn[] = [];
    for (const item of items) {
      if (!item.columns) {
        this.ctx.problem(`* over ${item.label}: its columns are not known`);
        continue;
      }
      const hidden = relation ? undefined : scope.hidden.get(item);
      for (const column of item.columns) {
        const key = lower(column.name);
        if (hidden?.has(key) || excluded.has(key) || !matches(column.name)) continue;
        const replacement = replaced.get(key);
        out.push(replacement ? { name: column.name, refs: this.refs(replacement, scope, out, new Set()) } : column);
      }
    }
    return out;
  }

  /** The upstream columns whose values flow into `expr`'s value. */
  private refs(expr: AstNode | undefined, scope: Scope, selected: readonly OutputColumn[], lambdaParams: ReadonlySet<string>): ColumnRef[] {
    const out: ColumnRef[] = [];
    const visit = (value: unknown, params: ReadonlySet<string>): void => {
      if (Array.isArray(value)) {
        for (const v of value) visit(v, params);
        return;
      }
      const e = obj(value);
      if (!e) return;
      switch (e.class) {
        case 'COLUMN_REF':
          out.push(...this.column(list(e.column_names).map(str), scope, selected, params));
          return;
        case 'CONSTANT':
        case 'PARAMETER':
        case 'DEFAULT':
          return;
        case 'STAR':
          for (const c of this.star(e, scope)) out.push(...c.refs);
          return;
        case 'CASE':
          // The THEN and ELSE values flow into the result; the WHEN conditions only choose among them.
          for (const check of list(e.case_checks)) visit(obj(check)?.then_expr, params);
          visit(e.else_expr, params);
          return;
        case 'WINDOW':
          // The function's arguments (and lead/lag's default); not PARTITION BY, ORDER BY, FILTER or the frame.
          visit(e.children, params);
          visit(e.default_expr, params);
          return;
        case 'FUNCTION':
        case 'AGGREGATE': {
          // Arguments only: an aggregate's FILTER and ORDER BY choose rows and order, not values;
          // arg_max(value, key) and its kin take the value of the first and only order by the second.
          const children = list(e.children);
          visit(BY_KEY_FUNCTIONS.has(lower(str(e.function_name))) ? children.slice(0, 1) : children, params);
          return;
        }
        case 'SUBQUERY': {
          const body = obj(obj(e.subquery)?.node);
          // A scalar subquery's value is the output; `x IN (...)` tests x; EXISTS tests rows only.
          if (e.subquery_type === 'SCALAR' && body) for (const c of this.query(body, scope.ctes, scope)) out.push(...c.refs);
          if (e.subquery_type === 'ANY') visit(e.child, params);
          return;
        }
        case 'LAMBDA': {
          const names = new Set(params);
          for (const p of lambdaNames(obj(e.lhs))) names.add(lower(p));
          visit(e.expr, names);
          return;
        }
        default:
          for (const [key, child] of Object.entries(e)) if (key !== 'alias' && key !== 'query_location') visit(child, params);
      }
    };
    visit(expr, lambdaParams);
    return unique(out);
  }

  /** A column reference: `col`, `t.col`, `schema.table.col`, each perhaps followed by struct fields. */
  private column(parts: string[], scope: Scope, selected: readonly OutputColumn[], params: ReadonlySet<string>): readonly ColumnRef[] {
    if (parts.length === 0 || params.has(lower(parts[0]))) return [];
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const found = this.columnIn(parts, s);
      if (found) return found;
    }
    // DuckDB lets a select expression use an earlier one's alias.
    const earlier = parts.length === 1 ? selected.find((c) => lower(c.name) === lower(parts[0])) : undefined;
    return earlier?.refs ?? [];
  }

  /**
   * An unaliased column reference's output name: DuckDB names it as its relation spells the
   * column (`"Amount"` over a column `amount` is `amount`); a struct field by the field.
   */
  private columnName(parts: string[], scope: Scope): string {
    const lowered = parts.map(lower);
    const last = parts[parts.length - 1];
    for (const n of [2, 1, 0]) {
      if (lowered.length !== n + 1) continue;
      const item = n === 0
        ? scope.items.find((i) => i.columns?.some((c) => lower(c.name) === lowered[0]))
        : scope.items.find((i) => i.names.includes(lowered.slice(0, n).join('.')));
      const column = item?.columns?.find((c) => lower(c.name) === lower(last));
      if (column) return column.name;
    }
    return last;
  }

  private columnIn(parts: string[], scope: Scope): readonly ColumnRef[] | undefined {
    const lowered = parts.map(lower);
    for (const n of [2, 1]) {
      if (lowered.length <= n) continue;
      const item = scope.items.find((i) => i.names.includes(lowered.slice(0, n).join('.')));
      if (item) return columnOf(item, parts[n]);
    }
    const known = scope.items.find((i) => i.columns?.some((c) => lower(c.name) === lowered[0]));
    if (known) return columnOf(known, parts[0]);
    const unknown = scope.items.filter((i) => !i.columns);
    if (unknown.length === 1) return columnOf(unknown[0], parts[0]);
    if (unknown.length > 1) {
      this.ctx.problem(`column ${parts.join('.')}: cannot tell which of ${unknown.map((i) => i.label).join(', ')} it comes from`);
      return [];
    }
    return undefined;
  }
}

/** Aggregates whose later arguments only choose which row's first argument is the value. */
const BY_KEY_FUNCTIONS = new Set(['arg_max', 'arg_min', 'argmax', 'argmin', 'max_by', 'min_by', 'arg_max_null', 'arg_min_null']);

/** Whether an argument list reads a column or a query (not only constants). */
function readsSomething(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(readsSomething);
  const e = obj(value);
  if (!e) return false;
  if (e.class === 'COLUMN_REF' || e.class === 'SUBQUERY' || e.class === 'STAR') return true;
  return Object.values(e).some(readsSomething);
}

function columnOf(item: Item, name: string): readonly ColumnRef[] {
  if (item.columns) return item.columns.find((c) => lower(c.name) === lower(name))?.refs ?? [];
  return item.node ? [{ node: item.node, column: name }] : [];
}

function renamed(columns: readonly OutputColumn[], aliases: readonly string[]): OutputColumn[] {
  return columns.map((c, i) => (aliases[i] ? { name: aliases[i], refs: c.refs } : c));
}

function excludedName(x: unknown): string {
  if (typeof x === 'string') return x;
  const names = Array.isArray(x) ? x : list(obj(x)?.column_names);
  return str(names[names.length - 1]);
}

function lambdaNames(lhs: AstNode | undefined): string[] {
  if (!lhs) return [];
  if (lhs.class === 'COLUMN_REF') return list(lhs.column_names).map(str).slice(-1);
  return list(lhs.children).flatMap((c) => lambdaNames(obj(c)));
}

function unique(refs: readonly ColumnRef[]): ColumnRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const key = `${r.node}\u0000${r.column}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
