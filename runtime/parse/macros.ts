import { sha256Text } from '../util/sha256-text.js';
import type { MacroDef } from '../manifest/types.js';
import { scanTemplate } from './jinja-scan.js';

export interface MacroSourceFile {
  readonly path: string;
  readonly text: string;
}

const MACRO_START = /\{%-?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(/g;
const MACRO_END = /\{%-?\s*endmacro\b[^%]*%\}/g;

/**
 * The macros a file defines, found without rendering: name, line, checksum of its own text, and
 * the other names its body calls (resolved to macros by the caller).
 */
export function readMacroDefinitions(file: MacroSourceFile, projectName: string): Array<MacroDef & { calls: ReadonlySet<string> }> {
  const out: Array<MacroDef & { calls: ReadonlySet<string> }> = [];
  for (const match of file.text.matchAll(MACRO_START)) {
    const start = match.index!;
    MACRO_END.lastIndex = start;
    const end = MACRO_END.exec(file.text);
    const body = file.text.slice(start, end ? end.index + end[0].length : file.text.length);
    const line = file.text.slice(0, start).split('\n').length;
    const calls = new Set(scanTemplate(body).calledNames);
    calls.delete(match[1]);
    out.push({
      unique_id: `macro.${projectName}.${match[1]}`,
      package_name: projectName,
      name: match[1],
      original_file_path: file.path,
      line,
      checksum: sha256Text(body),
      depends_on: { macros: [] },
      calls,
    });
  }
  return out;
}
