import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';

/** `smelter init NAME`: a new project that builds as it is. */
const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('smelter init', () => {
  it('writes a project that builds: the seed, two models, their tests', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'smelter-init-'));
    const r = smelter(parent, 'init', 'shop');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Created shop/ with project.yml, models/orders.sql, models/customers.sql, models/schema.yml, seeds/raw_orders.csv, .gitignore\nNext: cd shop && smelter build\n');
    const build = smelter(join(parent, 'shop'), 'build');
    expect(build.code).toBe(0);
    expect(build.stdout).toMatch(/Finished 6 nodes in \d+\.\d\ds: 3 OK, 3 PASS, 0 WARN, 0 FAIL, 0 ERROR, 0 SKIP/);
    expect(await queryDuckDB(join(parent, 'shop/target/shop.duckdb'), 'select customer, orders::int as orders, revenue::double as revenue from main.customers order by customer')).toEqual([
      { customer: 'ada', orders: 2, revenue: 19.75 },
      { customer: 'grace', orders: 1, revenue: 30 },
    ]);
  });

  it('refuses a folder that has files, and a name that is not an identifier', () => {
    const parent = mkdtempSync(join(tmpdir(), 'smelter-init-'));
    expect(smelter(parent, 'init', 'shop').code).toBe(0);
    writeFileSync(join(parent, 'shop/models/mine.sql'), 'select 1');
    expect(smelter(parent, 'init', 'shop')).toMatchObject({ code: 2, stderr: 'error: shop/ exists and is not empty: init writes a new project only into an empty or new folder\n' });
    expect(smelter(parent, 'init', '9lives').stderr).toBe("error: init needs a project name of letters, digits and _ (not starting with a digit), got '9lives'\n");
  });
});
