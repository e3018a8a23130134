import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageLambda } from '../../scripts/package-lambda.js';
import { extractZip, zipEntries } from '../../scripts/zip-folder.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * `npm run package:lambda`: the zip is under Lambda's 50 MB, holds the handler bundle, DuckDB's
 * native binding and the project; unpacked into a fresh folder outside this repository and run by
 * a fresh `node` with a clean environment (as Lambda runs it), `index.handler` builds a project.
 */
const ROOT = join(import.meta.dirname, '../..');

describe('the Lambda package', () => {
  it('is a zip under 50 MB whose index.handler runs in a clean environment', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'smelter-lambda-')), 'lambda.zip');
    const { bytes } = await packageLambda({ projectDir: ROOT, out });
    expect(bytes).toBeLessThan(50 * 1024 * 1024);
    expect(statSync(out).size).toBe(bytes);
    const entries = zipEntries(out);
    for (const required of ['index.js', 'package.json', 'project.yml', 'models/gold/fact_ptr_transactions.sql', 'node_modules/@duckdb/node-bindings-linux-x64/duckdb.node']) {
      expect(entries).toContain(required);
    }

    // Unpacked where no node_modules of this repository can be reached.
    const fn = mkdtempSync(join(tmpdir(), 'smelter-fn-'));
    extractZip(out, fn);
    const project = writeTempProject({
      'project.yml': 'name: lam\ntargets:\n  aws: { database: target/aws.duckdb, storage: target/lake, threads: 1 }\n',
      'models/sources.yml': "version: 2\nsources:\n  - name: landing\n    external_location: data/orders.csv\n    tables:\n      - name: orders\n",
      'models/fact.sql':
        "{{ config(materialized='incremental', external=true, watermark='id', incremental_strategy='append') }}\nselect id, amount from {{ source('landing', 'orders') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n",
      'data/orders.csv': 'id,amount\n1,5\n2,20\n',
    });
    const invoke = spawnSync(
      process.execPath,
      ['-e', "require('./index.js').handler({ select: ['fact'] }).then((r) => console.log(JSON.stringify(r)), (e) => { console.log(JSON.stringify({ name: e.name, message: e.message })); process.exitCode = 1; })"],
      { cwd: fn, env: { PATH: '/usr/bin:/bin', SMELTER_PROJECT_DIR: project }, encoding: 'utf8' },
    );
    expect(invoke.stderr).toBe('');
    expect(JSON.parse(invoke.stdout)).toMatchObject({
      status: 'success',
      results: [{ unique_id: 'model.lam.fact', status: 'success', rows: 2 }],
      watermarks: { 'main.fact': '2' },
    });
  }, 120_000);
});
