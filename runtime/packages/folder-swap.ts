import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A fresh hidden folder beside `target` (same file system, so it can be renamed onto it). */
export function siblingFolder(target: string, purpose: 'staging' | 'work' | 'old'): string {
  return mkdtempSync(join(dirname(target), `.${basename(target)}.${purpose}-`));
}

/**
 * Put the fully built `staged` folder at `target`, replacing what was there. Two renames: at no
 * moment does `target` hold a mix of old and new packages, so a run never loads a half-installed
 * package (between the renames it finds no folder at all, and says to run deps).
 */
export function replaceFolder(target: string, staged: string): void {
  let old: string | undefined;
  if (existsSync(target)) {
    old = siblingFolder(target, 'old');
    rmSync(old, { recursive: true });
    renameSync(target, old);
  }
  try {
    renameSync(staged, target);
  } catch (error) {
    if (old !== undefined) renameSync(old, target);
    throw error;
  }
  // Symlinks to local packages are removed, never followed.
  if (old !== undefined) rmSync(old, { recursive: true, force: true });
}
