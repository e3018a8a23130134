import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A fresh hidden folder beside `target` (same file system, so it can be renamed onto it). */
export function siblingFolder(target: string, purpose: 'staging' | 'work' | 'old'): string {
  return mkdtempSync(join(dirname(target), `.${basename(target)}.${purpose}-`));
}

/**
 * Remove the scratch folders of an earlier install that was killed before it could: a deps run
 * about to install everything again has no use for them, and a git clone left there is large.
 */
export function removeLeftovers(target: string): void {
  const parent = dirname(target);
  if (!existsSync(parent)) return;
  const prefix = `.${basename(target)}.`;
  for (const entry of readdirSync(parent)) {
    if (entry.startsWith(prefix) && /^(staging|work|old)-/.test(entry.slice(prefix.length))) rmSync(join(parent, entry), { recursive: true, force: true });
  }
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
