import { sha256Text } from '../util/sha256-text.js';
import { basename, join } from 'node:path';
import { CompileError, ProjectError, SmelterError, type SourceLocation } from '../errors.js';
import type {
  ColumnInfo,
  DeclaredKind,
  DeclaredResource,
  Diagnostic,
  FastSegment,
  MacroDef,
  Manifest,
  ManifestNode,
  ModelConfig,
  ModelNode,
  RefCall,
  SeedNode,
  SourceCall,
  SourceNode,
  TestNode,
} from '../manifest/types.js';
import type { LoadedProject } from '../project/load-project.js';
import type { PackageLayout, ProjectConfig } from '../project/project-config.js';
import { DBT_BUILTIN_MACRO_FILES } from '../template/dbt-builtin-macros.js';
import { TemplateEngine, CONTEXT_NAMES, INTERNAL_PACKAGE, checkTemplateSyntax as checkSyntax } from '../template/template-engine.js';
import { TemplateLocatedError, lastCallSite } from '../template/strict-compiler.js';
import { parseYamlFile } from '../util/yaml-file.js';
import { readTextFile } from '../util/read-text-file.js';
import { didYouMean } from '../util/did-you-mean.js';
import { buildRenderScope, lookupVar } from '../render/context.js';
import { ephemeralCteName, renderRelation } from '../render/relation.js';
import { buildDag, findManifestCycle, type Dag } from '../graph/dag.js';
import { discoverFiles, SNAPSHOT_PATHS } from './discover.js';
import { expandColumnDocs, expandDocCalls, indexDocsBlocks, readDocsBlocks, type DocsBlock } from './docs-blocks.js';
import { readMacroDefinitions } from './macros.js';
import { readPropertiesFile, type DeclaredEntry, type NodeProperties, type SourceProperties, type UnitTestDeclaration } from './properties.js';
import { unitTestNode } from './unit-tests.js';
import { checkSeedCsv } from './seed-csv.js';
import { folderLayers, resolveModelConfig, resolveSeedConfig, type ConfigLayer } from './resolve-config.js';
import { scanTemplate, type ScanResult } from './jinja-scan.js';
import { genericTest, singularTest, translateTestBlocks, type TestTarget } from './data-tests.js';
import { NAMING_MACROS, nameRelation } from './naming-macros.js';
import { readSnapshotBlocks, SNAPSHOT_DEFAULTS, translateSnapshotConfig, type SnapshotBlock } from './snapshots.js';

export interface ParseOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Used only by templates that parse must render (run_started_at is not a dependency). */
  readonly now?: Date;
}

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


/** files -> Manifest. Reads the project's files; opens no database; collects every error it can. */
export function parseProject(project: LoadedProject, options: ParseOptions = {}): ParseResult {
  const { config } = project;
  const env = options.env ?? process.env;
  const diagnostics: Diagnostic[] = [];
  const report = (error: unknown) => {
    if (!(error instanceof SmelterError)) throw error;
    diagnostics.push(toDiagnostic(error));
  };
  /** What dbt warns about and goes on: the parse does too. */
  const warn = (warning: SmelterError) => diagnostics.push(toDiagnostic(warning, 'warning'));
  const read = (rel: string) => readTextFile(join(config.dir, rel));

  // The root project and its installed packages, read alike; the root comes first.
  const layouts = packageLayouts(config);
  const projectFile = config.flavor === 'dbt' ? 'dbt_project.yml' : 'project.yml';
  const root = layouts[0];
  const genericTestRootsOf = (pkg: PackageLayout) => pkg.dataTestPaths.map((p) => `${p.replace(/\/+$/, '')}/generic`);
  const genericTestRoots = layouts.flatMap(genericTestRootsOf);

  // Macros, and generic test definitions ({% test %} blocks: in macro files or <data-test-path>/generic/)
  const macroFiles: Array<{ path: string; text: string; package?: string }> = [];
  /** Macros of files that do not parse: their file's error is reported, not each call's. */
  const brokenMacros = new Set<string>();
  const macroFilePaths = layouts.flatMap((pkg) =>
    discoverFiles(config.dir, [...pkg.macroPaths, ...genericTestRootsOf(pkg)], ['.sql']).map((path) => ({ path, pkg })),
  );
  for (const { path, pkg } of macroFilePaths) {
    const file = { path, text: translateTestBlocks(read(path)), ...(pkg === root ? {} : { package: pkg.name }) };
    const scan = scanTemplate(file.text);
    try {
      rejectSnapshot(path, scan);
      if (scan.suspect) checkSyntax(path, file.text, scan.suspect);
      macroFiles.push(file);
    } catch (error) {
      report(locateNodeError(error, undefined, path));
      for (const def of readMacroDefinitions(file, pkg.name)) brokenMacros.add(def.name);
    }
  }
  // The root project's macros by name (what its models call); every package's go to the manifest by id.
  const macros: Record<string, MacroDef> = {};
  const packageMacros: Record<string, MacroDef> = {};
  const macroCalls = new Map<string, ReadonlySet<string>>();
  for (const file of macroFiles) {
    if (file.package !== undefined) {
      for (const { calls: _, ...macro } of readMacroDefinitions(file, file.package)) {
        if (packageMacros[macro.unique_id]) {
          report(new ProjectError(`macro '${macro.name}' is defined twice in package ${file.package} (also in ${packageMacros[macro.unique_id].original_file_path}:${packageMacros[macro.unique_id].line})`, { code: 'duplicate', location: { file: file.path, line: macro.line } }));
          continue;
        }
        packageMacros[macro.unique_id] = macro;
      }
      continue;
    }
    for (const def of readMacroDefinitions(file, config.name)) {
      const { calls, ...macro } = def;
      const earlier = macros[macro.name];
      if (earlier) {
        report(
          new ProjectError(`macro '${macro.name}' is defined twice (also in ${earlier.original_file_path}:${earlier.line})`, {
            code: 'duplicate',
            location: { file: file.path, line: macro.line },
          }),
        );
        continue;
      }
      if ((CONTEXT_NAMES as readonly string[]).includes(macro.name)) {
        report(new ProjectError(`macro '${macro.name}' would hide smelter's own ${macro.name}()`, { code: 'duplicate', location: { file: file.path, line: macro.line } }));
        continue;
      }
      macros[macro.name] = macro;
      macroCalls.set(macro.name, calls);
    }
  }
  const macroClosure = memoizedClosure(macroCalls, macros);
  for (const name of Object.keys(macros)) {
    macros[name] = { ...macros[name], depends_on: { macros: [...macroClosure(name)].map((m) => macros[m].unique_id) } };
  }

  // A model that calls such a macro depends on what the macro refers to: parse renders it.
  const refersThroughMacro = new Set(
    Object.keys(macros).filter((name) =>
      [name, ...macroClosure(name)].some((m) => {
        const calls = macroCalls.get(m);
        return calls !== undefined && (calls.has('ref') || calls.has('source'));
      }),
    ),
  );

  let engine: TemplateEngine | undefined;
  const templates = () => (engine ??= new TemplateEngine([...DBT_BUILTIN_MACRO_FILES.map((f) => ({ ...f, package: INTERNAL_PACKAGE })), ...macroFiles], {
    rootPackage: config.name,
    dispatch: config.dispatch,
    packageDirs: Object.fromEntries(config.packages.map((pkg) => [pkg.name, pkg.dir])),
    onBrokenFile: (file, error) => {
      report(locateNodeError(error, undefined, file.path));
      for (const def of readMacroDefinitions(file, file.package ?? config.name)) brokenMacros.add(def.name);
    },
  }));
  /** A template whose structure the static reader finds broken is parsed, for the exact error. */
  const checkTemplateSyntax = (path: string, text: string) => {
    const scan = scanTemplate(text);
    rejectSnapshot(path, scan);
    if (scan.suspect) checkSyntax(path, text, scan.suspect);
  };
  const parseScope = () =>
    buildRenderScope({
      resolver: noRefs,
      varValues: project.varValues,
      env,
      target: config.target,
      runStartedAt: options.now ?? new Date(),
      invocationId: '',
    });
  const renderString = (text: string) => templates().render('<properties>', text, parseScope());
  /** The project's generate_schema_name / generate_alias_name, if it defines them. */
  const namingMacros = new Set(NAMING_MACROS.filter((m) => macros[m] !== undefined));
  const relationNamed = (node: Parameters<typeof nameRelation>[3], layers: readonly ConfigLayer[]) => {
    try {
      return nameRelation(templates, namingMacros, parseScope, node, layers, config.flavor === 'dbt' ? config.target.schema : undefined);
    } catch (error) {
      // The call is ours, not a line of the node's file: an error in it names the file only.
      if (error instanceof TemplateLocatedError && (error.templateFile || node.original_file_path) === node.original_file_path) {
        throw new CompileError(error.message, { code: 'template', location: { file: node.original_file_path }, hint: error.hint, node: node.unique_id, cause: error });
      }
      throw locateNodeError(error, node.unique_id, node.original_file_path);
    }
  };

  // What failed to parse, and so is reported already: what refers to it gets no error of its own
  // (a config error must not be followed by a false "no model named X" for each dependent).
  const broken = {
    /** Models and seeds whose file, config or properties could not be read. */
    names: new Set<string>(),
    modelProps: new Set<string>(),
    seedProps: new Set<string>(),
    sources: new Set<string>(),
    /** A properties file that could not be read at all may have declared any source. */
    anySource: false,
    /** Nodes with a ref or source dropped because it named something broken. */
    incomplete: new Set<string>(),
  };
  const isBrokenSource = (source: string) => broken.anySource || broken.sources.has(source);

  // YAML properties
  /** Properties by package and name (`pkg\u0000name`): a package may name a model as the project does. */
  const modelProps = new Map<string, NodeProperties>();
  const seedProps = new Map<string, NodeProperties>();
  const snapshotProps = new Map<string, NodeProperties>();
  const declared: Array<DeclaredEntry & { readonly package: string; readonly file: string }> = [];
  const propsKey = (pkg: PackageLayout, name: string) => `${pkg.name}\u0000${name}`;
  const sourceProps: Array<SourceProperties & { readonly package?: string }> = [];
  const unitTestDecls: UnitTestDeclaration[] = [];
  // Properties files are read wherever dbt reads them: beside models, seeds (seeds.yml by the CSVs),
  // snapshots, data tests and macros; a folder that is two of those is read once.
  const propertyFiles = layouts.flatMap((pkg) =>
    [...new Set(discoverFiles(config.dir, [...pkg.modelPaths, ...pkg.seedPaths, ...pkg.snapshotPaths, ...pkg.dataTestPaths, ...pkg.macroPaths], ['.yml', '.yaml']))]
      .sort()
      .map((path) => ({ path, pkg })),
  );
  for (const { path, pkg } of propertyFiles) {
    try {
      const props = readPropertiesFile(parseYamlFile(read(path), path), renderString);
      props.errors.forEach(report);
      props.warnings.forEach(warn);
      props.broken.models.forEach((name) => broken.modelProps.add(name));
      props.broken.snapshots.forEach((name) => broken.modelProps.add(name));
      props.broken.seeds.forEach((name) => broken.seedProps.add(name));
      props.broken.sources.forEach((name) => broken.sources.add(name));
      if (props.broken.unknownSources) broken.anySource = true;
      for (const [list, target, kind] of [
        [props.models, modelProps, 'model'],
        [props.seeds, seedProps, 'seed'],
        [props.snapshots, snapshotProps, 'snapshot'],
      ] as const) {
        for (const p of list) {
          const earlier = target.get(propsKey(pkg, p.name));
          if (earlier) {
            report(new ProjectError(`properties for ${kind} '${p.name}' are given twice (also in ${earlier.file}:${earlier.line})`, { code: 'duplicate', location: { file: p.file, line: p.line, column: p.column } }));
          } else {
            target.set(propsKey(pkg, p.name), p);
          }
        }
      }
      sourceProps.push(...props.sources.map((source) => ({ ...source, package: pkg.name })));
      declared.push(...props.declared.map((entry) => ({ ...entry, package: pkg.name, file: path })));
      unitTestDecls.push(...props.unitTests);
    } catch (error) {
      report(error);
      broken.anySource = true;
    }
  }

  // Docs blocks in .md files under the model paths: {{ doc('name') }} in a description is their text.
  const docsBlocks: DocsBlock[] = [];
  for (const path of discoverFiles(config.dir, layouts.flatMap((pkg) => pkg.modelPaths), ['.md'])) {
    docsBlocks.push(...readDocsBlocks(path, read(path), report));
  }
  const docs = indexDocsBlocks(docsBlocks, report);
  const yamlTexts = new Map<string, string>();
  const yamlText = (file: string) => yamlTexts.get(file) ?? yamlTexts.set(file, read(file)).get(file)!;
  /** `expand()`, or what it replaces when it fails (the failure is reported, and parse goes on). */
  const orReport = <T>(expand: () => T, unchanged: T): T => {
    try {
      return expand();
    } catch (error) {
      report(error);
      return unchanged;
    }
  };
  type Described = { readonly description: string; readonly columns: Readonly<Record<string, ColumnInfo>> };
  const withDocs = <T extends Described>(p: T, where: { file: string; line?: number }): T => {
    const at = { ...where, yamlText: yamlText(where.file) };
    return {
      ...p,
      description: orReport(() => expandDocCalls(p.description, docs, at), p.description),
      columns: orReport(() => expandColumnDocs(p.columns, docs, at), p.columns),
    };
  };
  for (const props of [modelProps, seedProps, snapshotProps]) for (const [key, p] of props) props.set(key, withDocs(p, p));
  for (const [i, source] of sourceProps.entries()) {
    sourceProps[i] = { ...source, tables: source.tables.map((t) => withDocs(t, { file: source.file, line: t.line })) };
  }

  const nodes: Record<string, ManifestNode> = {};
  const disabled: Record<string, ManifestNode> = {};
  const testTargets: TestTarget[] = [];
  /** Enabled models and seeds by package, then name. */
  const byPackage = new Map<string, Map<string, ModelNode | SeedNode>>(layouts.map((pkg) => [pkg.name, new Map()]));
  const byName = {
    get: (name: string, pkg: string = config.name) => byPackage.get(pkg)?.get(name),
    set: (node: ModelNode | SeedNode) => byPackage.get(node.package_name)!.set(node.name, node),
  };
  /** dbt's ref(): the root project first, then the referring node's package, then any package. */
  const resolveRef = (name: string, fromPackage: string, targetPackage?: string): ModelNode | SeedNode | undefined => {
    if (targetPackage !== undefined) return byPackage.get(targetPackage)?.get(name);
    for (const pkg of [config.name, fromPackage]) {
      const found = byPackage.get(pkg)?.get(name);
      if (found) return found;
    }
    for (const nodesOfPackage of byPackage.values()) {
      const found = nodesOfPackage.get(name);
      if (found) return found;
    }
    return undefined;
  };
  const allNames = () => [...byPackage.values()].flatMap((m) => [...m.keys()]);
  const add = (node: ManifestNode, enabled: boolean) => {
    if (enabled) nodes[node.unique_id] = node;
    else disabled[node.unique_id] = node;
  };

  // Seeds
  for (const { path, pkg } of layouts.flatMap((pkg) => discoverFiles(config.dir, pkg.seedPaths, ['.csv']).map((path) => ({ path, pkg })))) {
    const name = basename(path, '.csv');
    const uniqueId = `seed.${pkg.name}.${name}`;
    const { root, folders } = splitPath(path, pkg.seedPaths);
    const props = seedProps.get(propsKey(pkg, name));
    seedProps.delete(propsKey(pkg, name));
    if (broken.seedProps.has(name)) {
      broken.names.add(name);
      continue;
    }
    try {
      const layers: ConfigLayer[] = [...folderLayers(pkg.seeds, [...folders, name], () => ({ file: projectFile }))];
      if (props) layers.push({ values: props.config.values, locate: props.config.locate });
      const fqn = [pkg.name, ...folders, name];
      const resolved = resolveSeedConfig(name, layers, uniqueId, config.flavor === 'dbt');
      const relativePath = path.slice(root.length + 1);
      const named = relationNamed({ resource_type: 'seed', name, unique_id: uniqueId, package_name: pkg.name, original_file_path: path, path: relativePath, fqn, config: resolved }, layers);
      const seedConfig = { ...resolved, ...named };
      const text = read(path);
      checkSeedCsv(text, path, seedConfig.delimiter);
      const seed: SeedNode = {
        resource_type: 'seed',
        unique_id: uniqueId,
        name,
        package_name: pkg.name,
        original_file_path: path,
        path: relativePath,
        fqn,
        tags: seedConfig.tags,
        description: props?.description ?? '',
        columns: props?.columns ?? {},
        checksum: sha256Text(text),
        config: seedConfig,
        relation: { schema: seedConfig.schema, identifier: seedConfig.alias },
        depends_on: { nodes: [], macros: [] },
      };
      const clash = byName.get(name, pkg.name);
      if (clash && seedConfig.enabled) {
        report(new ProjectError(`two nodes are named '${name}': ${clash.original_file_path} and ${path}`, { code: 'duplicate', location: { file: path } }));
        continue;
      }
      if (seedConfig.enabled) byName.set(seed);
      add(seed, seedConfig.enabled);
      if (seedConfig.enabled && props?.tests.length) testTargets.push({ node: seed, declarations: props.tests });
    } catch (error) {
      report(error);
      broken.names.add(name);
    }
  }

  // Sources
  const sourceTables = new Map<string, SourceNode>();
  for (const source of sourceProps) {
    for (const table of source.tables) {
      const sourcePackage = source.package ?? config.name;
      const uniqueId = `source.${sourcePackage}.${source.name}.${table.name}`;
      if (nodes[uniqueId] || disabled[uniqueId]) {
        report(new ProjectError(`source ${source.name}.${table.name} is declared twice`, { code: 'duplicate', location: { file: source.file, line: table.line } }));
        continue;
      }
      const node: SourceNode = {
        resource_type: 'source',
        unique_id: uniqueId,
        name: table.name,
        source_name: source.name,
        package_name: sourcePackage,
        original_file_path: source.file,
        path: source.file,
        fqn: [sourcePackage, source.name, table.name],
        tags: table.tags,
        description: table.description,
        columns: table.columns,
        external_location: table.externalLocation,
        loaded_at_field: table.loadedAtField,
        relation: { schema: source.schema, identifier: table.identifier },
        config: { enabled: table.enabled, tags: table.tags, ...(table.eventTime ? { event_time: table.eventTime } : {}) },
        depends_on: { nodes: [], macros: [] },
      };
      add(node, table.enabled);
      if (table.enabled) sourceTables.set(`${source.name}.${table.name}`, node);
      if (table.enabled && table.tests.length) testTargets.push({ node, declarations: table.tests });
    }
  }

  // Models and dbt snapshots (a snapshot is built as an scd2 model): first pass reads, scans and configures each.
  type Candidate = { path: string; pkg: PackageLayout; name: string; text: string; snapshot?: SnapshotBlock };
  const candidates: Candidate[] = [];
  for (const pkg of layouts) {
    for (const path of discoverFiles(config.dir, pkg.modelPaths, ['.sql'])) candidates.push({ path, pkg, name: basename(path, '.sql'), text: read(path) });
    // dbt's Python models: DuckDB runs SQL only here, and a model left out would vanish from the graph without a word.
    for (const path of discoverFiles(config.dir, pkg.modelPaths, ['.py'])) {
      report(new ProjectError(`${basename(path)} is a Python model: smelter runs SQL models only`, { code: 'project', location: { file: path, line: 1 }, hint: 'rewrite it as a .sql model, or move it out of the model paths' }));
    }
    for (const path of discoverFiles(config.dir, pkg.snapshotPaths, ['.sql'])) {
      try {
        const blocks = readSnapshotBlocks(path, read(path));
        if (blocks.length === 0) throw new ProjectError(`${path} is in a snapshot folder but has no {% snapshot name %} block`, { code: 'project', location: { file: path, line: 1 } });
        for (const block of blocks) candidates.push({ path, pkg, name: block.name, text: block.text, snapshot: block });
      } catch (error) {
        report(error);
      }
    }
  }
  const drafts: Draft[] = [];
  for (const { path, pkg, name, text, snapshot } of candidates) {
    const uniqueId = `${snapshot ? 'snapshot' : 'model'}.${pkg.name}.${name}`;
    const { root, folders } = splitPath(path, snapshot ? pkg.snapshotPaths : pkg.modelPaths);
    const props = (snapshot ? snapshotProps : modelProps).get(propsKey(pkg, name));
    (snapshot ? snapshotProps : modelProps).delete(propsKey(pkg, name));
    if (broken.modelProps.has(name)) {
      // Its properties could not be read: configured without them it might report errors that are
      // only their absence.
      broken.names.add(name);
      continue;
    }
    try {
      const scan = scanTemplate(text);
      rejectSnapshot(path, scan);
      if (scan.suspect) templates().checkSyntax(path, text, scan.suspect);
      let targetSchema: string | undefined;
      const refs: RefCall[] = [];
      const sources: SourceCall[] = [];
      const configCalls: ConfigLayer[] = [];
      // dbt renders every model at parse; a dbt project's macros (and packages') may ref anything.
      let needsRender = config.flavor === 'dbt';
      for (const call of scan.calls) {
        if (refersThroughMacro.has(call.name)) needsRender = true;
        if (call.name === 'ref' || call.name === 'source' || call.name === 'config') {
          if (!call.literal) {
            needsRender = true;
            continue;
          }
        }
        if (call.name === 'ref') {
          const args = call.args;
          const refName = args.length === 2 ? args[1] : args[0];
          if (typeof refName === 'string' && (args.length === 1 || args.length === 2)) refs.push({ name: refName, line: call.line, ...(args.length === 2 && typeof args[0] === 'string' ? { package: args[0] } : {}) });
          else needsRender = true;
        } else if (call.name === 'source') {
          const [s, t] = call.args;
          if (typeof s === 'string' && typeof t === 'string' && call.args.length === 2) sources.push({ source: s, table: t, line: call.line });
          else needsRender = true;
        } else if (call.name === 'config') {
          // config() under a condition applies only if that branch renders: ask the renderer.
          if (call.conditional) needsRender = true;
          const at: SourceLocation = { file: path, line: call.line, column: call.column };
          configCalls.push({ values: { ...call.kwargs }, locate: () => at });
        }
      }
      let parsedByRender = false;
      if (needsRender) {
        parsedByRender = true;
        const recorded = recordingRender(templates(), path, text, project, env, options.now ?? new Date(), name);
        for (const r of recorded.refs) if (!refs.some((x) => x.name === r.name && x.package === r.package)) refs.push(r);
        for (const s of recorded.sources) if (!sources.some((x) => x.source === s.source && x.table === s.table)) sources.push(s);
        configCalls.splice(0, configCalls.length, ...recorded.configs);
      }
      const layers: ConfigLayer[] = snapshot
        ? [SNAPSHOT_DEFAULTS, ...folderLayers(pkg.snapshots, [...folders, name], () => ({ file: projectFile }))]
        : [...folderLayers(pkg.models, [...folders, name], () => ({ file: projectFile }))];
      if (props) layers.push({ values: props.config.values, locate: props.config.locate });
      if (snapshot) {
        for (const layer of [...layers.splice(1), ...configCalls]) {
          const translated = translateSnapshotConfig(layer, uniqueId);
          layers.push(...translated.layers);
          targetSchema = translated.targetSchema ?? targetSchema;
        }
      } else {
        layers.push(...configCalls);
      }
      const resolved = resolveModelConfig(name, layers, uniqueId, config.flavor === 'dbt');
      const named = relationNamed(
        { resource_type: 'model', name, unique_id: uniqueId, package_name: pkg.name, original_file_path: path, path: path.slice(root.length + 1), fqn: [pkg.name, ...folders, name], config: resolved },
        layers,
      );
      // A snapshot's target_schema is the schema as written (dbt's legacy snapshot config).
      const modelConfig = { ...resolved, ...named, ...(targetSchema === undefined ? {} : { schema: targetSchema }) };
      drafts.push({ path, text, scan, refs, sources, config: modelConfig, parsedByRender, uniqueId, name, root, folders, props, packageName: pkg.name, snapshot: snapshot !== undefined });
    } catch (error) {
      // A model that calls a macro of a file that does not parse fails for that file's reason.
      if (![...scanTemplate(text).calledNames].some((m) => brokenMacros.has(m))) report(locateNodeError(error, uniqueId, path));
      broken.names.add(name);
    }
  }
  // In a dbt project, properties naming nothing are ignored with a warning, as dbt does ("did not
  // find matching node"); project.yml keeps its rule: a typo in a name is an error.
  for (const [props, kind, where] of [
    [modelProps, 'model', (name: string) => `models/**/${name}.sql`],
    [seedProps, 'seed', (name: string) => `seeds/**/${name}.csv`],
    [snapshotProps, 'snapshot', (name: string) => `{% snapshot ${name} %} block`],
  ] as const) {
    for (const [key, p] of props) {
      const name = key.split('\u0000')[1];
      (config.flavor === 'dbt' ? warn : report)(
        new ProjectError(`properties are given for ${kind} '${name}', but there is no ${where(name)}${config.flavor === 'dbt' ? ': they are ignored' : ''}`, {
          code: 'ref',
          location: { file: p.file, line: p.line, column: p.column },
          hint: didYouMean(name, drafts.map((d) => d.name)),
        }),
      );
    }
  }

  const calledNames = new Map<string, ReadonlySet<string>>();
  for (const draft of drafts) {
    const clash = byName.get(draft.name, draft.packageName);
    if (clash && draft.config.enabled) {
      report(new ProjectError(`two nodes are named '${draft.name}': ${clash.original_file_path} and ${draft.path}`, { code: 'duplicate', location: { file: draft.path } }));
      continue;
    }
    const model = toModelNode(draft);
    calledNames.set(model.unique_id, draft.scan.calledNames);
    if (draft.config.enabled) byName.set(model);
    add(model, draft.config.enabled);
    if (draft.config.enabled && draft.props?.tests.length) testTargets.push({ node: model, declarations: draft.props.tests });
  }

  // Data tests: generic ones on the nodes that declare them, singular ones from data-test-paths.
  const customTests = new Map<string, string[]>();
  for (const macro of Object.values(macros)) {
    if (macro.name.startsWith('test_')) customTests.set(macro.name.slice(5), [macro.unique_id, ...macro.depends_on.macros]);
  }
  // A package's generic tests are named with their namespace in YAML: `dbt_utils.equality`.
  for (const macro of Object.values(packageMacros)) {
    if (macro.name.startsWith('test_')) customTests.set(`${macro.package_name}.${macro.name.slice(5)}`, [macro.unique_id]);
  }
  const addTest = (test: { node: TestNode; enabled: boolean } | undefined) => {
    if (test === undefined) return;
    const { node, enabled } = test;
    const clash = nodes[node.unique_id] ?? disabled[node.unique_id];
    if (clash) {
      report(
        new ProjectError(`two tests are named '${node.name}' (also in ${clash.original_file_path}${'line' in clash && clash.line !== undefined ? `:${clash.line}` : ''})`, {
          code: 'duplicate',
          location: { file: node.original_file_path, line: node.line },
          hint: 'give one of them another name: (name: my_test) in its arguments',
        }),
      );
      return;
    }
    add(node, enabled);
  };
  const testContext = {
    projectName: config.name,
    customTests,
    resolveRef: (name: string, packageName?: string) => resolveRef(name, config.name, packageName),
    resolveSource: (source: string, table: string) => sourceTables.get(`${source}.${table}`),
    isBroken: (ref: { name: string } | { source: string; table: string }) => ('name' in ref ? broken.names.has(ref.name) : isBrokenSource(ref.source)),
  };
  for (const target of testTargets) {
    for (const declaration of target.declarations) {
      try {
        addTest(genericTest(target.node, declaration, testContext));
      } catch (error) {
        report(error);
      }
    }
  }
  for (const { path, pkg } of layouts.flatMap((pkg) => discoverFiles(config.dir, pkg.dataTestPaths, ['.sql']).map((path) => ({ path, pkg })))) {
    if (genericTestRoots.some((root) => path.startsWith(`${root}/`))) continue;
    try {
      const text = read(path);
      checkTemplateSyntax(path, text);
      addTest(singularTest(path, text, pkg.name));
    } catch (error) {
      report(locateNodeError(error, `test.${pkg.name}.${basename(path, '.sql')}`, path));
    }
  }

  // Second pass: resolve refs and sources now that every node is known.
  const disabledByName = new Map(Object.values(disabled).map((n) => [n.name, n]));
  for (const node of Object.values(nodes)) {
    if (node.resource_type !== 'model' && !(node.resource_type === 'test' && node.test_type === 'singular')) continue;
    const deps: string[] = [];
    for (const ref of node.refs) {
      const target = resolveRef(ref.name, node.package_name, ref.package);
      const location = { file: node.original_file_path, line: ref.line };
      if (!target && broken.names.has(ref.name)) {
        broken.incomplete.add(node.unique_id);
        continue;
      }
      if (!target) {
        const off = disabledByName.get(ref.name);
        const call = ref.package === undefined ? `ref('${ref.name}')` : `ref('${ref.package}', '${ref.name}')`;
        const message = off
          ? `${call}: ${off.resource_type} ${ref.name} is disabled (enabled: false)`
          : ref.package !== undefined && !byPackage.has(ref.package)
            ? `${call}: no package named ${ref.package}`
            : `${call}: no model or seed named ${ref.name}${ref.package === undefined ? '' : ` in package ${ref.package}`}`;
        report(new CompileError(message, { code: 'ref', location, node: node.unique_id, hint: off ? undefined : didYouMean(ref.name, ref.package === undefined ? allNames() : [...(byPackage.get(ref.package)?.keys() ?? [])]) }));
        continue;
      }
      if (!deps.includes(target.unique_id)) deps.push(target.unique_id);
    }
    for (const src of node.sources) {
      const target = sourceTables.get(`${src.source}.${src.table}`);
      if (!target && isBrokenSource(src.source)) {
        broken.incomplete.add(node.unique_id);
        continue;
      }
      if (!target) {
        report(
          new CompileError(`source('${src.source}', '${src.table}'): no such source table`, {
            code: 'ref',
            location: { file: node.original_file_path, line: src.line },
            node: node.unique_id,
            hint: didYouMean(`${src.source}.${src.table}`, sourceTables.keys()),
          }),
        );
        continue;
      }
      if (!deps.includes(target.unique_id)) deps.push(target.unique_id);
    }
    const used = new Set<string>();
    for (const called of calledNames.get(node.unique_id) ?? []) {
      if (!macros[called]) continue;
      used.add(called);
      for (const m of macroClosure(called)) used.add(m);
    }
    nodes[node.unique_id] = { ...node, depends_on: { nodes: deps, macros: [...used].sort().map((m) => macros[m].unique_id) } };
  }

  // Unit tests, now that each model's inputs are known.
  for (const declaration of unitTestDecls) {
    try {
      const test = unitTestNode(declaration, {
        projectName: config.name,
        resolveRef: (name) => resolveRef(name, config.name),
        resolveSource: (s, t) => sourceTables.get(`${s}.${t}`),
        nodes,
        isBroken: (name) => broken.names.has(name) || broken.incomplete.has(resolveRef(name, config.name)?.unique_id ?? ''),
      });
      if (test === undefined) continue;
      const { node, enabled } = test;
      if (nodes[node.unique_id] || disabled[node.unique_id]) {
        report(new ProjectError(`two unit tests of ${declaration.model} are named '${declaration.name}'`, { code: 'duplicate', location: { file: declaration.file, line: declaration.line } }));
        continue;
      }
      add(node, enabled);
    } catch (error) {
      report(error);
    }
  }

  // Fast-path templates need their vars to exist now; otherwise render them normally.
  for (const node of Object.values(nodes)) {
    if (node.resource_type !== 'model' || !node.fast_path) continue;
    const ok = node.fast_path.every((s) => s.kind !== 'var' || varIsRenderable(project.varValues, s));
    if (!ok) nodes[node.unique_id] = { ...node, fast_path: undefined };
  }

  const manifestMacros: Record<string, MacroDef> = { ...packageMacros };
  for (const macro of Object.values(macros)) manifestMacros[macro.unique_id] = macro;
  for (const warning of project.warnings ?? []) diagnostics.push(toDiagnostic(warning, 'warning'));
  const manifest: Manifest = { project_name: config.name, nodes, disabled, macros: manifestMacros, diagnostics, declared: declaredResources(declared, report) };
  if (!diagnostics.some((d) => d.severity === 'error')) {
    const cycle = findManifestCycle(manifest);
    if (cycle) {
      const names = cycle.map((id) => nodes[id]?.name ?? id);
      const first = nodes[cycle[0]];
      diagnostics.push(
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
    macroFiles,
    templates,
  };
}

const DECLARED_TYPES = { exposures: 'exposure', groups: 'group', semantic_models: 'semantic_model', metrics: 'metric', saved_queries: 'saved_query' } as const;

/** Exposures, groups and the semantic layer's entries by unique_id (`exposure.shop.weekly_report`); a name declared twice is an error. */
function declaredResources(
  entries: ReadonlyArray<DeclaredEntry & { readonly package: string; readonly file: string }>,
  report: (error: unknown) => void,
): Record<DeclaredKind, Record<string, DeclaredResource>> {
  const out: Record<DeclaredKind, Record<string, DeclaredResource>> = { exposures: {}, groups: {}, semantic_models: {}, metrics: {}, saved_queries: {} };
  for (const entry of entries) {
    const resourceType = DECLARED_TYPES[entry.kind];
    const uniqueId = `${resourceType}.${entry.package}.${entry.name}`;
    const earlier = out[entry.kind][uniqueId];
    if (earlier) {
      report(new ProjectError(`${resourceType.replace('_', ' ')} '${entry.name}' is declared twice (also in ${earlier.original_file_path}:${earlier.line})`, { code: 'duplicate', location: { file: entry.file, line: entry.line } }));
      continue;
    }
    out[entry.kind][uniqueId] = { resource_type: resourceType, unique_id: uniqueId, name: entry.name, package_name: entry.package, original_file_path: entry.file, line: entry.line, properties: entry.properties };
  }
  return out;
}

/** The root project as a package (first), then the installed ones. */
function packageLayouts(config: ProjectConfig): PackageLayout[] {
  const empty = { config: {}, folders: {} };
  const root: PackageLayout = {
    name: config.name,
    dir: '',
    modelPaths: config.modelPaths,
    macroPaths: config.macroPaths,
    seedPaths: config.seedPaths,
    dataTestPaths: config.dataTestPaths,
    snapshotPaths: config.snapshotPaths ?? SNAPSHOT_PATHS,
    models: config.models,
    seeds: config.seeds,
    snapshots: config.snapshots ?? empty,
    tests: config.tests ?? empty,
    vars: {},
  };
  return [root, ...config.packages];
}

/** A model between the two passes of parse: read and configured, its refs not yet resolved. */
interface Draft {
  readonly path: string;
  readonly text: string;
  readonly scan: ScanResult;
  readonly refs: RefCall[];
  readonly sources: SourceCall[];
  readonly config: ModelConfig;
  readonly parsedByRender: boolean;
  readonly uniqueId: string;
  readonly name: string;
  readonly root: string;
  readonly folders: string[];
  readonly props?: NodeProperties;
  readonly packageName: string;
  readonly snapshot?: boolean;
}

function toModelNode(draft: Draft): ModelNode {
  const projectName = draft.packageName;
  return {
    resource_type: 'model',
    unique_id: draft.uniqueId,
    name: draft.name,
    package_name: projectName,
    original_file_path: draft.path,
    path: draft.path.slice(draft.root.length + 1),
    fqn: [projectName, ...draft.folders, draft.name],
    tags: draft.config.tags,
    description: draft.props?.description ?? '',
    columns: draft.props?.columns ?? {},
    raw_code: draft.text,
    checksum: sha256Text(draft.text),
    config: draft.config,
    relation: { schema: draft.config.schema, identifier: draft.config.alias },
    refs: draft.refs,
    sources: draft.sources,
    depends_on: { nodes: [], macros: [] },
    fast_path: draft.parsedByRender ? undefined : fastPath(draft.scan),
    parsed_by_render: draft.parsedByRender,
    ...(draft.snapshot ? { snapshot: true } : {}),
  };
}

/** Segments for templates made of text and simple calls only; undefined otherwise. */
function fastPath(scan: ScanResult): FastSegment[] | undefined {
  const out: FastSegment[] = [];
  for (const part of scan.parts) {
    if (part.kind === 'text') out.push({ kind: 'text', text: part.text });
    else if (part.kind === 'comment') continue;
    else if (part.kind === 'complex') return undefined;
    else {
      const { call } = part;
      if (call.name === 'ref' && call.args.length === 1 && typeof call.args[0] === 'string' && Object.keys(call.kwargs).length === 0) {
        out.push({ kind: 'ref', name: call.args[0], line: call.line });
      } else if (call.name === 'source' && call.args.length === 2 && typeof call.args[0] === 'string' && typeof call.args[1] === 'string' && Object.keys(call.kwargs).length === 0) {
        out.push({ kind: 'source', source: call.args[0], table: call.args[1], line: call.line });
      } else if (call.name === 'var' && typeof call.args[0] === 'string' && call.args.length <= 2 && Object.keys(call.kwargs).length === 0) {
        out.push({ kind: 'var', name: call.args[0], hasDefault: call.args.length === 2, default: call.args[1], line: call.line });
      } else if (call.name === 'config' && call.args.length === 0) {
        out.push({ kind: 'config' });
      } else {
        return undefined;
      }
    }
  }
  return out;
}

/** A var segment renders on the fast path only when its value prints the way Nunjucks prints it. */
function varIsRenderable(varValues: Readonly<Record<string, unknown>>, s: Extract<FastSegment, { kind: 'var' }>): boolean {
  try {
    const v = lookupVar(varValues, s.name, s.hasDefault, s.default);
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  } catch {
    return false;
  }
}

const noRefs = {
  ref: () => {
    throw new Error('ref() is not available here');
  },
  source: () => {
    throw new Error('source() is not available here');
  },
  config: () => undefined,
  isIncremental: () => false,
  watermark: () => 'NULL',
};

/**
 * For templates the static reader cannot see through (a `ref()` of a computed name, `config()`
 * under a condition): render once with the real vars and target, recording what is called.
 */
function recordingRender(
  engine: TemplateEngine,
  path: string,
  text: string,
  project: LoadedProject,
  env: NodeJS.ProcessEnv,
  now: Date,
  name: string,
): { refs: RefCall[]; sources: SourceCall[]; configs: ConfigLayer[] } {
  const refs: RefCall[] = [];
  const sources: SourceCall[] = [];
  const configs: ConfigLayer[] = [];
  engine.render(
    path,
    text,
    buildRenderScope({
      resolver: {
        ref: (refName, packageName) => {
          refs.push({ name: refName, line: lastCallSite().line, ...(packageName === undefined ? {} : { package: packageName }) });
          return ephemeralCteName(refName);
        },
        source: (s, t) => {
          sources.push({ source: s, table: t, line: lastCallSite().line });
          return renderRelation({ schema: s, identifier: t });
        },
        config: (values) => {
          const site = { file: path, line: lastCallSite().line };
          configs.push({ values, locate: () => site });
        },
        isIncremental: () => false,
        watermark: () => 'NULL',
      },
      varValues: project.varValues,
      env,
      target: project.config.target,
      thisRelation: renderRelation({ schema: 'main', identifier: name }),
      runStartedAt: now,
      invocationId: '',
    }),
  );
  return { refs, sources, configs };
}

function memoizedClosure(calls: Map<string, ReadonlySet<string>>, macros: Record<string, MacroDef>) {
  const memo = new Map<string, Set<string>>();
  const visit = (name: string, seen: Set<string>): Set<string> => {
    const cached = memo.get(name);
    if (cached) return cached;
    const out = new Set<string>();
    for (const c of calls.get(name) ?? []) {
      if (!macros[c] || seen.has(c)) continue;
      out.add(c);
      seen.add(c);
      for (const d of visit(c, seen)) out.add(d);
    }
    memo.set(name, out);
    return out;
  };
  return (name: string) => visit(name, new Set([name]));
}

function splitPath(path: string, roots: readonly string[]): { root: string; folders: string[] } {
  const root = roots.map((r) => r.replace(/\/+$/, '')).find((r) => path.startsWith(`${r}/`)) ?? roots[0];
  const parts = path.slice(root.length + 1).split('/');
  return { root, folders: parts.slice(0, -1) };
}

/** Template errors found during parse become errors of the node, located in its file. */
/**
 * A `{% snapshot %}` block outside the snapshot folder: dbt reads snapshots only from
 * snapshot-paths, so one here would never run. One error at the block, never a silent skip.
 */
function rejectSnapshot(path: string, scan: ScanResult): void {
  if (scan.snapshot === undefined) return;
  throw new ProjectError(`a {% snapshot ${scan.snapshot.name} %} block belongs in a snapshot folder, not here`, {
    code: 'project',
    location: { file: path, line: scan.snapshot.line, column: scan.snapshot.column },
    hint: 'move it to snapshots/ (snapshot-paths in dbt_project.yml)',
  });
}

export function locateNodeError(error: unknown, uniqueId: string | undefined, path: string): unknown {
  if (error instanceof TemplateLocatedError) {
    return new CompileError(error.message, {
      code: 'template',
      location: { file: error.templateFile || path, line: error.line, column: error.column },
      hint: error.hint,
      node: uniqueId,
      cause: error,
    });
  }
  return error;
}

export function toDiagnostic(error: SmelterError, severity: 'error' | 'warning' = 'error'): Diagnostic {
  return {
    severity,
    code: error.code,
    message: error.message,
    file: error.location?.file,
    line: error.location?.line,
    column: error.location?.column,
    hint: error.hint,
    node: error.node,
  };
}
