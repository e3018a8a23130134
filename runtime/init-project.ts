import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './errors.js';

/** The files a new project starts with, by path. */
function starterFiles(name: string): Record<string, string> {
  return {
    'project.yml': [
      `name: ${name}`,
      '',
      '# Typed vars: --vars is checked against them before anything renders.',
      'vars:',
      '  min_amount: { type: number, default: 0 }',
      '',
      'target: dev',
      'targets:',
      '  dev:',
      `    database: target/${name}.duckdb`,
      '    threads: 2',
      '',
    ].join('\n'),
    'models/orders.sql': [
      "{{ config(materialized='table') }}",
      'select order_id, customer, amount',
      "from {{ ref('raw_orders') }}",
      "where amount >= {{ var('min_amount') }}",
      '',
    ].join('\n'),
    'models/customers.sql': [
      'select customer, count(*) as orders, sum(amount) as revenue',
      "from {{ ref('orders') }}",
      'group by customer',
      '',
    ].join('\n'),
    'models/schema.yml': [
      'version: 2',
      'models:',
      '  - name: orders',
      '    description: One row per order.',
      '    columns:',
      '      - name: order_id',
      '        data_tests: [unique, not_null]',
      '  - name: customers',
      '    columns:',
      '      - name: customer',
      '        data_tests: [unique]',
      '',
    ].join('\n'),
    'seeds/raw_orders.csv': ['order_id,customer,amount', '1,ada,12.50', '2,grace,30.00', '3,ada,7.25', ''].join('\n'),
    'macros/.gitkeep': '',
    '.gitignore': ['target/', 'dbt_packages/', ''].join('\n'),
  };
}

/**
 * `smelter init NAME` (dbt's `init`, without its questions): a new project in the folder NAME,
 * a seed, two models and their tests, that `smelter build` builds as it is. Refuses a name that is
 * not an identifier and a folder that exists with anything in it.
 */
export function initProject(name: string, parentDir: string): { readonly dir: string; readonly files: readonly string[] } {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`init needs a project name of letters, digits and _ (not starting with a digit), got '${name}'`);
  const dir = resolve(parentDir, name);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`${name}/ exists and is not empty: init writes a new project only into an empty or new folder`);
  const files = starterFiles(name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return { dir, files: Object.keys(files) };
}
