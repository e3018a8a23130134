import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { smelter } from '../helpers/cli.js';
import { writeTempProject } from '../helpers/temp-project.js';

describe('smelter compile', () => {
  it('a model that no longer compiles loses its old compiled file; the others keep theirs', async () => {
    const dir = writeTempProject({
      'project.yml': 'name: c\ntargets:\n  dev: { database: target/dev.duckdb }\n',
      'models/a.sql': 'select 1 as id',
      'models/b.sql': "select * from {{ ref('a') }}",
    });
    expect((await smelter(['compile'], { projectDir: dir })).code).toBe(0);
    expect(readFileSync(join(dir, 'target/compiled/models/b.sql'), 'utf8')).toBe('select * from "main"."a"');
    writeFileSync(join(dir, 'models/b.sql'), "select {{ var('missing') }} from {{ ref('a') }}");
    const broken = await smelter(['compile'], { projectDir: dir });
    expect(broken.code).toBe(2);
    expect(existsSync(join(dir, 'target/compiled/models/b.sql'))).toBe(false);
    expect(existsSync(join(dir, 'target/compiled/models/a.sql'))).toBe(true);
  });
});
