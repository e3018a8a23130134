import { selectBody, type StatementsStrategy } from './materialization.js';

/** CREATE OR REPLACE VIEW; a table of the same name is dropped first, in the same transaction. */
export const viewMaterialization: StatementsStrategy = {
  kind: 'statements',
  plan({ sql, relation, existing, preHooks }) {
    return [
      ...preHooks.map((h) => ({ sql: h, role: 'hook' as const })),
      ...(existing === 'table' ? [{ sql: `DROP TABLE ${relation}`, role: 'ddl' as const }] : []),
      { sql: `CREATE OR REPLACE VIEW ${relation} AS\n${selectBody(sql)}`, role: 'main' as const },
    ];
  },
};
