import { join } from 'node:path';
import type { LoadedProject } from '../project/load-project.js';
import type { BoundedWrites } from '../util/bounded-writes.js';

/** target/run/<path>: what a node executed, to read or replay; seeds' files end in .sql too. */
export function runFilePath(project: LoadedProject, originalPath: string): string {
  return join(project.config.targetPath, 'run', originalPath.endsWith('.sql') ? originalPath : `${originalPath}.sql`);
}

/** Written while DuckDB works on the next statement (`files` bounds what is in flight). */
export async function writeRunFile(project: LoadedProject, originalPath: string, statements: readonly string[], files: BoundedWrites): Promise<void> {
  const path = join(project.config.dir, runFilePath(project, originalPath));
  const body = statements.map(terminate).join('\n');
  await files.add(path, statements.length > 1 ? `BEGIN TRANSACTION;\n\n${body}\nCOMMIT;\n` : body);
}

/** A statement with its `;`, on a line of its own when the SQL ends in a line comment. */
function terminate(sql: string): string {
  const trimmed = sql.trimEnd();
  const lastLine = trimmed.slice(trimmed.lastIndexOf('\n') + 1);
  return lastLine.includes('--') ? `${trimmed}\n;\n` : `${trimmed};\n`;
}
