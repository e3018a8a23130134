import { markMapping } from '../template/py-values.js';
import { TemplateUserError } from '../template/strict-compiler.js';
import { splitArgs } from './call-args.js';
import { ephemeralCteName, quoteIdentifier } from './relation.js';

/** What a relation is, as dbt's RelationType names it. */
export type RelationKind = 'table' | 'view' | 'cte' | 'external' | 'materialized_view';

/** The parts of a relation a template can ask for; `text` is its exact rendering when smelter chose it. */
export interface RelationInit {
  readonly database?: string | null;
  readonly schema?: string | null;
  readonly identifier?: string | null;
  readonly type?: RelationKind | null;
  /**
   * How the relation renders, when that is not its quoted parts: a committed relation, a batch
   * filter or a source's files. Dropped as soon as a template changes a part (include, incorporate).
   */
  readonly text?: string;
}

type PathPart = 'database' | 'schema' | 'identifier';
const PARTS: readonly PathPart[] = ['database', 'schema', 'identifier'];

/**
 * dbt's Relation in templates (`this`, `ref()`, `source()`, `api.Relation.create`): its parts, its
 * kind and the methods dbt's packages call. It renders (as text) as smelter always rendered the
 * relation — `"schema"."identifier"` — so SQL written before relations were objects is unchanged.
 * A part left out by `include(database=false)` is not rendered; parts are always quoted (DuckDB).
 */
export class RelationObject {
  readonly database: string | null;
  readonly schema: string | null;
  readonly identifier: string | null;
  readonly type: RelationKind | null;
  private readonly text: string | undefined;
  private readonly included: Readonly<Record<PathPart, boolean>>;

  constructor(init: RelationInit, included: Readonly<Record<PathPart, boolean>> = { database: false, schema: true, identifier: true }) {
    this.database = init.database ?? null;
    this.schema = init.schema ?? null;
    this.identifier = init.identifier ?? null;
    this.type = init.type ?? null;
    this.text = init.text;
    this.included = included;
    // Methods and the private fields stay out of `items()`/`keys()` and `is mapping` views of it.
    for (const key of ['text', 'included']) Object.defineProperty(this, key, { enumerable: false });
    // dbt's Relation is a Mapping: `is mapping`, `.get()` and `.items()` see its parts.
    markMapping(this);
  }

  /** What dbt_utils' `_is_relation` checks: `obj.get('metadata').type` ends in 'Relation'. */
  get metadata(): Record<string, string> {
    return { type: 'DuckDBRelation' };
  }
  get name(): string | null {
    return this.identifier;
  }
  get table(): string | null {
    return this.identifier;
  }
  get is_table(): boolean {
    return this.type === 'table';
  }
  get is_view(): boolean {
    return this.type === 'view';
  }
  get is_cte(): boolean {
    return this.type === 'cte';
  }
  get path(): Record<PathPart, string | null> {
    return { database: this.database, schema: this.schema, identifier: this.identifier };
  }

  /** Python's `dict.get`, for templates that treat a relation as a mapping. */
  get(key: unknown, fallback: unknown = null): unknown {
    if (typeof key !== 'string') return fallback;
    const value = (this as unknown as Record<string, unknown>)[key];
    return value === undefined || typeof value === 'function' ? fallback : value;
  }

  render(): string {
    if (this.text !== undefined) return this.text;
    if (this.type === 'cte') return this.identifier ?? '';
    return PARTS.filter((p) => this.included[p] && this[p] !== null && this[p] !== '')
      .map((p) => quoteIdentifier(this[p]!))
      .join('.');
  }

  toString(): string {
    return this.render();
  }

  /** Jinja's `==` on relations: the same rendered name (dbt compares relations by their path). */
  equals(other: unknown): boolean {
    return other instanceof RelationObject && other.render() === this.render();
  }

  /** `include(database=False, schema=True, identifier=True)`: which parts render. */
  include(...args: unknown[]): RelationObject {
    const { kwargs } = splitArgs(args);
    const included = { ...this.included };
    for (const [key, value] of Object.entries(kwargs)) {
      if (!PARTS.includes(key as PathPart)) throw new TemplateUserError(`Relation.include() takes database, schema and identifier, got '${key}'`);
      if (value !== null && value !== undefined) included[key as PathPart] = Boolean(value);
    }
    return new RelationObject(this.parts(), included);
  }

  /** Parts are always quoted for DuckDB; `quote(...)` is accepted and changes nothing. */
  quote(): RelationObject {
    return this;
  }

  /** `incorporate(path={...}, type=...)`: a copy with some parts or the kind replaced. */
  incorporate(...args: unknown[]): RelationObject {
    const { kwargs } = splitArgs(args);
    const path = (kwargs.path ?? {}) as Record<string, unknown>;
    const next: Record<string, unknown> = { ...this.parts() };
    for (const [key, value] of Object.entries(path)) {
      if (key === '__keywords') continue;
      if (!PARTS.includes(key as PathPart)) throw new TemplateUserError(`Relation.incorporate(path=...) takes database, schema and identifier, got '${key}'`);
      next[key] = value;
    }
    if (kwargs.type !== undefined) next.type = kwargs.type;
    return new RelationObject(next as RelationInit, this.included);
  }

  without_identifier(): RelationObject {
    return new RelationObject({ ...this.parts(), identifier: null }, { ...this.included, identifier: false });
  }

  private parts(): RelationInit {
    return { database: this.database, schema: this.schema, identifier: this.identifier, type: this.type };
  }
}

/** Parts of a relation rendered as `"schema"."identifier"` (or `"db"."schema"."identifier"`), recovered from the text. */
export function relationFromText(text: string, type: RelationKind | null = null): RelationObject {
  const parts = /^"((?:[^"]|"")*)"(?:\."((?:[^"]|"")*)")?(?:\."((?:[^"]|"")*)")?$/.exec(text);
  if (!parts) return new RelationObject({ identifier: text, type, text });
  const names = parts.slice(1).filter((p) => p !== undefined).map((p) => p.replaceAll('""', '"'));
  const [database, schema, identifier] = names.length === 3 ? names : names.length === 2 ? [null, ...names] : [null, null, ...names];
  return new RelationObject({ database, schema, identifier, type, text });
}

/** `api.Relation`: create a relation from parts, and the ephemeral prefix dbt_utils strips. */
export const relationApi = {
  create(...args: unknown[]): RelationObject {
    const { positional, kwargs } = splitArgs(args);
    const [database, schema, identifier, type] = positional;
    return new RelationObject({
      database: (kwargs.database ?? database ?? null) as string | null,
      schema: (kwargs.schema ?? schema ?? null) as string | null,
      identifier: (kwargs.identifier ?? identifier ?? null) as string | null,
      type: relationKind(kwargs.type ?? type),
    });
  },
  add_ephemeral_prefix(name: unknown): string {
    return ephemeralCteName(String(name ?? ''));
  },
};

/** information_schema's `BASE TABLE`/`VIEW`, or dbt's names, as a RelationKind. */
export function relationKind(value: unknown): RelationKind | null {
  if (value === null || value === undefined || value === '') return null;
  const text = String(value).toLowerCase();
  if (text === 'base table' || text === 'table' || text === 'local temporary') return 'table';
  if (text === 'view') return 'view';
  if (text === 'cte' || text === 'external' || text === 'materialized_view') return text;
  return null;
}
