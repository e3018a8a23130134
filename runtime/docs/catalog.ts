import type { EngineConnection } from '../engine/engine.js';
import { committedFiles } from '../execute/publish.js';
import { readFileSetManifest } from '../execute/file-sets.js';
import type { Manifest, ModelNode, SeedNode, SourceNode } from '../manifest/types.js';
import { readParquetFiles } from '../materializations/parquet-files.js';
import { isStateful, stateKey } from '../materializations/traits.js';
import { renderSource } from '../render/render-model.js';
import type { StateRecord } from '../state/state-record.js';
import type { Storage } from '../storage/storage.js';

/** One column as dbt's catalog.json describes it. */
export interface CatalogColumn {
  readonly type: string;
  readonly index: number;
  readonly name: string;
  readonly comment: string | null;
}

export interface CatalogStat {
  readonly id: string;
  readonly label: string;
  readonly value: number | boolean | string;
  readonly include: boolean;
  readonly description: string;
}

/** One relation in catalog.json. */
export interface CatalogTable {
  readonly unique_id: string;
  readonly metadata: { readonly type: string; readonly schema: string; readonly name: string; readonly database: string | null; readonly comment: string | null; readonly owner: null };
  readonly columns: Readonly<Record<string, CatalogColumn>>;
  readonly stats: Readonly<Record<string, CatalogStat>>;
}

export interface Catalog {
  readonly nodes: Readonly<Record<string, CatalogTable>>;
  readonly sources: Readonly<Record<string, CatalogTable>>;
  /** Relations that could not be described, and why (dbt's `errors`). */
  readonly errors: readonly string[] | null;
}

export interface CatalogInputs {
  readonly manifest: Manifest;
  /** The target's database; absent when it was never built (the catalog is then empty). */
  readonly connection: EngineConnection | undefined;
  /** The catalog name `database` columns carry (`target.database`). */
  readonly database: string;
  readonly projectDir: string;
  /** Committed state records by state key: external models are described from their committed files. */
  readonly states: ReadonlyMap<string, StateRecord>;
  /** The external models' storage, when the project has external models. */
  readonly storage: Storage | undefined;
}

type Described = { type: string; columns: Array<{ name: string; type: string }>; rows?: number };

/**
 * dbt's catalog.json: each built relation's columns with their types, and a row count where it is
 * cheap (a stateful model's committed total; DuckDB's estimate for other tables). Relations that
 * do not exist yet are left out, as dbt leaves them out. An external model is described from its
 * committed files (not from a view that may point at files a run cached), and an external source
 * from its files.
 */
export async function buildCatalog(inputs: CatalogInputs): Promise<Catalog> {
  const nodes: Record<string, CatalogTable> = {};
  const sources: Record<string, CatalogTable> = {};
  const errors: string[] = [];
  if (inputs.connection === undefined) return { nodes, sources, errors: null };
  const connection = inputs.connection;
  const estimates = await tableEstimates(connection);
  const relations = await describeDatabase(connection);
  for (const node of Object.values(inputs.manifest.nodes)) {
    if (node.resource_type !== 'model' && node.resource_type !== 'seed' && node.resource_type !== 'source') continue;
    if (node.resource_type === 'model' && node.config.materialized === 'ephemeral') continue;
    let described: Described | undefined;
    try {
      described = await describe(node, inputs, connection, estimates, relations);
    } catch (error) {
      errors.push(`${node.unique_id}: ${firstLine(error)}`);
      continue;
    }
    if (described === undefined) continue;
    const table = catalogTable(node, described, inputs.database);
    if (node.resource_type === 'source') sources[node.unique_id] = table;
    else nodes[node.unique_id] = table;
  }
  return { nodes, sources, errors: errors.length === 0 ? null : errors };
}

async function describe(
  node: ModelNode | SeedNode | SourceNode,
  inputs: CatalogInputs,
  connection: EngineConnection,
  estimates: ReadonlyMap<string, number>,
  relations: ReadonlyMap<string, DatabaseRelation>,
): Promise<Described | undefined> {
  if (node.resource_type === 'source' && node.external_location !== undefined) {
    if (/^s3:\/\//i.test(node.external_location)) return undefined; // DuckDB reads S3 only through a run's fetched copies
    return { type: 'EXTERNAL', columns: await describeQuery(connection, `SELECT * FROM ${renderSource(node, inputs.projectDir)}`) };
  }
  const state = node.resource_type === 'model' && isStateful(node) ? inputs.states.get(stateKey(node)) : undefined;
  if (node.resource_type === 'model' && node.config.external) {
    if (state?.manifest_pointer == null || inputs.storage === undefined) return undefined;
    const fileSet = await readFileSetManifest(inputs.storage, state.manifest_pointer);
    const files = await committedFiles(inputs.storage, fileSet);
    try {
      const columns = files.paths.length === 0 ? [] : await describeQuery(connection, `SELECT * FROM ${readParquetFiles(node, files.paths)}`);
      return { type: 'EXTERNAL', columns, rows: state.rows_total };
    } finally {
      files.release();
    }
  }
  const { schema, identifier } = node.relation;
  const relation = relations.get(relationKey(schema, identifier));
  if (relation === undefined) return undefined;
  return {
    type: relation.type,
    columns: relation.columns,
    rows: state?.rows_total ?? (relation.type === 'BASE TABLE' ? estimates.get(`${schema}.${identifier}`) : undefined),
  };
}

type DatabaseRelation = { type: string; columns: Array<{ name: string; type: string }> };

/**
 * Every relation of the database with its columns, in two queries: asking information_schema once
 * per relation costs milliseconds each, seconds for a thousand models.
 */
async function describeDatabase(connection: EngineConnection): Promise<Map<string, DatabaseRelation>> {
  const relations = new Map<string, DatabaseRelation>();
  for (const t of await connection.query('SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_catalog = current_database()')) {
    relations.set(relationKey(String(t.table_schema), String(t.table_name)), { type: String(t.table_type), columns: [] });
  }
  const columns = await connection.query(
    'SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position',
  );
  for (const c of columns) relations.get(relationKey(String(c.table_schema), String(c.table_name)))?.columns.push({ name: String(c.column_name), type: String(c.data_type) });
  return relations;
}

/** DuckDB's identifiers are case-insensitive. */
function relationKey(schema: string, identifier: string): string {
  return `${schema.toLowerCase()}\u0000${identifier.toLowerCase()}`;
}

/** DuckDB's row estimate of every table: kept in its metadata, so it costs no scan. */
async function tableEstimates(connection: EngineConnection): Promise<Map<string, number>> {
  const rows = await connection.query('SELECT schema_name, table_name, estimated_size FROM duckdb_tables() WHERE database_name = current_database()');
  return new Map(rows.map((r) => [`${String(r.schema_name)}.${String(r.table_name)}`, Number(r.estimated_size)]));
}

async function describeQuery(connection: EngineConnection, sql: string): Promise<Array<{ name: string; type: string }>> {
  const rows = await connection.query(`DESCRIBE ${sql}`);
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}

function catalogTable(node: ModelNode | SeedNode | SourceNode, described: Described, database: string): CatalogTable {
  const declared = node.columns;
  const columns: Record<string, CatalogColumn> = {};
  described.columns.forEach((c, i) => {
    columns[c.name] = { type: c.type, index: i + 1, name: c.name, comment: declared[c.name]?.description || null };
  });
  const stats: Record<string, CatalogStat> =
    described.rows === undefined
      ? { has_stats: { id: 'has_stats', label: 'Has Stats?', value: false, include: false, description: 'Indicates whether there are statistics for this table' } }
      : {
          row_count: { id: 'row_count', label: 'Row Count', value: described.rows, include: true, description: 'Rows in the relation (a stateful model\'s committed total, or DuckDB\'s estimate)' },
          has_stats: { id: 'has_stats', label: 'Has Stats?', value: true, include: false, description: 'Indicates whether there are statistics for this table' },
        };
  return {
    unique_id: node.unique_id,
    metadata: { type: described.type, schema: node.relation.schema, name: node.relation.identifier, database, comment: node.description || null, owner: null },
    columns,
    stats,
  };
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}
