import { ProjectError } from '../errors.js';
import type { Manifest } from '../manifest/types.js';
import type { LoadedProject } from '../project/load-project.js';
import type { TemplateEngine } from '../template/template-engine.js';
import { buildDag, findManifestCycle, type Dag } from '../graph/dag.js';
import { createParseContext, type ParseOptions } from './parse-context.js';
import { parseDataTests } from './parse-data-tests.js';
import { declaredResources } from './parse-declared.js';
import { toDiagnostic } from './parse-errors.js';
import { manifestMacros, parseMacros } from './parse-macros.js';
import { keepRenderableFastPaths } from './fast-path.js';
import { addModels, draftModels } from './parse-models.js';
import { parseAnalyses } from './parse-analyses.js';
import { parseProperties, reportUnmatchedProperties } from './parse-properties.js';
import { parseSeeds } from './parse-seeds.js';
import { parseSources } from './parse-sources.js';
import { ParseTemplates } from './parse-templates.js';
import { parseUnitTests } from './parse-unit-tests.js';
import { ParsedNodes } from './parsed-nodes.js';
import { resolveDependencies } from './resolve-dependencies.js';

export type { ParseOptions } from './parse-context.js';
// Render and execute locate their template errors as parse does.
export { locateNodeError, toDiagnostic } from './parse-errors.js';

/**
 * Parse output: the Manifest (pure data) plus the compiled macros, kept so that rendering does
 * not compile them again.
 */
export interface ParseResult {
  readonly manifest: Manifest;
  /** The dependency graph of the manifest's enabled nodes, built on first use (a plain `ls` or `compile` never walks it). */
  readonly dag: Dag;
  readonly macroFiles: ReadonlyArray<{ readonly path: string; readonly text: string }>;
  /** Created on first use: `ls` on a project whose models need no render never compiles macros. */
  templates(): TemplateEngine;
}

/**
 * files -> Manifest. Reads the project's files; opens no database; collects every error it can.
 * Each step adds its nodes in turn, and the order of steps is the order of the manifest's nodes
 * and of its errors.
 */
export function parseProject(project: LoadedProject, options: ParseOptions = {}): ParseResult {
  const ctx = createParseContext(project, options);
  const { config, diagnostics } = ctx;

  const macros = parseMacros(ctx);
  const templates = new ParseTemplates(ctx, macros);
  const properties = parseProperties(ctx, templates);

  const parsed = new ParsedNodes(ctx.layouts, config.name);
  parseSeeds(ctx, properties, templates, parsed);
  parseSources(ctx, properties, parsed);
  const drafts = draftModels(ctx, properties, macros, templates);
  // Properties no seed, model or snapshot took name nothing.
  reportUnmatchedProperties(ctx, properties, drafts);
  const calledNames = addModels(ctx, drafts, parsed);
  for (const [id, names] of parseAnalyses(ctx, parsed)) calledNames.set(id, names);
  parseDataTests(ctx, macros, parsed);
  resolveDependencies(ctx, macros, parsed, calledNames);
  parseUnitTests(ctx, properties.unitTests, parsed);
  keepRenderableFastPaths(ctx, parsed);

  for (const warning of project.warnings ?? []) diagnostics.warn(warning);
  const { nodes, disabled } = parsed;
  const manifest: Manifest = {
    project_name: config.name,
    nodes,
    disabled,
    macros: manifestMacros(macros),
    diagnostics: diagnostics.list,
    declared: declaredResources(properties.declared, diagnostics),
  };
  if (!diagnostics.hasErrors()) {
    const cycle = findManifestCycle(manifest);
    if (cycle) {
      const names = cycle.map((id) => nodes[id]?.name ?? id);
      const first = nodes[cycle[0]];
      diagnostics.list.push(
        toDiagnostic(
          new ProjectError(`dependency cycle: ${names.join(' -> ')}`, { code: 'cycle', location: { file: first.original_file_path }, node: cycle[0] }),
        ),
      );
    }
  }
  let dag: Dag | undefined;
  return {
    manifest,
    get dag() {
      return (dag ??= buildDag(manifest));
    },
    macroFiles: macros.files,
    templates: templates.engine,
  };
}
