import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { smelter } from '../helpers/cli.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * `smelter docs generate`: catalog.json in dbt's shape from the target's database (tables, views,
 * seeds, external sources; row counts where cheap) and manifest.json with each model's compiled SQL
 * of the non-incremental render. The database is only read; a target never built gives an empty catalog.
 */
function project(): string {
  return writeTempProject({
    'project.yml': 'name: shop\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n',
    'seeds/customers.csv': 'id,name\n1,Ann\n2,Bo\n',
    'data/orders.csv': 'id,amount\n1,5\n2,7\n3,1\n',
    'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    external_location: data/orders.csv\n    tables:\n      - name: orders\n',
    'models/schema.yml': 'version: 2\nmodels:\n  - name: big_orders\n    description: Orders over 2\n    columns:\n      - { name: amount, description: In dollars }\n',
    'models/big_orders.sql': "{{ config(materialized='table') }}\nselect id, amount from {{ source('raw', 'orders') }} where amount > 2",
    'models/named.sql': "select o.id, c.name from {{ ref('big_orders') }} o join {{ ref('customers') }} c using (id)",
    'models/growing.sql':
      "{{ config(materialized='incremental', unique_key='id') }}\nselect id from {{ ref('big_orders') }}\n{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}",
  });
}

describe('smelter docs generate', () => {
  it('writes catalog.json from the built database and manifest.json with the compiled SQL', async () => {
    const dir = project();
    expect((await smelter(['build'], { projectDir: dir })).code).toBe(0);
    const r = await smelter(['docs', 'generate'], { projectDir: dir });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('Wrote target/manifest.json, target/catalog.json (5 relations) and the docs site target/index.html\n');
    const catalog = JSON.parse(readFileSync(join(dir, 'target', 'catalog.json'), 'utf8'));
    expect(catalog.metadata.dbt_schema_version).toBe('https://schemas.getdbt.com/dbt/catalog/v1.json');
    expect(catalog.nodes['model.shop.big_orders']).toEqual({
      unique_id: 'model.shop.big_orders',
      metadata: { type: 'BASE TABLE', schema: 'main', name: 'big_orders', database: 'dev', comment: 'Orders over 2', owner: null },
      columns: {
        id: { type: 'BIGINT', index: 1, name: 'id', comment: null },
        amount: { type: 'BIGINT', index: 2, name: 'amount', comment: 'In dollars' },
      },
      stats: {
        row_count: { id: 'row_count', label: 'Row Count', value: 2, include: true, description: "Rows in the relation (a stateful model's committed total, or DuckDB's estimate)" },
        has_stats: { id: 'has_stats', label: 'Has Stats?', value: true, include: false, description: 'Indicates whether there are statistics for this table' },
      },
    });
    expect(catalog.nodes['model.shop.named'].metadata.type).toBe('VIEW');
    expect(catalog.nodes['model.shop.named'].stats.row_count).toBeUndefined();
    expect(catalog.nodes['seed.shop.customers'].columns).toEqual({
      id: { type: 'BIGINT', index: 1, name: 'id', comment: null },
      name: { type: 'VARCHAR', index: 2, name: 'name', comment: null },
    });
    // The incremental model's row count is its committed total.
    expect(catalog.nodes['model.shop.growing'].stats.row_count.value).toBe(2);
    // An external source is described from its files.
    expect(catalog.sources['source.shop.raw.orders'].metadata.type).toBe('EXTERNAL');
    expect(Object.keys(catalog.sources['source.shop.raw.orders'].columns)).toEqual(['id', 'amount']);
    expect(catalog.errors).toBeNull();

    const manifest = JSON.parse(readFileSync(join(dir, 'target', 'manifest.json'), 'utf8'));
    // The non-incremental render: the is_incremental() branch is left out even though the model has state.
    expect(manifest.nodes['model.shop.growing'].compiled_code).toBe('\nselect id from "main"."big_orders"\n');
    expect(manifest.nodes['model.shop.named'].compiled_code).toBe('select o.id, c.name from "main"."big_orders" o join "main"."customers" c using (id)');
    // Column lineage: values only (the join key is not lineage of name), through to the source.
    expect(manifest.nodes['model.shop.named'].column_lineage).toEqual({
      id: [{ node: 'model.shop.big_orders', column: 'id' }],
      name: [{ node: 'seed.shop.customers', column: 'name' }],
    });
    expect(manifest.nodes['model.shop.big_orders'].column_lineage).toEqual({
      id: [{ node: 'source.shop.raw.orders', column: 'id' }],
      amount: [{ node: 'source.shop.raw.orders', column: 'amount' }],
    });
  });

  it('warns about a model that reads another model by name, without ref(): the relation and the ref() to write', async () => {
    const dir = project();
    expect((await smelter(['build'], { projectDir: dir })).code).toBe(0);
    // Not in the graph, so a build may run it before big_orders exists: what the warning is for.
    writeFileSync(join(dir, 'models', 'sneaky.sql'), 'select count(*) as n, max(amount) as top from main.big_orders');
    const r = await smelter(['docs', 'generate'], { projectDir: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "warning: models/sneaky.sql: sneaky reads main.big_orders without ref() or source(), so it is not in the graph: write {{ ref('big_orders') }}\n",
    );
    // The lineage still follows the read.
    const manifest = JSON.parse(readFileSync(join(dir, 'target', 'manifest.json'), 'utf8'));
    expect(manifest.nodes['model.shop.sneaky'].column_lineage).toEqual({ n: [], top: [{ node: 'model.shop.big_orders', column: 'amount' }] });
    // compile and run warn the same way; a model whose SQL only mentions the name in a CTE does not.
    writeFileSync(join(dir, 'models', 'shadow.sql'), 'with big_orders as (select 1 as id) select id from big_orders');
    const compiled = await smelter(['compile'], { projectDir: dir });
    expect(compiled.stderr).toBe(
      "warning: models/sneaky.sql: sneaky reads main.big_orders without ref() or source(), so it is not in the graph: write {{ ref('big_orders') }}\n",
    );
    const run = await smelter(['run', '--select', 'sneaky'], { projectDir: dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("warning: models/sneaky.sql: sneaky reads main.big_orders without ref() or source(), so it is not in the graph: write {{ ref('big_orders') }}\n");
  });

  it('describes an external model from its committed files, and gives the site its state and last run', async () => {
    const dir = writeTempProject({
      'project.yml': 'name: ext\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n',
      'models/facts.sql': "{{ config(materialized='table', external=true, schema='gold') }}\nselect i as id, 'm' || i as name from range(4) t(i)\n",
    });
    expect((await smelter(['run'], { projectDir: dir })).code).toBe(0);
    expect((await smelter(['docs', 'generate'], { projectDir: dir })).code).toBe(0);
    // EXTERNAL: described from the committed file set (its state record's manifest), not the view.
    const catalog = JSON.parse(readFileSync(join(dir, 'target', 'catalog.json'), 'utf8'));
    expect(catalog.nodes['model.ext.facts'].metadata).toMatchObject({ type: 'EXTERNAL', schema: 'gold', name: 'facts' });
    expect(catalog.nodes['model.ext.facts'].columns).toEqual({
      id: { type: 'BIGINT', index: 1, name: 'id', comment: null },
      name: { type: 'VARCHAR', index: 2, name: 'name', comment: null },
    });
    expect(catalog.nodes['model.ext.facts'].stats.row_count.value).toBe(4);
    // The site's data: the committed state and the last run's result.
    const html = readFileSync(join(dir, 'target', 'index.html'), 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="smelter-docs-data">(.*?)<\/script>/s.exec(html)![1]);
    expect(data.state['model.ext.facts']).toMatchObject({ rows: 4, version: 1, watermark: null });
    expect(data.runResults.results.map((r: { unique_id: string; status: string }) => [r.unique_id, r.status])).toEqual([['model.ext.facts', 'success']]);
  });

  it('before the first build: an empty catalog, and no database file is created', async () => {
    const dir = project();
    const r = await smelter(['docs', 'generate'], { projectDir: dir });
    expect(r).toEqual({ code: 0, stdout: 'Wrote target/manifest.json, target/catalog.json (0 relations) and the docs site target/index.html\n', stderr: '' });
    expect(existsSync(join(dir, 'target', 'dev.duckdb'))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'target', 'catalog.json'), 'utf8'))).toMatchObject({ nodes: {}, sources: {}, errors: null });
  });

  it('docs serve serves the generated site and its artifacts on 127.0.0.1 until Ctrl-C', async () => {
    const dir = project();
    expect(await smelter(['docs', 'serve'], { projectDir: dir })).toMatchObject({ code: 2, stderr: 'error: target/index.html does not exist yet (run smelter docs generate first)\n' });
    expect((await smelter(['docs', 'generate'], { projectDir: dir })).code).toBe(0);
    const server = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'smelter.js'), 'docs', 'serve', '--port', '0', '--project-dir', dir], { cwd: dir });
    const exited = new Promise<number | null>((done) => server.on('exit', (code) => done(code)));
    const url = await new Promise<string>((done) => {
      let out = '';
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) done(m[1]);
      });
    });
    const page = await fetch(url);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="application/json" id="smelter-docs-data">');
    expect((await (await fetch(`${url}catalog.json`)).json()).metadata.dbt_schema_version).toBe('https://schemas.getdbt.com/dbt/catalog/v1.json');
    expect((await fetch(`${url}../project.yml`)).status).toBe(404);
    server.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('docs needs generate or serve', async () => {
    expect(await smelter(['docs'], { projectDir: project() })).toMatchObject({ code: 2, stderr: 'error: docs needs generate or serve (smelter docs generate | serve [--port N])\n' });
    expect(await smelter(['docs', 'genrate'], { projectDir: project() })).toMatchObject({ code: 2, stderr: "error: unknown docs command 'genrate' (did you mean generate?)\n" });
  });
});
