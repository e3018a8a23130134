import { TemplateUserError } from '../template/strict-compiler.js';
import { splitArgs } from './call-args.js';
import { agateTable, tableData, type DatabaseAnswers, type QueryTable } from './query-table.js';
import { quoteIdentifier, quoteLiteral } from './relation.js';
import { RelationObject, relationApi, relationKind } from './relation-object.js';

/**
 * dbt's column (`adapter.get_columns_in_relation`): its name, DuckDB type and the type tests
 * dbt's packages use to pick columns.
 */
export class ColumnObject {
  readonly name: string;
  readonly column: string;
  readonly data_type: string;
  readonly dtype: string;
  readonly char_size: number | null;
  readonly numeric_precision: number | null;
  readonly numeric_scale: number | null;

  constructor(name: string, dataType: string, charSize: number | null = null, precision: number | null = null, scale: number | null = null) {
    this.name = name;
    this.column = name;
    this.data_type = dataType;
    this.dtype = dataType;
    this.char_size = charSize;
    this.numeric_precision = precision;
    this.numeric_scale = scale;
  }

  get quoted(): string {
    return quoteIdentifier(this.name);
  }
  is_string(): boolean {
    return /^(VARCHAR|TEXT|STRING|CHAR|BPCHAR|NVARCHAR)\b/i.test(this.data_type);
  }
  is_integer(): boolean {
    return /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|INT\d*|UINTEGER|UBIGINT|USMALLINT|UTINYINT|UHUGEINT)$/i.test(this.data_type);
  }
  is_float(): boolean {
    return /^(FLOAT|DOUBLE|REAL|FLOAT4|FLOAT8)$/i.test(this.data_type);
  }
  is_numeric(): boolean {
    return /^(DECIMAL|NUMERIC)\b/i.test(this.data_type);
  }
  is_number(): boolean {
    return this.is_integer() || this.is_float() || this.is_numeric();
  }
  string_size(): number {
    if (!this.is_string()) throw new TemplateUserError(`string_size() is only for string columns; ${this.name} is ${this.data_type}`);
    return this.char_size ?? 256;
  }
  toString(): string {
    return `<Column ${this.name} (${this.data_type})>`;
  }
}

/** The functions and values of dbt's context that reach the database. */
export interface DatabaseContext {
  readonly functions: Record<string, (...args: any[]) => unknown>;
  readonly values: Record<string, unknown>;
}

/**
 * `execute`, `run_query`, `statement`/`load_result`, `load_relation` and the `adapter` methods
 * that read the database. Without `answers` (parse, unit tests) `execute` is false and they answer
 * as dbt's do then: no query runs, `run_query` and `load_result` give None, relations are absent.
 * Each render answers a query once by its SQL text (see DatabaseAnswers), so a statement with a
 * side effect runs once per node even though the node may render several times.
 */
export function databaseContext(answers: DatabaseAnswers | undefined): DatabaseContext {
  const results = new Map<string, unknown>();
  const ask = (sql: string): QueryTable | undefined => (answers ? answers.answer(sql) : undefined);

  const getRelation = (database: unknown, schema: unknown, identifier: unknown): RelationObject | null => {
    if (!answers) return null;
    const table = ask(
      `select table_catalog, table_schema, table_name, table_type from information_schema.tables where ${where(database, schema, identifier)} order by table_catalog = current_database() desc limit 1`,
    )!;
    if (table.rows.length === 0) return null;
    const [db, sch, name, type] = table.rows[0] as string[];
    return new RelationObject({ database: db, schema: sch, identifier: name, type: relationKind(type) });
  };
  const loadRelation = (relation: unknown): RelationObject | null => {
    const r = asRelation(relation, 'load_relation');
    if (r.is_cte) return r;
    return getRelation(r.database, r.schema, r.identifier);
  };

  const adapter = {
    quote: (name: unknown) => quoteIdentifier(String(name)),
    quote_as_configured: (name: unknown) => quoteIdentifier(String(name)),
    quote_seed_column: (name: unknown) => quoteIdentifier(String(name)),
    type: () => 'duckdb',
    get_relation(...args: unknown[]) {
      const { positional, kwargs } = splitArgs(args);
      const [database, schema, identifier] = positional;
      return getRelation(kwargs.database ?? database, kwargs.schema ?? schema, kwargs.identifier ?? identifier);
    },
    load_relation: loadRelation,
    get_columns_in_relation(relation: unknown): ColumnObject[] {
      const r = asRelation(relation, 'adapter.get_columns_in_relation');
      if (!answers || r.is_cte || r.identifier === null) return [];
      const table = ask(
        `select column_name, data_type, character_maximum_length, numeric_precision, numeric_scale from information_schema.columns where ${where(r.database, r.schema, r.identifier)} order by ordinal_position`,
      )!;
      return table.rows.map(([name, type, size, precision, scale]) => new ColumnObject(String(name), String(type), numberOrNull(size), numberOrNull(precision), numberOrNull(scale)));
    },
    /** Drops the relation now (dbt runs it at once); its kind picks DROP VIEW or DROP TABLE. */
    drop_relation(relation: unknown): string {
      const r = asRelation(relation, 'adapter.drop_relation');
      if (answers && !r.is_cte && r.identifier !== null) ask(`DROP ${r.type === 'view' ? 'VIEW' : 'TABLE'} IF EXISTS ${r}`);
      return '';
    },
    list_relations_without_caching(relation: unknown): RelationObject[] {
      const r = asRelation(relation, 'adapter.list_relations_without_caching');
      if (!answers) return [];
      const table = ask(
        `select table_catalog, table_schema, table_name, table_type from information_schema.tables where ${where(r.database, r.schema, undefined)} order by table_name`,
      )!;
      return table.rows.map(([db, sch, name, type]) => new RelationObject({ database: String(db), schema: String(sch), identifier: String(name), type: relationKind(type) }));
    },
  };

  const functions = {
    run_query(sql: unknown) {
      if (!answers) return null;
      return agateTable(ask(String(sql))!);
    },
    statement(...args: unknown[]) {
      const { positional, kwargs } = splitArgs(args);
      const name = String(positional[0] ?? kwargs.name ?? 'main');
      const caller = kwargs.caller as (() => unknown) | undefined;
      if (typeof caller !== 'function') throw new TemplateUserError('statement() is a call block: {% call statement(\'name\', fetch_result=True) %} SQL {% endcall %}');
      const sql = String(caller());
      if (!answers) return '';
      const table = ask(sql)!;
      const fetch = kwargs.fetch_result === true || positional[1] === true;
      results.set(name, {
        response: { _message: 'OK', code: 'OK', rows_affected: table.rowsAffected },
        table: fetch ? agateTable(table) : null,
        data: fetch ? tableData(table) : [],
      });
      return '';
    },
    load_result(name: unknown) {
      return results.get(String(name)) ?? null;
    },
    load_relation: loadRelation,
  };
  return { functions, values: { execute: answers !== undefined, adapter, api: { Relation: relationApi } } };
}

function asRelation(value: unknown, what: string): RelationObject {
  if (value instanceof RelationObject) return value;
  throw new TemplateUserError(`${what}() needs a relation (ref(), source(), this or api.Relation.create), got ${JSON.stringify(String(value))}`);
}

/** A case-insensitive match on the parts given (DuckDB's identifiers are case-insensitive). */
function where(database: unknown, schema: unknown, identifier: unknown): string {
  const clauses: string[] = [];
  const part = (column: string, value: unknown) => {
    if (value !== null && value !== undefined && value !== '') clauses.push(`lower(${column}) = lower(${quoteLiteral(String(value))})`);
  };
  part('table_catalog', database);
  if (schema === null || schema === undefined || schema === '') clauses.push('table_schema = current_schema()');
  else part('table_schema', schema);
  part('table_name', identifier);
  return clauses.join(' and ');
}

function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
