/**
 * dbt's properties, data tests and seeds as real projects write them (tests/fixtures/dbt-yaml with
 * the package tests/fixtures/dbt-pkg-yamltests): a package's generic tests by namespace, dbt 1.10's
 * `arguments:`, config beside the arguments or under `config:`, `ref()` arguments as relations and
 * dependencies, fail_calc and warn_if/error_if judged as dbt does, and stored failures.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { smelterInProcess as smelter } from '../helpers/cli-in-process.js';
import { queryDuckDB } from '../helpers/duckdb.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

async function yamlProject(): Promise<string> {
  const base = mkdtempSync(join(tmpdir(), 'smelter-dbt-yaml-'));
  cpSync(join(FIXTURES, 'dbt-yaml'), join(base, 'dbt-yaml'), { recursive: true });
  cpSync(join(FIXTURES, 'dbt-pkg-yamltests'), join(base, 'dbt-pkg-yamltests'), { recursive: true });
  const dir = join(base, 'dbt-yaml');
  const deps = await smelter(dir, 'deps');
  expect(deps.code, deps.stderr).toBe(0);
  return dir;
}

const lines = (text: string) => text.replace(/\n$/, '').split('\n').map((l) => l.replace(/\d+\.\d\ds\b/g, 'Ns'));

describe('dbt data tests as real projects declare them', () => {
  it("runs a package's generic tests with dbt's names, arguments, configs and verdicts", async () => {
    const dir = await yamlProject();
    expect((await smelter(dir, 'seed')).code).toBe(0);
    expect((await smelter(dir, 'run')).code).toBe(0);
    const result = await smelter(dir, 'test');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    expect(lines(result.stdout)).toEqual([
      'Running 5 tests with 1 thread',
      // minimum: 18 beside the arguments' place: Bo is 17.
      '1 of 5 FAIL 1 yamltests_at_least_people_age__18 ............ [FAIL 1 in Ns]',
      // where (config beside the arguments) leaves Bo out.
      '2 of 5 PASS yamltests_at_least_people_age__20 .............. [PASS in Ns]',
      // arguments: and config: (fail_calc sum(age) of Ann 30 and Bo 17; warn_if > 10, error_if > 100).
      '3 of 5 WARN 47 yamltests_at_least_people_age__40 ........... [WARN 47 in Ns]',
      // The package test's own config(fail_calc = 'sum(diff)'): equal counts pass.
      '4 of 5 PASS yamltests_same_rowcount_people_ref_people_copy_  [PASS in Ns]',
      // compare_model: ref('people') is the seed's relation: 2 adults against 3 people.
      '5 of 5 WARN 1 yamltests_same_rowcount_adults_ref_people_ ... [WARN 1 in Ns]',
      'Finished 5 tests in Ns: 2 PASS, 2 WARN, 1 FAIL, 0 ERROR, 0 SKIP',
      '  yamltests_at_least_people_age__18: Got 1 result, configured to fail if != 0',
      '  warning: yamltests_at_least_people_age__40: Got 47 results, configured to warn if > 10',
      '  warning: yamltests_same_rowcount_adults_ref_people_: Got 1 result, configured to warn if > 0',
    ]);
    // store_failures: the failing rows, in <target schema>_dbt_test__audit under the test's name.
    expect(await queryDuckDB(join(dir, 'target', 'yaml.duckdb'), 'select age::int as age from analytics_dbt_test__audit.yamltests_at_least_people_age__40 order by age')).toEqual([{ age: 17 }, { age: 30 }]);
  });

  it('a test with a ref() argument waits for that node: build skips it when the node is skipped', async () => {
    const dir = await yamlProject();
    const result = await smelter(dir, 'build');
    expect(result.code).toBe(1);
    expect(lines(result.stdout).filter((l) => /SKIP|FAIL/.test(l))).toEqual([
      '3 of 8 FAIL 1 yamltests_at_least_people_age__18 ............ [FAIL 1 in Ns]',
      '4 of 8 SKIP view analytics.adults .......................... [SKIP]',
      '5 of 8 SKIP yamltests_same_rowcount_adults_ref_people_ ..... [SKIP]',
      'Finished 8 nodes in Ns: 2 OK, 2 PASS, 1 WARN, 1 FAIL, 0 ERROR, 2 SKIP',
    ]);
  });

  it('tests an ephemeral model as dbt does: its SQL is a CTE of the test query, for built-in and package tests and ref() arguments', async () => {
    const dir = await yamlProject();
    writeFileSync(join(dir, 'models', 'minors.sql'), "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('people') }} where age < 18\n");
    writeFileSync(join(dir, 'models', 'kids.sql'), "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('minors') }}\n");
    writeFileSync(
      join(dir, 'models', 'minors.yml'),
      [
        'models:',
        '  - name: minors',
        '    columns:',
        '      - name: name',
        '        data_tests: [not_null, {accepted_values: {values: [Bo]}}]',
        '      - name: age',
        '        data_tests:',
        '          - yamltests.at_least: {minimum: 18}',
        '  - name: kids',
        '    data_tests:',
        "      - yamltests.same_rowcount: {compare_model: ref('minors')}",
        '',
      ].join('\n'),
    );
    expect((await smelter(dir, 'seed')).code).toBe(0);
    const result = await smelter(dir, 'test', '--select', 'minors', 'kids');
    expect(result.stderr).toBe('');
    expect(lines(result.stdout)).toEqual([
      'Running 4 tests with 1 thread',
      '1 of 4 PASS not_null_minors_name ........................... [PASS in Ns]',
      '2 of 4 PASS accepted_values_minors_name__Bo ................ [PASS in Ns]',
      '3 of 4 FAIL 1 yamltests_at_least_minors_age__18 ............ [FAIL 1 in Ns]',
      // kids reads minors: both are CTEs of the query, minors first.
      '4 of 4 PASS yamltests_same_rowcount_kids_ref_minors_ ....... [PASS in Ns]',
      'Finished 4 tests in Ns: 3 PASS, 0 WARN, 1 FAIL, 0 ERROR, 0 SKIP',
      '  yamltests_at_least_minors_age__18: Got 1 result, configured to fail if != 0',
    ]);
  });
});
