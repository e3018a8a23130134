import { basename } from 'node:path';
import { ProjectError } from '../errors.js';
import type { AnalysisNode } from '../manifest/types.js';
import { checkTemplateSyntax } from '../template/template-engine.js';
import { sha256Text } from '../util/sha256-text.js';
import { discoverFiles } from './discover.js';
import { scanTemplate } from './jinja-scan.js';
import { readProjectFile, type ParseContext } from './parse-context.js';
import { locateNodeError } from './parse-errors.js';
import type { ParsedNodes } from './parsed-nodes.js';

/**
 * Analyses (dbt's `analyses/`): SQL templates that `compile` renders to target/compiled/ and
 * nothing runs, for queries kept beside the models that read them. The root project's only. Their
 * ref() and source() calls take literal arguments (as a singular test's), which resolve as a
 * model's; `config()` may set `enabled` and `tags`. Returns the names each one's template calls,
 * for its macro dependencies.
 */
export function parseAnalyses(ctx: ParseContext, parsed: ParsedNodes): Map<string, ReadonlySet<string>> {
  const { config, diagnostics } = ctx;
  const calledNames = new Map<string, ReadonlySet<string>>();
  for (const path of discoverFiles(config.dir, config.analysisPaths ?? ['analyses'], ['.sql'])) {
    const name = basename(path, '.sql');
    const uniqueId = `analysis.${config.name}.${name}`;
    try {
      const text = readProjectFile(ctx, path);
      const scan = scanTemplate(text);
      if (scan.suspect) checkTemplateSyntax(path, text, scan.suspect);
      const refs: Array<{ name: string; line: number; package?: string }> = [];
      const sources: Array<{ source: string; table: string; line: number }> = [];
      let enabled = true;
      let tags: string[] = [];
      for (const call of scan.calls) {
        const location = { file: path, line: call.line, column: call.column };
        if ((call.name === 'ref' || call.name === 'source' || call.name === 'config') && !call.literal) {
          throw new ProjectError(`${call.name}() in an analysis must have literal arguments`, { code: 'config', location });
        }
        if (call.name === 'ref') refs.push({ name: String(call.args[call.args.length - 1]), line: call.line, ...(call.args.length === 2 ? { package: String(call.args[0]) } : {}) });
        if (call.name === 'source') sources.push({ source: String(call.args[0]), table: String(call.args[1]), line: call.line });
        if (call.name === 'config') {
          for (const [key, value] of Object.entries(call.kwargs)) {
            if (key === 'enabled' && typeof value === 'boolean') enabled = value;
            else if (key === 'tags' && (typeof value === 'string' || (Array.isArray(value) && value.every((t) => typeof t === 'string')))) tags = typeof value === 'string' ? [value] : (value as string[]);
            else throw new ProjectError(`an analysis's config takes enabled (true or false) and tags, got ${key}`, { code: 'config', location });
          }
        }
      }
      if (parsed.nodes[uniqueId] || parsed.disabled[uniqueId]) {
        throw new ProjectError(`two analyses are named '${name}' (also ${(parsed.nodes[uniqueId] ?? parsed.disabled[uniqueId]).original_file_path})`, { code: 'duplicate', location: { file: path } });
      }
      const node: AnalysisNode = {
        resource_type: 'analysis',
        unique_id: uniqueId,
        name,
        package_name: config.name,
        original_file_path: path,
        path,
        fqn: [config.name, 'analysis', name],
        tags,
        description: '',
        columns: {},
        raw_code: text,
        checksum: sha256Text(text),
        config: { enabled, tags },
        refs,
        sources,
        depends_on: { nodes: [], macros: [] },
      };
      parsed.add(node, enabled);
      calledNames.set(uniqueId, scan.calledNames);
    } catch (error) {
      diagnostics.report(locateNodeError(error, uniqueId, path));
    }
  }
  return calledNames;
}
