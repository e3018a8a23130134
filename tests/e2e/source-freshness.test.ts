import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * `smelter source freshness`: each source table with freshness criteria, its newest
 * loaded_at_field against now (warn_after, error_after, filter); target/sources.json as dbt's.
 */
const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (dir: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** UTC `YYYY-MM-DD HH:MM:SS`, `minutes` ago. */
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString().slice(0, 19).replace('T', ' ');

const SOURCES = `version: 2
sources:
  - name: landing
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 1, period: hour}
      error_after: {count: 1, period: day}
    tables:
      - name: fresh
        external_location: data/fresh.csv
      - name: warned
        external_location: data/warned.csv
      - name: stale
        external_location: data/stale.csv
      - name: filtered
        external_location: data/filtered.csv
        freshness:
          error_after: {count: 1, period: day}
          filter: "kind = 'old'"
      - name: unchecked
        external_location: data/stale.csv
        freshness: null
  - name: other
    freshness:
      warn_after: {count: 2, period: minute}
    tables:
      - name: no_field
        external_location: data/fresh.csv
`;

function project(): string {
  return writeTempProject({
    'project.yml': 'name: fr\ntargets:\n  dev: { database: target/dev.duckdb }\n',
    'models/sources.yml': SOURCES,
    'data/fresh.csv': `id,loaded_at\n1,${ago(90)}\n2,${ago(10)}\n`,
    'data/warned.csv': `id,loaded_at\n1,${ago(120)}\n`,
    'data/stale.csv': `id,loaded_at\n1,${ago(3 * 24 * 60)}\n`,
    'data/filtered.csv': `id,kind,loaded_at\n1,old,${ago(2 * 24 * 60)}\n2,new,${ago(1)}\n`,
  });
}

describe('smelter source freshness', () => {
  it('pass, warn and error by age; a filter; a table without loaded_at_field is a runtime error; freshness: null is not checked', () => {
    const dir = project();
    const r = smelter(dir, 'source', 'freshness');
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    const outcome = (label: string, name: string) => new RegExp(`^\\d of 5 ${label} freshness of ${name.replace('.', '\\.')}: .* \\[${label} in \\d+\\.\\d\\ds\\]$`);
    expect(lines).toHaveLength(6);
    [
      ['ERROR', 'landing.filtered'],
      ['PASS', 'landing.fresh'],
      ['ERROR', 'landing.stale'],
      ['WARN', 'landing.warned'],
      ['ERROR', 'other.no_field'],
    ].forEach(([label, name], i) => expect(lines[i]).toMatch(outcome(label, name)));
    expect(lines[5]).toBe('Wrote target/sources.json');
    expect(lines[1]).toMatch(/^2 of 5 PASS freshness of landing\.fresh: newest \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z, (9|10)m \d+s ago \[/);
    expect(lines[4]).toContain('other.no_field has freshness criteria but no loaded_at_field');

    const artifact = JSON.parse(readFileSync(join(dir, 'target/sources.json'), 'utf8')) as { results: Array<{ unique_id: string; status: string; criteria: unknown }> };
    expect(Object.fromEntries(artifact.results.map((x) => [x.unique_id, x.status]))).toEqual({
      'source.fr.landing.filtered': 'error',
      'source.fr.landing.fresh': 'pass',
      'source.fr.landing.stale': 'error',
      'source.fr.landing.warned': 'warn',
      'source.fr.other.no_field': 'runtime error',
    });
    expect(artifact.results[0].criteria).toEqual({ error_after: { count: 1, period: 'day' }, filter: "kind = 'old'" });
    // It read the files; it created no database.
    expect(existsSync(join(dir, 'target/dev.duckdb'))).toBe(false);
  });

  it('checks only the selection; warn is exit 0', () => {
    const dir = project();
    const r = smelter(dir, 'source', 'freshness', '--select', 'source:landing.fresh', 'source:landing.warned');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => / of 2 /.test(l)).map((l) => l.split(':')[0])).toEqual(['1 of 2 PASS freshness of landing.fresh', '2 of 2 WARN freshness of landing.warned']);
  });

  it('refuses a bad bound at its line', () => {
    const dir = project();
    const bad = SOURCES.replace('warn_after: {count: 1, period: hour}', 'warn_after: {count: 1, period: week}');
    writeFileSync(join(dir, 'models/sources.yml'), bad);
    const r = smelter(dir, 'source', 'freshness');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: models/sources.yml:6:30: warn_after.period must be minute, hour or day');
  });
});
