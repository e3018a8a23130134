/**
 * The database bridge of a render (runtime/execute/database-access.ts): dbt's run_query, statement,
 * load_result and adapter methods answered by real DuckDB on a synchronous template engine, by
 * rendering again until every query a render asks is answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDB } from '../../runtime/engine/duckdb-engine.js';
import type { Engine, EngineConnection } from '../../runtime/engine/engine.js';
import { DatabaseAccess, databaseOn, MAX_RENDER_PASSES } from '../../runtime/execute/database-access.js';
import { ExecutionError } from '../../runtime/errors.js';
import type { TargetConfig } from '../../runtime/project/project-config.js';
import { buildRenderScope } from '../../runtime/render/context.js';
import type { DatabaseAnswers } from '../../runtime/render/query-table.js';
import { setLogSink } from '../../runtime/template/jinja-compat.js';
import { TemplateEngine } from '../../runtime/template/template-engine.js';
import { TemplateLocatedError } from '../../runtime/template/strict-compiler.js';

const target: TargetConfig = {
  name: 'dev',
  database: ':memory:',
  databasePath: ':memory:',
  threads: 1,
  settings: {},
  state: { backend: 'local' } as TargetConfig['state'],
  vars: {},
  schema: 'analytics',
  profileName: 'shop',
};

const macros = [
  {
    path: 'macros/helpers.sql',
    text: [
      '{% macro first_value(sql) %}',
      "{%- call statement('first', fetch_result=True) -%}{{ sql }}{%- endcall -%}",
      "{%- if execute -%}{{ return(load_result('first').table.columns[0].values()[0]) }}{%- else -%}{{ return('no database') }}{%- endif -%}",
      '{% endmacro %}',
    ].join('\n'),
  },
];

let engine: Engine;
let connection: EngineConnection;
const templates = new TemplateEngine(macros);

beforeAll(async () => {
  engine = await openDuckDB(':memory:');
  connection = await engine.connect();
  await connection.run('create table main.orders (id integer, status varchar, amount decimal(10,2))');
  await connection.run("insert into main.orders values (1, 'paid', 10.5), (2, 'open', 3), (3, 'paid', 7)");
  await connection.run('create view main.paid as select * from main.orders where status = \'paid\'');
});
afterAll(() => {
  connection.close();
  engine.close();
});

function scope(database?: DatabaseAnswers) {
  return buildRenderScope({
    resolver: {
      ref: (name) => `"main"."${name}"`,
      source: () => '"raw"."x"',
      config: () => undefined,
      isIncremental: () => false,
      watermark: () => 'NULL',
    },
    varValues: {},
    env: {},
    target,
    runStartedAt: new Date('2026-01-01T00:00:00Z'),
    invocationId: 'test',
    database,
  });
}

/** Render `text` as models/m.sql with the bridge on the test database. */
async function renderAnswered(text: string, access: DatabaseAccess = databaseOn(connection)): Promise<string> {
  return access.render('m', () => templates.render('models/m.sql', text, scope(access)));
}

describe('run_query and its agate-like table', () => {
  it('gives rows by position and name, columns by position and name, column names and a length', async () => {
    const sql = [
      "{% set t = run_query('select id, status from main.orders order by id') %}",
      '{{ t | length }} rows; {{ t.column_names | join(",") }};',
      '{% for row in t %} {{ row[0] }}={{ row["status"] }}/{{ row.status }}{% endfor %};',
      " ids {{ t.columns[0].values() | join('+') }}; statuses {{ t.columns['status'].values() | join('+') }};",
      ' first {{ t.rows[0][1] }}{{ t.print_table() }};',
      "{% for name, column in t.columns.items() %} {{ name }}={{ column.values() | join('+') }}{% endfor %}",
    ].join('');
    expect(await renderAnswered(sql)).toBe('3 rows; id,status; 1=paid/paid 2=open/open 3=paid/paid; ids 1+2+3; statuses paid+open+paid; first paid; id=1+2+3 status=paid+open+paid');
  });

  it('gives numbers for integer and decimal columns', async () => {
    expect(await renderAnswered("{% set t = run_query('select sum(id) as n, sum(amount) as total from main.orders') %}{{ t.rows[0][0] + 1 }} {{ t.rows[0][1] * 2 }}")).toBe('7 41');
  });
});

describe('statement and load_result', () => {
  it('hands a fetched result as .table, ["data"] and .response', async () => {
    const sql = [
      "{% call statement('paid', fetch_result=True) %}select id from main.orders where status = 'paid' order by id{% endcall %}",
      "{% set r = load_result('paid') %}",
      "{{ r.table.columns[0].values() | join(',') }} {{ r['data'] | length }} {{ r['data'][1][0] }} {{ r.response.rows_affected }}",
    ].join('');
    expect(await renderAnswered(sql)).toBe('1,3 2 3 0');
  });

  it('answers a macro that returns a queried value', async () => {
    expect(await renderAnswered("select {{ first_value('select max(id) from main.orders') }} as top")).toBe('select 3 as top');
  });

  it('runs each distinct query once per node, a statement with a side effect included, however many passes the render takes', async () => {
    await connection.run('create table main.audit_log (note varchar)');
    const access = databaseOn(connection);
    const sql = [
      "{% call statement('log') %}insert into main.audit_log values ('rendered'){% endcall %}",
      "{% set n = run_query('select count(*) from main.audit_log').rows[0][0] %}",
      "{% set again = run_query('select count(*) from main.audit_log').rows[0][0] %}",
      "{% set m = run_query('select max(id) from main.orders').rows[0][0] %}",
      'select {{ n }}, {{ again }}, {{ m }}',
    ].join('');
    expect(await renderAnswered(sql, access)).toBe('select 1, 1, 3');
    expect(access.executed).toEqual(["insert into main.audit_log values ('rendered')", 'select count(*) from main.audit_log', 'select max(id) from main.orders']);
    expect(await connection.query('select count(*)::int as n from main.audit_log')).toEqual([{ n: 1 }]);
  });

  it('prints what a render logs once, from the render that finished, though it took three passes', async () => {
    const lines: string[] = [];
    const previous = setLogSink((line) => lines.push(line));
    try {
      const sql = "{{ log('start') }}{% set a = run_query('select 1').rows[0][0] %}{{ log('a=' ~ a) }}{% set b = run_query('select 2').rows[0][0] %}{% do exceptions.warn('b=' ~ b) %}select {{ a + b }}";
      expect(await renderAnswered(sql)).toBe('select 3');
    } finally {
      setLogSink(previous);
    }
    expect(lines).toEqual(['start', 'a=1', 'warning: b=2']);
  });

  it('prints what a failed render logged before its error', async () => {
    const lines: string[] = [];
    const previous = setLogSink((line) => lines.push(line));
    try {
      const error = await renderAnswered("{{ log('before') }}{% set a = run_query('select 1').rows[0][0] %}{{ exceptions.raise_compiler_error('stop at ' ~ a) }}").catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/stop at 1/);
    } finally {
      setLogSink(previous);
    }
    expect(lines).toEqual(['before']);
  });

  it('renders once, with no query, when the template asks nothing', async () => {
    const access = databaseOn(connection);
    let passes = 0;
    await access.render('m', () => {
      passes++;
      return templates.render('models/m.sql', 'select {{ execute }}', scope(access));
    });
    expect(passes).toBe(1);
    expect(access.executed).toEqual([]);
  });
});

describe('without a database (parse, unit tests)', () => {
  it('execute is false, run_query and load_result give None and a statement runs nothing', () => {
    const sql = [
      "{{ execute }} {{ run_query('select 1') is none }} ",
      "{% call statement('s', fetch_result=True) %}drop table main.orders{% endcall %}{{ load_result('s') is none }} ",
      "{{ first_value('select 1') }} {{ adapter.get_relation(database=target.database, schema='main', identifier='orders') is none }} ",
      "{{ adapter.get_columns_in_relation(ref('orders')) | length }}",
    ].join('');
    expect(templates.render('models/m.sql', sql, scope())).toBe('False True True no database True 0');
  });
});

describe('relations and columns', () => {
  it('finds a relation with its kind, is None for one that is absent, and loads one', async () => {
    const sql = [
      "{% set t = adapter.get_relation(database=target.database, schema='main', identifier='ORDERS') %}",
      "{% set v = adapter.get_relation(target.database, 'main', 'paid') %}",
      "{{ t }} {{ t.identifier }} {{ t.type }} {{ t.is_table }} {{ v.is_view }} {{ v.name }} ",
      "{{ adapter.get_relation(database=target.database, schema='main', identifier='nope') is none }} ",
      "{{ load_relation(ref('orders')).type }} {{ load_relation(ref('nope')) is none }}",
    ].join('');
    expect(await renderAnswered(sql)).toBe('"main"."orders" orders table True True paid True table True');
  });

  it('lists columns with their types, quoted names and type tests', async () => {
    const sql = [
      "{% for c in adapter.get_columns_in_relation(ref('orders')) %}",
      '{{ c.name }}:{{ c.data_type }}:{{ c.quoted }}:{{ c.is_string() }}{{ c.is_number() }}{{ c.is_integer() }}{{ c.is_numeric() }}{{ c.is_float() }} ',
      '{% endfor %}',
    ].join('');
    expect(await renderAnswered(sql)).toBe(
      'id:INTEGER:"id":FalseTrueTrueFalseFalse status:VARCHAR:"status":TrueFalseFalseFalseFalse amount:DECIMAL(10,2):"amount":FalseTrueFalseTrueFalse ',
    );
  });

  it('lists the relations of a schema', async () => {
    expect(await renderAnswered("{% for r in adapter.list_relations_without_caching(api.Relation.create(schema='main')) %}{{ r.identifier }}:{{ r.type }} {% endfor %}")).toBe(
      'audit_log:table orders:table paid:view ',
    );
  });

  it('creates relations with api.Relation, renders them as smelter always has, and changes their parts', () => {
    const sql = [
      "{% set r = api.Relation.create(database='warehouse', schema='main', identifier='orders', type='table') %}",
      "{{ r }} | {{ r.include(database=true) }} | {{ r.include(schema=false) }} | {{ r.incorporate(path={'identifier': 'o2'}) }} | ",
      "{{ r.without_identifier() }} | {{ r.render() }} | {{ r.database }}.{{ r.schema }}.{{ r.table }} | {{ r.is_cte }} | ",
      "{{ r.get('metadata', {}).get('type', '').endswith('Relation') }} | {{ r is mapping }} | {{ ref('orders').schema }}",
    ].join('');
    expect(templates.render('models/m.sql', sql, scope())).toBe(
      '"main"."orders" | "warehouse"."main"."orders" | "orders" | "main"."o2" | "main" | "main"."orders" | warehouse.main.orders | False | True | True | main',
    );
  });

  it('gives quoting, the adapter type, the ephemeral prefix and the target of a DuckDB profile', () => {
    const sql = [
      "{{ adapter.quote('Order Id') }} {{ adapter.type() }} {{ api.Relation.add_ephemeral_prefix('m') }} ",
      '{{ target.type }} {{ target.database }} {{ target.schema }} {{ target.path }} {{ target.profile_name }} {{ flags.WHICH }}',
    ].join('');
    expect(templates.render('models/m.sql', sql, scope())).toBe('"Order Id" duckdb __smelter_cte__m duckdb memory analytics :memory: shop parse');
  });
});

describe('failures', () => {
  it('a refused query is an error at the template call, with DuckDB\'s message', async () => {
    const text = "select 1\n{% set t = run_query('select * from main.no_such_table') %}";
    const error = await renderAnswered(text).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemplateLocatedError);
    const e = error as TemplateLocatedError;
    expect([e.templateFile, e.line]).toEqual(['models/m.sql', 2]);
    expect(e.message).toMatch(/^the query failed: Catalog Error: Table with name no_such_table does not exist!/);
  });

  it('a render whose queries never settle is one error', async () => {
    const text = `{% for i in range(${MAX_RENDER_PASSES + 10}) %}{% do run_query('select ' ~ i) %}{% endfor %}`;
    const error = await renderAnswered(text).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecutionError);
    expect((error as Error).message).toBe(`m asked the database a new query in each of ${MAX_RENDER_PASSES} renders; its queries never settle`);
  });
});
