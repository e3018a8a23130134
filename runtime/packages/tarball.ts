import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './run-command.js';

/**
 * Unpack a .tar.gz with the system's `tar` into a fresh folder under `workDir`; returns the
 * package's root. GNU tar refuses members that would land outside the folder. A hub tarball
 * (GitHub's) wraps the files in one top folder: the root is that folder.
 */
export async function extractTarball(archive: string, workDir: string): Promise<{ root: string } | { problem: string }> {
  const into = mkdtempSync(join(workDir, 'tar-'));
  const extracted = await runCommand('tar', ['-xzf', archive, '-C', into, '--no-same-owner', '--no-same-permissions']);
  if (!extracted.ok) return { problem: `is not a readable .tar.gz (${extracted.message})` };
  if (existsSync(join(into, 'dbt_project.yml'))) return { root: into };
  const entries = readdirSync(into);
  if (entries.length === 1 && statSync(join(into, entries[0])).isDirectory()) return { root: join(into, entries[0]) };
  return { root: into };
}
