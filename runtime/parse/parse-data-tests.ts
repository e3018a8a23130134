import { basename } from 'node:path';
import { ProjectError } from '../errors.js';
import type { TestNode } from '../manifest/types.js';
import { checkTemplateSyntax } from '../template/template-engine.js';
import { genericTest, singularTest, type GenericTestContext } from './data-tests.js';
import { discoverFiles } from './discover.js';
import { scanTemplate } from './jinja-scan.js';
import { genericTestRoots, readProjectFile, type ParseContext } from './parse-context.js';
import { locateNodeError, rejectSnapshot } from './parse-errors.js';
import type { ProjectMacros } from './parse-macros.js';
import type { ParsedNodes } from './parsed-nodes.js';

/** Data tests: generic ones on the nodes that declare them, singular ones from data-test-paths. */
export function parseDataTests(ctx: ParseContext, macros: ProjectMacros, parsed: ParsedNodes): void {
  const { config, diagnostics, broken } = ctx;
  const customTests = new Map<string, string[]>();
  for (const macro of Object.values(macros.byName)) {
    if (macro.name.startsWith('test_')) customTests.set(macro.name.slice(5), [macro.unique_id, ...macro.depends_on.macros]);
  }
  // A package's generic tests are named with their namespace in YAML: `dbt_utils.equality`.
  for (const macro of Object.values(macros.ofPackages)) {
    if (macro.name.startsWith('test_')) customTests.set(`${macro.package_name}.${macro.name.slice(5)}`, [macro.unique_id]);
  }
  const testContext: GenericTestContext = {
    projectName: config.name,
    customTests,
    resolveRef: (name: string, packageName?: string) => parsed.resolveRef(name, config.name, packageName),
    resolveSource: (source: string, table: string) => parsed.sourceTables.get(`${source}.${table}`),
    isBroken: (ref: { name: string } | { source: string; table: string }) => ('name' in ref ? broken.names.has(ref.name) : broken.isBrokenSource(ref.source)),
  };
  for (const target of parsed.testTargets) {
    for (const declaration of target.declarations) {
      try {
        addTest(ctx, parsed, genericTest(target.node, declaration, testContext));
      } catch (error) {
        diagnostics.report(error);
      }
    }
  }
  const genericRoots = ctx.layouts.flatMap(genericTestRoots);
  for (const { path, pkg } of ctx.layouts.flatMap((pkg) => discoverFiles(config.dir, pkg.dataTestPaths, ['.sql']).map((path) => ({ path, pkg })))) {
    if (genericRoots.some((root) => path.startsWith(`${root}/`))) continue;
    try {
      const text = readProjectFile(ctx, path);
      checkSingularTestSyntax(path, text);
      addTest(ctx, parsed, singularTest(path, text, pkg.name));
    } catch (error) {
      diagnostics.report(locateNodeError(error, `test.${pkg.name}.${basename(path, '.sql')}`, path));
    }
  }
}

function addTest(ctx: ParseContext, parsed: ParsedNodes, test: { node: TestNode; enabled: boolean } | undefined): void {
  if (test === undefined) return;
  const { node, enabled } = test;
  const clash = parsed.nodes[node.unique_id] ?? parsed.disabled[node.unique_id];
  if (clash) {
    ctx.diagnostics.report(
      new ProjectError(`two tests are named '${node.name}' (also in ${clash.original_file_path}${'line' in clash && clash.line !== undefined ? `:${clash.line}` : ''})`, {
        code: 'duplicate',
        location: { file: node.original_file_path, line: node.line },
        hint: 'give one of them another name: (name: my_test) in its arguments',
      }),
    );
    return;
  }
  parsed.add(node, enabled);
}

/** A template whose structure the static reader finds broken is parsed, for the exact error. */
function checkSingularTestSyntax(path: string, text: string): void {
  const scan = scanTemplate(text);
  rejectSnapshot(path, scan);
  if (scan.suspect) checkTemplateSyntax(path, text, scan.suspect);
}
