import { describe, expect, it } from 'vitest';
import { indexColumnLineage, lineageTree } from '../../runtime/docs/column-lineage.js';
import { filterGraphNodes } from '../../runtime/docs/filter-nodes.js';
import { graphNodeIds } from '../../runtime/docs/graph-nodes.js';
import { scriptSafeJson } from '../../runtime/docs/site-html.js';
import { loadProject } from '../../runtime/project/load-project.js';
import { parseProject } from '../../runtime/parse/parse-project.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * The docs site's logic that runs the same in Node and in the page: column lineage inverted across
 * nodes, the filter box (the CLI's selector, then a name search), and the JSON the HTML embeds.
 * tests/browser/docs-site.test.ts drives the page itself.
 */

describe('column lineage', () => {
  const nodes = {
    'model.p.b': { column_lineage: { x: [{ node: 'source.p.s.t', column: 'a' }], y: [{ node: 'source.p.s.t', column: 'a' }, { node: 'model.p.e', column: 'k' }] } },
    'model.p.e': { column_lineage: { k: [{ node: 'source.p.s.t', column: 'b' }] } },
    'model.p.c': { column_lineage: { z: [{ node: 'model.p.b', column: 'x' }, { node: 'model.p.b', column: 'x' }] } },
    // Malformed entries are skipped, not fatal.
    'model.p.bad': { column_lineage: { q: 'nope', r: [{ node: 1 }] } },
    'model.p.none': {},
  };
  const index = indexColumnLineage(nodes);

  it('reads upstream columns as recorded and inverts them into downstream ones (each once)', () => {
    expect(index.upstream({ node: 'model.p.b', column: 'y' })).toEqual([{ node: 'source.p.s.t', column: 'a' }, { node: 'model.p.e', column: 'k' }]);
    expect(index.downstream({ node: 'source.p.s.t', column: 'a' })).toEqual([{ node: 'model.p.b', column: 'x' }, { node: 'model.p.b', column: 'y' }]);
    expect(index.downstream({ node: 'model.p.b', column: 'x' })).toEqual([{ node: 'model.p.c', column: 'z' }]);
    expect(index.upstream({ node: 'model.p.bad', column: 'r' })).toEqual([]);
    expect(index.upstream({ node: 'model.p.none', column: 'x' })).toEqual([]);
  });

  it('follows lineage transitively both ways, through an ephemeral model as a node of its own', () => {
    expect(lineageTree(index, { node: 'model.p.b', column: 'y' }, 'up')).toEqual({
      ref: { node: 'model.p.b', column: 'y' },
      next: [
        { ref: { node: 'source.p.s.t', column: 'a' }, next: [] },
        { ref: { node: 'model.p.e', column: 'k' }, next: [{ ref: { node: 'source.p.s.t', column: 'b' }, next: [] }] },
      ],
    });
    expect(lineageTree(index, { node: 'source.p.s.t', column: 'a' }, 'down').next.map((t) => [t.ref.column, t.next.map((n) => n.ref.column)])).toEqual([
      ['x', ['z']],
      ['y', []],
    ]);
  });

  it('stops where a column comes back on its own path', () => {
    const loop = indexColumnLineage({ 'model.p.a': { column_lineage: { c: [{ node: 'model.p.a', column: 'c' }] } } });
    expect(lineageTree(loop, { node: 'model.p.a', column: 'c' }, 'up')).toEqual({ ref: { node: 'model.p.a', column: 'c' }, next: [] });
  });
});

describe('the filter box', () => {
  const dir = writeTempProject({
    'project.yml': "name: p\ntargets:\n  dev: { database: ':memory:' }\n",
    'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n',
    'models/stg_orders.sql': "{{ config(materialized='ephemeral', tags=['daily']) }}\nselect * from {{ source('raw', 'orders') }}",
    'models/orders.sql': "select * from {{ ref('stg_orders') }}",
    'models/order_totals.sql': "select count(*) as n from {{ ref('orders') }}",
    'models/schema.yml': 'version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        data_tests: [unique]\n',
  });
  const project = loadProject(dir, { env: {} });
  const { manifest, dag } = parseProject(project, { env: {} });

  it('draws models (ephemeral ones too) and sources, not tests', () => {
    expect(graphNodeIds(manifest)).toEqual(['model.p.order_totals', 'model.p.orders', 'model.p.stg_orders', 'source.p.raw.orders']);
  });

  it("runs dbt's selector grammar, then a name search for a plain word that selects nothing", () => {
    expect(filterGraphNodes(manifest, dag, '  ')).toEqual({ kind: 'all', ids: graphNodeIds(manifest) });
    expect(filterGraphNodes(manifest, dag, '+orders')).toEqual({ kind: 'selector', ids: ['model.p.orders', 'model.p.stg_orders', 'source.p.raw.orders'] });
    expect(filterGraphNodes(manifest, dag, 'tag:daily')).toEqual({ kind: 'selector', ids: ['model.p.stg_orders'] });
    expect(filterGraphNodes(manifest, dag, 'ORDER')).toEqual({ kind: 'name', ids: ['model.p.order_totals', 'model.p.orders', 'model.p.stg_orders', 'source.p.raw.orders'] });
    expect(filterGraphNodes(manifest, dag, 'tag:weekly')).toEqual({ kind: 'selector', ids: [] });
    expect(filterGraphNodes(manifest, dag, 'bogus:x')).toEqual({ kind: 'error', ids: [], message: "unknown selector method 'bogus' in 'bogus:x'" });
  });
});

describe('the embedded JSON', () => {
  it('holds no `<`, so neither </script> nor <!-- can end or change its element, and parses back the same', () => {
    const value = { sql: "select '</script><!--' as x", line: 'a\u2028b' };
    const json = scriptSafeJson(value);
    expect(json).toBe('{"sql":"select \'\\u003c/script>\\u003c!--\' as x","line":"a\\u2028b"}');
    expect(JSON.parse(json)).toEqual(value);
  });
});
