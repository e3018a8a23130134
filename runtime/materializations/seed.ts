import { join } from 'node:path';
import type { SeedNode } from '../manifest/types.js';
import { quoteLiteral } from '../render/relation.js';
import type { PlannedStatement } from './materialization.js';

/**
 * A seed is a table rebuilt from its CSV; `column_types` pins the types DuckDB would infer. The
 * dialect is dbt's (its `delimiter`, a comma by default; double quotes), never guessed: parse
 * checked the file in it.
 */
export function seedStatements(node: SeedNode, projectDir: string, relation: string): PlannedStatement[] {
  const path = join(projectDir, node.original_file_path);
  const types = Object.entries(node.config.column_types);
  const typesArg = types.length === 0 ? '' : `, types = {${types.map(([c, t]) => `${quoteLiteral(c)}: ${quoteLiteral(t)}`).join(', ')}}`;
  return [
    {
      sql: `CREATE OR REPLACE TABLE ${relation} AS\nSELECT * FROM read_csv(${quoteLiteral(path)}, header = true, auto_detect = true, delim = ${quoteLiteral(node.config.delimiter ?? ',')}, quote = '"', escape = '"'${typesArg})\n`,
      role: 'main',
    },
  ];
}
