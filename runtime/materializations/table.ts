import { selectBody, type StatementsStrategy } from './materialization.js';

/**
 * CREATE OR REPLACE TABLE inside the model's transaction: readers keep seeing the old table until
 * the commit (DuckDB's MVCC), and a failed build rolls back to it.
 */
export const tableMaterialization: StatementsStrategy = {
  kind: 'statements',
  plan({ sql, relation, existing, preHooks }) {
    return [
      ...preHooks.map((h) => ({ sql: h, role: 'hook' as const })),
      ...(existing === 'view' ? [{ sql: `DROP VIEW ${relation}`, role: 'ddl' as const }] : []),
      { sql: `CREATE OR REPLACE TABLE ${relation} AS\n${selectBody(sql)}`, role: 'main' as const },
    ];
  },
};
