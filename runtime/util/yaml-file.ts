import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, visit, type Document, type Node as YamlNode } from 'yaml';
import { ProjectError, type SourceLocation } from '../errors.js';

/**
 * A parsed YAML file that remembers where every value was written, so validation errors can
 * name file, line and key.
 */
export interface YamlFile {
  readonly file: string;
  readonly value: unknown;
  /** Location of the value at `path` (or of its key, for map entries); the file alone if unknown. */
  locate(path: readonly (string | number)[]): SourceLocation;
}

/**
 * Parse YAML text. A syntax error is a ProjectError at the line and column the parser reports.
 * `file` is the project-relative path used in messages.
 */
export function parseYamlFile(text: string, file: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    // An error found at the end of the text (an unclosed bracket) points at the last line's end,
    // not at a line after it.
    const end = text.replace(/\s+$/, '').length;
    let offset = Math.min(err.pos[0], end);
    // An indentation error is reported at its line's start; the misplaced key is after the spaces.
    while (text[offset] === ' ') offset++;
    const pos = lineCounter.linePos(offset);
    const message = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ProjectError(`invalid YAML: ${message}`, {
      code: 'yaml',
      location: { file, line: pos.line, column: pos.col },
    });
  }
  const positions = new Map<string, { line: number; column: number }>();
  const record = (path: string, offset: number | undefined) => {
    if (offset === undefined) return;
    const pos = lineCounter.linePos(offset);
    positions.set(path, { line: pos.line, column: pos.col });
  };
  const walk = (node: unknown, path: string) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key as YamlNode | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const childPath = path === '' ? key : `${path}\u0000${key}`;
        record(childPath, keyNode?.range?.[0]);
        walk(pair.value, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const childPath = path === '' ? String(i) : `${path}\u0000${i}`;
        record(childPath, (item as YamlNode | null)?.range?.[0]);
        walk(item, childPath);
      });
    }
  };
  walk(doc.contents, '');
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (error) {
    // An alias to no anchor, or aliases that would expand without bound: the parser throws a plain
    // Error; it is the file's fault, at the alias when there is one to point at.
    const at = unresolvedAlias(doc);
    const pos = at === undefined ? undefined : lineCounter.linePos(at);
    throw new ProjectError(`invalid YAML: ${((error as Error).message ?? String(error)).split('\n')[0]}`, {
      code: 'yaml',
      location: pos === undefined ? { file } : { file, line: pos.line, column: pos.col },
    });
  }
  return {
    file,
    value,
    locate(path) {
      for (let n = path.length; n > 0; n--) {
        const pos = positions.get(path.slice(0, n).map(String).join('\u0000'));
        if (pos) return { file, ...pos };
      }
      return { file };
    },
  };
}

/** Where the first alias naming no anchor is written, if any. */
function unresolvedAlias(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) !== undefined || !node.range) return undefined;
      offset = node.range[0];
      return visit.BREAK;
    },
  });
  return offset;
}
