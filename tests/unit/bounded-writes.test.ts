import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BoundedWrites } from '../../runtime/util/bounded-writes.js';

const dirs: string[] = [];
const scratch = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'smelter-writes-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('BoundedWrites (target/run files written while DuckDB works)', () => {
  it('writes every file with its exact text, creating folders, when more are added than the limit', async () => {
    const dir = scratch();
    const writes = new BoundedWrites(2);
    for (let i = 0; i < 25; i++) await writes.add(join(dir, `f${i % 3}`, 'deeper', `m${i}.sql`), `select ${i};\n`);
    await writes.done();
    for (let i = 0; i < 25; i++) expect(readFileSync(join(dir, `f${i % 3}`, 'deeper', `m${i}.sql`), 'utf8')).toBe(`select ${i};\n`);
    expect(readdirSync(dir).sort()).toEqual(['f0', 'f1', 'f2']);
  });

  it('reports the first failed write from done(), and refuses further files after it', async () => {
    const dir = scratch();
    mkdirSync(join(dir, 'a-folder.sql'));
    const writes = new BoundedWrites(4);
    await writes.add(join(dir, 'ok.sql'), 'select 1;\n');
    await writes.add(join(dir, 'a-folder.sql'), 'select 2;\n'); // fails in the background: a folder is in the way
    await expect(writes.done()).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(writes.add(join(dir, 'later.sql'), 'select 3;\n')).rejects.toMatchObject({ code: 'EISDIR' });
    expect(existsSync(join(dir, 'later.sql'))).toBe(false);
    expect(readFileSync(join(dir, 'ok.sql'), 'utf8')).toBe('select 1;\n');
  });
});
