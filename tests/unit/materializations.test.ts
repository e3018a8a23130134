import { describe, expect, it } from 'vitest';
import { materializationFor, type MaterializationInput } from '../../runtime/materializations/index.js';
import type { StatementsStrategy } from '../../runtime/materializations/materialization.js';
import { injectCtes } from '../../runtime/render/inject-ctes.js';
import type { ModelNode } from '../../runtime/manifest/types.js';

const input = (over: Partial<MaterializationInput>): MaterializationInput => ({
  node: {} as ModelNode,
  sql: 'select 1 as id;\n',
  relation: '"gold"."t"',
  existing: undefined,
  preHooks: [],
  ...over,
});

const strategy = (kind: 'view' | 'table') => materializationFor(kind) as StatementsStrategy;

describe('materializations', () => {
  it('view: pre-hooks before CREATE OR REPLACE VIEW (the executor renders and runs the post-hooks after it)', () => {
    expect(strategy('view').plan(input({ preHooks: ['set x = 1'] }))).toEqual([
      { sql: 'set x = 1', role: 'hook' },
      { sql: 'CREATE OR REPLACE VIEW "gold"."t" AS\nselect 1 as id\n', role: 'main' },
    ]);
  });

  it('view replacing a table drops the table in the same transaction', () => {
    expect(strategy('view').plan(input({ existing: 'table' })).map((s) => s.sql)).toEqual([
      'DROP TABLE "gold"."t"',
      'CREATE OR REPLACE VIEW "gold"."t" AS\nselect 1 as id\n',
    ]);
  });

  it('table: CREATE OR REPLACE TABLE, dropping a view of the same name first', () => {
    expect(strategy('table').plan(input({ existing: 'view', sql: 'select 2 -- trailing comment' })).map((s) => s.sql)).toEqual([
      'DROP VIEW "gold"."t"',
      'CREATE OR REPLACE TABLE "gold"."t" AS\nselect 2 -- trailing comment\n',
    ]);
  });

  it('ephemeral has no build strategy; incremental and scd2 (also external) run a program; an external view is refused', () => {
    expect(materializationFor('ephemeral')).toEqual({ unavailable: 'ephemeral models are inlined where they are referenced, not built' });
    expect(materializationFor('scd2')).toMatchObject({ kind: 'program' });
    expect(materializationFor('scd2', true)).toMatchObject({ kind: 'program' });
    expect(materializationFor('incremental')).toMatchObject({ kind: 'program' });
    expect(materializationFor('view', true)).toEqual({
      unavailable: 'external: true is for table, incremental and scd2 models; an external view model is not available in this version of smelter',
    });
  });
});

describe('injectCtes', () => {
  const ctes = [{ name: 'c1', sql: 'select 1 as x;' }];
  it('prepends a WITH clause', () => {
    expect(injectCtes('select * from c1', ctes)).toBe('WITH c1 AS (\nselect 1 as x\n)\nselect * from c1');
  });
  it('joins an existing WITH after leading comments, also WITH RECURSIVE', () => {
    expect(injectCtes('-- note\n/* block */ WITH a AS (select 1) select * from a, c1', ctes)).toBe(
      '-- note\n/* block */ WITH c1 AS (\nselect 1 as x\n),\na AS (select 1) select * from a, c1',
    );
    expect(injectCtes('with recursive r(n) as (select 1) select * from r, c1', ctes)).toBe(
      'with recursive c1 AS (\nselect 1 as x\n),\nr(n) as (select 1) select * from r, c1',
    );
  });
  it('leaves a query alone when there is nothing to inline', () => {
    expect(injectCtes('select 1', [])).toBe('select 1');
  });
});
