import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProject } from '../../runtime/project/load-project.js';
import { parseProject } from '../../runtime/parse/parse-project.js';
import { renderModel } from '../../runtime/render/render-model.js';
import type { ModelNode } from '../../runtime/manifest/types.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { smelterInProcess } from '../helpers/cli-in-process.js';

const PROJECT = `name: shop
vars:
  region: eu
targets:
  dev: { database: ':memory:' }
`;

function parse(files: Record<string, string>) {
  const dir = writeTempProject({ 'project.yml': PROJECT, ...files });
  const project = loadProject(dir, { env: {} });
  return { dir, project, ...parseProject(project, { env: {} }) };
}

function rendered(files: Record<string, string>, name: string): { sql: string; fastPath: boolean } {
  const { project, manifest, templates } = parse(files);
  expect(manifest.diagnostics ?? []).toEqual([]);
  const node = manifest.nodes[`model.shop.${name}`] as ModelNode;
  const sql = renderModel(node, { manifest, project, templates, env: {}, runStartedAt: new Date(0), invocationId: 'i' });
  return { sql, fastPath: node.fast_path !== undefined };
}

describe("Python's % formatting in a model", () => {
  it('renders through the template engine, and a % in SQL text stays on the fast path as written', () => {
    const files = {
      'models/a.sql': 'select 1 as id',
      'models/fmt.sql': `select '{{ "%s_%03d" % (var('region'), 7) }}' as k, {{ "%.2f" % 2.345 }} as x, '{{ "%d%%" % 50 }}' as p from {{ ref('a') }}`,
      'models/plain.sql': "select 10 % 3 as m, 'a%' as p from {{ ref('a') }}",
    };
    expect(rendered(files, 'fmt')).toEqual({ sql: `select 'eu_007' as k, 2.35 as x, '50%' as p from "main"."a"`, fastPath: false });
    expect(rendered(files, 'plain')).toEqual({ sql: `select 10 % 3 as m, 'a%' as p from "main"."a"`, fastPath: true });
  });
});

const SNAPSHOT = `-- history of orders
{% snapshot orders_snapshot %}
{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at') }}
select * from {{ ref('a') }}
{% endsnapshot %}
`;
const HINT = ' (move it to snapshots/ (snapshot-paths in dbt_project.yml))\n';

describe('dbt snapshots', () => {
  it('a snapshot block in a model or macro file is one error at the block: only snapshots/ is read for them', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/a.sql': 'select 1 as id',
      'models/orders_snapshot.sql': SNAPSHOT,
      'macros/snap.sql': `{% macro m() %}1{% endmacro %}\n\n  {%- snapshot  kept %}select 1{% endsnapshot %}`,
    });
    const result = await smelterInProcess(dir, 'compile');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `error: macros/snap.sql:3:3: a {% snapshot kept %} block belongs in a snapshot folder, not here${HINT}` +
        `error: models/orders_snapshot.sql:2:1: a {% snapshot orders_snapshot %} block belongs in a snapshot folder, not here${HINT}`,
    );
  });
});

const DOCS_MD = `# Orders

{% docs orders %}
One row per order.

Cancelled orders are kept, with **status** \`cancelled\`.
{% enddocs %}

{%- docs order_id -%}  The order's key.  {%- enddocs %}
`;

describe('docs blocks', () => {
  it("{{ doc('name') }} in a model's and a column's description is the block's text in manifest.json", async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/orders.sql': 'select 1 as id',
      'models/docs/orders.md': DOCS_MD,
      'models/schema.yml': [
        'version: 2',
        'models:',
        '  - name: orders',
        '    description: "{{ doc(\'orders\') }}"',
        '    columns:',
        '      - name: id',
        '        description: \'Key: {{ doc("order_id") }} Never null.\'',
        '      - name: status',
        '        description: plain text stays',
        '',
      ].join('\n'),
    });
    const result = await smelterInProcess(dir, 'compile');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'target/manifest.json'), 'utf8'));
    const node = manifest.nodes['model.shop.orders'];
    expect(node.description).toBe('One row per order.\n\nCancelled orders are kept, with **status** `cancelled`.');
    expect(node.columns.id.description).toBe("Key: The order's key. Never null.");
    expect(node.columns.status.description).toBe('plain text stays');
  });

  it('an unknown doc name, or a doc() it cannot read, is an error naming the YAML file and line, exit code 2', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/orders.sql': 'select 1 as id',
      'models/orders.md': DOCS_MD,
      'models/schema.yml': [
        'version: 2',
        'models:',
        '  - name: orders',
        '    description: "{{ doc(\'pkg\', \'orders\') }}"',
        '    columns:',
        '      - name: id',
        '        description: "{{ doc(\'order_idd\') }}"',
        '',
      ].join('\n'),
    });
    const result = await smelterInProcess(dir, 'compile');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("error: models/schema.yml:4: {{ doc('pkg', 'orders') }}: doc() takes one quoted docs block name here\n" +
      "error: models/schema.yml:7: doc('order_idd'): no docs block named 'order_idd' in a .md file under the model paths (did you mean order_id?)\n");
  });

  it('a docs block without its end, or a name given twice, is an error at its line', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/orders.sql': 'select 1 as id',
      'models/a.md': '{% docs orders %}first{% enddocs %}',
      'models/b.md': 'text\n{% docs orders %}second{% enddocs %}\n{% docs open %}\nno end',
    });
    const result = await smelterInProcess(dir, 'compile');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "error: models/b.md:3: {% docs open %} has no {% enddocs %}\n" +
        "error: models/b.md:2: docs block 'orders' is defined twice (also in models/a.md:1)\n",
    );
  });
});

describe('{% do %}', () => {
  it('evaluates an expression for its effect, in a model and in a macro, and outputs nothing', () => {
    const files = {
      'models/a.sql': 'select 1 as id, 2 as amount',
      'macros/cols.sql':
        "{% macro upper_cols(names) %}{% set out = [] %}{% for n in names %}{% do out.append(n | upper) %}{% endfor %}{{ out | join(', ') }}{% endmacro %}",
      'models/b.sql':
        "{% set seen = {} %}{% do seen.update({'n': 2}) %}select {{ upper_cols(['id', 'amount']) }}, {{ seen.n }} as n from {{ ref('a') }}",
    };
    expect(rendered(files, 'b')).toEqual({ sql: 'select ID, AMOUNT, 2 as n from "main"."a"', fastPath: false });
  });

  it('without an expression it is a syntax error at its line', async () => {
    const dir = writeTempProject({ 'project.yml': PROJECT, 'models/a.sql': 'select 1 as id\n{% do %}\n' });
    const result = await smelterInProcess(dir, 'compile');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: models/a.sql:2:7: template syntax error: unexpected token: %}\n');
  });
});

describe('return()', () => {
  it("hands a macro's caller a value — a string, a list, from a macro calling another — instead of its text", () => {
    const files = {
      'models/a.sql': 'select 1 as id, 250 as amount',
      'macros/money.sql':
        "{% macro cents_to_dollars(col) %}{{ return('(' ~ col ~ ' / 100)::decimal(16, 2)') }}{% endmacro %}\n" +
        "{% macro amount_columns() %}{% set out = ['amount'] %}{{ return(out) }}{% endmacro %}\n" +
        "{% macro column_count() %}{% set cols = amount_columns() %}{{ return(cols | length) }}{% endmacro %}\n",
      'models/b.sql':
        "select {% for c in amount_columns() %}{{ cents_to_dollars(c) }} as {{ c }}_dollars{% endfor %}, {{ column_count() + 1 }} as n from {{ ref('a') }}",
    };
    expect(rendered(files, 'b')).toEqual({ sql: 'select (amount / 100)::decimal(16, 2) as amount_dollars, 2 as n from "main"."a"', fastPath: false });
  });

  it('outside a macro it is an error naming the file', async () => {
    const dir = writeTempProject({ 'project.yml': PROJECT, 'models/a.sql': "select 1 as id {{ return('x') }}\n" });
    const result = await smelterInProcess(dir, 'compile');
    expect(result).toEqual({
      code: 2,
      stdout: 'Compiled 0 models to target/compiled/; 1 failed\n',
      stderr: "error: models/a.sql:1:1: return() is only meaningful inside a macro: it hands the macro's caller a value\n",
    });
  });
});
