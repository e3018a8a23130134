import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The import layering runtime/README.md describes, checked on the sources: the runtime builds and
 * runs without any cloud SDK (adapters hand it backends), and the pure stages never reach the
 * database.
 */

const ROOT = join(import.meta.dirname, '../..');

function sources(folder: string): string[] {
  return (readdirSync(join(ROOT, folder), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(folder, f));
}

/** Every module a file imports (static, dynamic and type-only), as written. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
}

function offenders(folder: string, forbidden: (specifier: string, file: string) => boolean): string[] {
  return sources(folder).flatMap((file) => importsOf(file).filter((s) => forbidden(s, file)).map((s) => `${relative(ROOT, join(ROOT, file))} imports ${s}`));
}

describe('import layering', () => {
  it('runtime/ imports no cloud SDK and nothing from adapters/', () => {
    expect(offenders('runtime', (s) => s.startsWith('@aws-sdk/') || s.includes('/adapters/') || s.startsWith('../adapters'))).toEqual([]);
  });

  it('parse, graph, select and plan never import the engine or the execution stage', () => {
    for (const stage of ['runtime/parse', 'runtime/graph', 'runtime/select', 'runtime/plan']) {
      expect(offenders(stage, (s) => /\/(engine|execute)\//.test(s) || s.startsWith('@duckdb/'))).toEqual([]);
    }
  });

  it('only runtime/engine imports DuckDB', () => {
    expect(offenders('runtime', (s, file) => s.startsWith('@duckdb/') && !file.startsWith(join('runtime', 'engine')))).toEqual([]);
  });
});
