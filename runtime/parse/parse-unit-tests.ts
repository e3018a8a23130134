import { ProjectError } from '../errors.js';
import type { ParseContext } from './parse-context.js';
import type { ParsedNodes } from './parsed-nodes.js';
import type { UnitTestDeclaration } from './properties.js';
import { unitTestNode, type UnitTestContext } from './unit-tests.js';

/** Unit tests, after dependencies are resolved: each model's inputs must be known. */
export function parseUnitTests(ctx: ParseContext, declarations: readonly UnitTestDeclaration[], parsed: ParsedNodes): void {
  const { config, diagnostics, broken } = ctx;
  const testContext: UnitTestContext = {
    projectName: config.name,
    resolveRef: (name) => parsed.resolveRef(name, config.name),
    resolveSource: (s, t) => parsed.sourceTables.get(`${s}.${t}`),
    nodes: parsed.nodes,
    isBroken: (name) => broken.names.has(name) || broken.incomplete.has(parsed.resolveRef(name, config.name)?.unique_id ?? ''),
  };
  for (const declaration of declarations) {
    try {
      const test = unitTestNode(declaration, testContext);
      if (test === undefined) continue;
      const { node, enabled } = test;
      if (parsed.nodes[node.unique_id] || parsed.disabled[node.unique_id]) {
        diagnostics.report(new ProjectError(`two unit tests of ${declaration.model} are named '${declaration.name}'`, { code: 'duplicate', location: { file: declaration.file, line: declaration.line } }));
        continue;
      }
      parsed.add(node, enabled);
    } catch (error) {
      diagnostics.report(error);
    }
  }
}
