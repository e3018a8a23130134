import { ProjectError } from '../errors.js';
import type { ColumnInfo } from '../manifest/types.js';
import { didYouMean } from '../util/did-you-mean.js';

/**
 * dbt's docs blocks: `{% docs name %}text{% enddocs %}` in Markdown files hold long descriptions,
 * and `{{ doc('name') }}` in a YAML `description` stands for the block's text. Only doc() calls are
 * replaced; the rest of a description is kept as written, as before.
 */

export interface DocsBlock {
  readonly name: string;
  /** The text between the tags, without its leading and trailing whitespace. */
  readonly text: string;
  readonly file: string;
  readonly line: number;
}

const OPEN = /\{%-?\s*docs\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}/g;
const CLOSE = /\{%-?\s*enddocs\s*-?%\}/g;

/** The docs blocks of one Markdown file; an unclosed block is reported at its line. */
export function readDocsBlocks(file: string, text: string, report: (error: ProjectError) => void): DocsBlock[] {
  const blocks: DocsBlock[] = [];
  const lineAt = (offset: number) => text.slice(0, offset).split('\n').length;
  OPEN.lastIndex = 0;
  for (let open = OPEN.exec(text); open !== null; open = OPEN.exec(text)) {
    CLOSE.lastIndex = OPEN.lastIndex;
    const close = CLOSE.exec(text);
    if (close === null) {
      report(new ProjectError(`{% docs ${open[1]} %} has no {% enddocs %}`, { code: 'project', location: { file, line: lineAt(open.index) } }));
      break;
    }
    blocks.push({ name: open[1], text: text.slice(OPEN.lastIndex, close.index).trim(), file, line: lineAt(open.index) });
    OPEN.lastIndex = CLOSE.lastIndex;
  }
  return blocks;
}

/** Blocks by name; a name given twice is an error naming both places. */
export function indexDocsBlocks(blocks: readonly DocsBlock[], report: (error: ProjectError) => void): ReadonlyMap<string, DocsBlock> {
  const byName = new Map<string, DocsBlock>();
  for (const block of blocks) {
    const earlier = byName.get(block.name);
    if (earlier) {
      report(new ProjectError(`docs block '${block.name}' is defined twice (also in ${earlier.file}:${earlier.line})`, { code: 'duplicate', location: { file: block.file, line: block.line } }));
    } else {
      byName.set(block.name, block);
    }
  }
  return byName;
}

const DOC_CALL = /\{\{-?\s*doc\(\s*(['"])([^'"]*)\1\s*\)\s*-?\}\}/g;

/**
 * `description` with each `{{ doc('name') }}` replaced by the block's text. An unknown name is an
 * error at `where` (the YAML file; the line of the call when `yamlText` shows it).
 */
export function expandDocCalls(
  description: string,
  docs: ReadonlyMap<string, DocsBlock>,
  where: { readonly file: string; readonly line?: number; readonly yamlText?: string },
): string {
  if (!description.includes('doc(')) return description;
  const expanded = description.replace(DOC_CALL, (_call: string, quote: string, name: string) => {
    const block = docs.get(name);
    if (block) return block.text;
    throw new ProjectError(`doc('${name}'): no docs block named '${name}' in a .md file under the model paths`, {
      code: 'project',
      location: { file: where.file, line: lineOfCall(where.yamlText, `doc(${quote}${name}${quote})`, where.line) },
      hint: didYouMean(name, docs.keys()),
    });
  });
  // Any other doc() (a package's block, a computed name) would otherwise stay literal text.
  const other = /\{\{-?\s*doc\(.*?\}\}/.exec(expanded);
  if (other) {
    throw new ProjectError(`${other[0]}: doc() takes one quoted docs block name here`, {
      code: 'project',
      location: { file: where.file, line: lineOfCall(where.yamlText, other[0], where.line) },
    });
  }
  return expanded;
}

/** Columns with their descriptions expanded. */
export function expandColumnDocs(
  columns: Readonly<Record<string, ColumnInfo>>,
  docs: ReadonlyMap<string, DocsBlock>,
  where: { readonly file: string; readonly line?: number; readonly yamlText?: string },
): Record<string, ColumnInfo> {
  const out: Record<string, ColumnInfo> = {};
  for (const [key, column] of Object.entries(columns)) {
    out[key] = column.description === undefined ? column : { ...column, description: expandDocCalls(column.description, docs, where) };
  }
  return out;
}

/** The first line at or after `from` whose text holds `needle`; `from` when none does. */
function lineOfCall(yamlText: string | undefined, needle: string, from = 1): number {
  if (yamlText === undefined) return from;
  const lines = yamlText.split('\n');
  for (let i = Math.max(0, from - 1); i < lines.length; i++) if (lines[i].includes(needle)) return i + 1;
  return from;
}
