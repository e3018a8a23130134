import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTempProject } from '../helpers/temp-project.js';

/** `smelter parse` (the manifest, no database) and `smelter clean` (clean-targets, never outside the project). */
const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (dir: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

const PROFILES = 'pc:\n  target: dev\n  outputs:\n    dev: { type: duckdb, path: target/dev.duckdb, schema: main }\n';

describe('smelter parse', () => {
  it('writes target/manifest.json with every node and opens no database; a broken model is exit 2 with its file and line', () => {
    const dir = writeTempProject({
      'project.yml': 'name: pc\ntargets:\n  dev: { database: target/dev.duckdb }\n',
      'models/a.sql': 'select 1 as id',
      'models/b.sql': "select * from {{ ref('a') }}",
    });
    const r = smelter(dir, 'parse');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'Parsed 2 nodes; wrote target/manifest.json\n' });
    const manifest = JSON.parse(readFileSync(join(dir, 'target/manifest.json'), 'utf8')) as { nodes: Record<string, { depends_on: { nodes: string[] } }> };
    expect(Object.keys(manifest.nodes).sort()).toEqual(['model.pc.a', 'model.pc.b']);
    expect(manifest.nodes['model.pc.b'].depends_on.nodes).toEqual(['model.pc.a']);
    expect(existsSync(join(dir, 'target/dev.duckdb'))).toBe(false);

    writeFileSync(join(dir, 'models/b.sql'), "select * from {{ ref('a') }\n");
    const broken = smelter(dir, 'parse');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^error: models\/b\.sql:1:\d+: /m);
  });
});

describe('smelter clean', () => {
  it("deletes the target path of a project.yml project, and says so when there is nothing", () => {
    const dir = writeTempProject({ 'project.yml': 'name: pc\ntargets:\n  dev: { database: target/dev.duckdb }\n', 'models/a.sql': 'select 1 as id' });
    expect(smelter(dir, 'run').code).toBe(0);
    expect(existsSync(join(dir, 'target/dev.duckdb'))).toBe(true);
    expect(smelter(dir, 'clean')).toMatchObject({ code: 0, stdout: 'Cleaned target/\n' });
    expect(existsSync(join(dir, 'target'))).toBe(false);
    expect(existsSync(join(dir, 'models/a.sql'))).toBe(true);
    expect(smelter(dir, 'clean')).toMatchObject({ code: 0, stdout: 'target/ does not exist: nothing to clean\n' });
  });

  it("deletes a dbt project's clean-targets, and refuses one outside the project before deleting any", () => {
    const dir = writeTempProject({
      'dbt_project.yml': "name: pc\nprofile: pc\nclean-targets: ['target', 'dbt_packages']\n",
      'profiles.yml': PROFILES,
      'models/a.sql': 'select 1 as id',
    });
    mkdirSync(join(dir, 'target'));
    mkdirSync(join(dir, 'dbt_packages/x'), { recursive: true });
    expect(smelter(dir, 'clean')).toMatchObject({ code: 0, stdout: 'Cleaned target/\nCleaned dbt_packages/\n' });
    expect(existsSync(join(dir, 'dbt_packages'))).toBe(false);

    writeFileSync(join(dir, 'dbt_project.yml'), "name: pc\nprofile: pc\nclean-targets: ['target', '..']\n");
    mkdirSync(join(dir, 'target'));
    const refused = smelter(dir, 'clean');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("error: dbt_project.yml: clean-targets: '..' is not a folder inside the project; nothing was deleted");
    expect(existsSync(join(dir, 'target'))).toBe(true);
    expect(existsSync(join(dir, 'models/a.sql'))).toBe(true);
  });
});
