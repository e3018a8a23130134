import { ProjectError } from '../errors.js';
import type { ColumnInfo } from '../manifest/types.js';
import type { PackageLayout } from '../project/project-config.js';
import { didYouMean } from '../util/did-you-mean.js';
import { parseYamlFile } from '../util/yaml-file.js';
import { discoverFiles } from './discover.js';
import { expandColumnDocs, expandDocCalls, indexDocsBlocks, readDocsBlocks, type DocsBlock } from './docs-blocks.js';
import { readProjectFile, type ParseContext } from './parse-context.js';
import type { ParseTemplates } from './parse-templates.js';
import { readPropertiesFile, type DeclaredEntry, type NodeProperties, type SourceProperties, type UnitTestDeclaration } from './properties.js';

export type PackagedDeclaredEntry = DeclaredEntry & { readonly package: string; readonly file: string };

/**
 * The YAML properties of every package, their descriptions' `{{ doc() }}` expanded. The steps that
 * parse models, seeds and snapshots take their entries out of the maps: what is left names nothing.
 */
export interface ProjectProperties {
  /** Properties by package and name (`propertiesKey`): a package may name a model as the project does. */
  readonly models: Map<string, NodeProperties>;
  readonly seeds: Map<string, NodeProperties>;
  readonly snapshots: Map<string, NodeProperties>;
  readonly sources: Array<SourceProperties & { readonly package?: string }>;
  /** Exposures, groups and the semantic layer's entries, as written. */
  readonly declared: PackagedDeclaredEntry[];
  readonly unitTests: UnitTestDeclaration[];
}

export function propertiesKey(pkg: PackageLayout, name: string): string {
  return `${pkg.name}\u0000${name}`;
}

export function parseProperties(ctx: ParseContext, templates: ParseTemplates): ProjectProperties {
  const { config, diagnostics, broken } = ctx;
  const properties: ProjectProperties = { models: new Map(), seeds: new Map(), snapshots: new Map(), sources: [], declared: [], unitTests: [] };
  // Properties files are read wherever dbt reads them: beside models, seeds (seeds.yml by the CSVs),
  // snapshots, data tests and macros; a folder that is two of those is read once.
  const propertyFiles = ctx.layouts.flatMap((pkg) =>
    [...new Set(discoverFiles(config.dir, [...pkg.modelPaths, ...pkg.seedPaths, ...pkg.snapshotPaths, ...pkg.dataTestPaths, ...pkg.macroPaths], ['.yml', '.yaml']))]
      .sort()
      .map((path) => ({ path, pkg })),
  );
  for (const { path, pkg } of propertyFiles) {
    try {
      const props = readPropertiesFile(parseYamlFile(readProjectFile(ctx, path), path), templates.renderString);
      props.errors.forEach(diagnostics.report);
      props.warnings.forEach(diagnostics.warn);
      props.broken.models.forEach((name) => broken.modelProps.add(name));
      props.broken.snapshots.forEach((name) => broken.modelProps.add(name));
      props.broken.seeds.forEach((name) => broken.seedProps.add(name));
      props.broken.sources.forEach((name) => broken.sources.add(name));
      if (props.broken.unknownSources) broken.anySource = true;
      for (const [list, target, kind] of [
        [props.models, properties.models, 'model'],
        [props.seeds, properties.seeds, 'seed'],
        [props.snapshots, properties.snapshots, 'snapshot'],
      ] as const) {
        for (const p of list) {
          const earlier = target.get(propertiesKey(pkg, p.name));
          if (earlier) {
            diagnostics.report(new ProjectError(`properties for ${kind} '${p.name}' are given twice (also in ${earlier.file}:${earlier.line})`, { code: 'duplicate', location: { file: p.file, line: p.line, column: p.column } }));
          } else {
            target.set(propertiesKey(pkg, p.name), p);
          }
        }
      }
      properties.sources.push(...props.sources.map((source) => ({ ...source, package: pkg.name })));
      properties.declared.push(...props.declared.map((entry) => ({ ...entry, package: pkg.name, file: path })));
      properties.unitTests.push(...props.unitTests);
    } catch (error) {
      diagnostics.report(error);
      broken.anySource = true;
    }
  }
  expandDocs(ctx, properties);
  return properties;
}

type Described = { readonly description: string; readonly columns: Readonly<Record<string, ColumnInfo>> };

/** Docs blocks in .md files under the model paths: {{ doc('name') }} in a description is their text. */
function expandDocs(ctx: ParseContext, properties: ProjectProperties): void {
  const { report } = ctx.diagnostics;
  const docsBlocks: DocsBlock[] = [];
  for (const path of discoverFiles(ctx.config.dir, ctx.layouts.flatMap((pkg) => pkg.modelPaths), ['.md'])) {
    docsBlocks.push(...readDocsBlocks(path, readProjectFile(ctx, path), report));
  }
  const docs = indexDocsBlocks(docsBlocks, report);
  const yamlTexts = new Map<string, string>();
  const yamlText = (file: string) => yamlTexts.get(file) ?? yamlTexts.set(file, readProjectFile(ctx, file)).get(file)!;
  /** `expand()`, or what it replaces when it fails (the failure is reported, and parse goes on). */
  const orReport = <T>(expand: () => T, unchanged: T): T => {
    try {
      return expand();
    } catch (error) {
      report(error);
      return unchanged;
    }
  };
  const withDocs = <T extends Described>(p: T, where: { file: string; line?: number }): T => {
    const at = { ...where, yamlText: yamlText(where.file) };
    return {
      ...p,
      description: orReport(() => expandDocCalls(p.description, docs, at), p.description),
      columns: orReport(() => expandColumnDocs(p.columns, docs, at), p.columns),
    };
  };
  for (const props of [properties.models, properties.seeds, properties.snapshots]) for (const [key, p] of props) props.set(key, withDocs(p, p));
  const { sources } = properties;
  for (const [i, source] of sources.entries()) {
    sources[i] = { ...source, tables: source.tables.map((t) => withDocs(t, { file: source.file, line: t.line })) };
  }
}

/**
 * In a dbt project, properties naming nothing are ignored with a warning, as dbt does ("did not
 * find matching node"); project.yml keeps its rule: a typo in a name is an error.
 */
export function reportUnmatchedProperties(ctx: ParseContext, properties: ProjectProperties, models: ReadonlyArray<{ readonly name: string }>): void {
  const { config, diagnostics } = ctx;
  for (const [props, kind, where] of [
    [properties.models, 'model', (name: string) => `models/**/${name}.sql`],
    [properties.seeds, 'seed', (name: string) => `seeds/**/${name}.csv`],
    [properties.snapshots, 'snapshot', (name: string) => `{% snapshot ${name} %} block`],
  ] as const) {
    for (const [key, p] of props) {
      const name = key.split('\u0000')[1];
      (config.flavor === 'dbt' ? diagnostics.warn : diagnostics.report)(
        new ProjectError(`properties are given for ${kind} '${name}', but there is no ${where(name)}${config.flavor === 'dbt' ? ': they are ignored' : ''}`, {
          code: 'ref',
          location: { file: p.file, line: p.line, column: p.column },
          hint: didYouMean(name, models.map((d) => d.name)),
        }),
      );
    }
  }
}
