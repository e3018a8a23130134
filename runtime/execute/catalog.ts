import type { EngineConnection } from '../engine/engine.js';
import type { RelationKind } from '../materializations/index.js';

/** Relations that exist in the target database, by `catalogKey`; a run keeps it current as it builds. */
export type Catalog = Map<string, RelationKind>;

/** DuckDB names are case-insensitive. */
export const catalogKey = (schema: string, name: string) => `${schema}\u0000${name}`.toLowerCase();

/** Read once when a run starts: a query per model would cost more than building a view. */
export async function readCatalog(connection: EngineConnection): Promise<Catalog> {
  const rows = await connection.query(
    `SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_catalog = current_database()`,
  );
  return new Map(rows.map((r) => [catalogKey(String(r.table_schema), String(r.table_name)), r.table_type === 'VIEW' ? 'view' : 'table']));
}
