import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Project-relative POSIX paths of files under `roots` (each relative to `projectDir`) whose
 * names end with one of `extensions`, sorted so parse order — and so every artifact — is stable.
 */
export function discoverFiles(projectDir: string, roots: readonly string[], extensions: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    let entries;
    try {
      entries = readdirSync(join(projectDir, rel), { withFileTypes: true });
    } catch {
      return; // a configured folder that does not exist holds no files
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) visit(child);
      else if (extensions.some((ext) => entry.name.endsWith(ext))) out.push(child);
    }
  };
  for (const root of roots) visit(root.replace(/\/+$/, ''));
  return out.sort();
}

/** dbt's default snapshot-paths: `{% snapshot %}` blocks there are built on the scd2 engine. */
export const SNAPSHOT_PATHS: readonly string[] = ['snapshots'];

/** A discovered file's resource root (the first of `roots` it is under) and the folders between. */
export function splitPath(path: string, roots: readonly string[]): { root: string; folders: string[] } {
  const root = roots.map((r) => r.replace(/\/+$/, '')).find((r) => path.startsWith(`${r}/`)) ?? roots[0];
  const parts = path.slice(root.length + 1).split('/');
  return { root, folders: parts.slice(0, -1) };
}
