import { describe, expect, it } from 'vitest';
import { textAfterFirstStatement } from '../../runtime/execute/one-statement.js';

/** The cheap scan before DuckDB's parser confirms a second statement in a model's SQL (runtime/execute/one-statement.ts). */
describe('textAfterFirstStatement', () => {
  it('finds nothing after one statement, with or without its semicolons, comments after it included', () => {
    for (const sql of ['select 1', 'select 1;', 'select 1;;\n', 'select 1;\n-- done\n;\n', 'select 1; /* a note */ ', 'select 1 -- no; drop\n']) {
      expect(textAfterFirstStatement(sql), sql).toBeUndefined();
    }
  });

  it('skips semicolons in strings, identifiers, dollar quotes and nested comments', () => {
    for (const sql of [
      "select ';' as x",
      "select 'it''s; fine' as x",
      "select E'\\'; not the end' as x",
      'select 1 as "a;b"',
      'select $$a; b$$ as x, $tag$c; d$tag$ as y',
      '/* outer /* inner; */ still; */ select 1',
    ]) {
      expect(textAfterFirstStatement(sql), sql).toBeUndefined();
    }
  });

  it('names the line of the semicolon and what follows it', () => {
    expect(textAfterFirstStatement('select 1; drop table gold.dim_member')).toEqual({ line: 1, text: 'drop table gold.dim_member' });
    expect(textAfterFirstStatement("select 'a;'\n;\n\n  delete from t; select 2\n")).toEqual({ line: 2, text: 'delete from t; select 2' });
    expect(textAfterFirstStatement("select 1; /* c */ 'x'")).toEqual({ line: 1, text: "'x'" });
    // Backslash is no escape in a plain string: the string ends at the second quote.
    expect(textAfterFirstStatement("select 'a\\'; drop table t; --'")).toEqual({ line: 1, text: "drop table t; --'" });
  });
});
