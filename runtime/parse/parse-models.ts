import { basename } from 'node:path';
import { ProjectError, type SourceLocation } from '../errors.js';
import type { ModelConfig, ModelNode, RefCall, SourceCall } from '../manifest/types.js';
import type { PackageLayout } from '../project/project-config.js';
import { buildRenderScope } from '../render/context.js';
import { ephemeralCteName, renderRelation } from '../render/relation.js';
import { lastCallSite } from '../template/strict-compiler.js';
import type { TemplateEngine } from '../template/template-engine.js';
import { sha256Text } from '../util/sha256-text.js';
import { discoverFiles, splitPath } from './discover.js';
import { fastPath } from './fast-path.js';
import { scanTemplate, type ScanResult } from './jinja-scan.js';
import { readProjectFile, type ParseContext } from './parse-context.js';
import { locateNodeError, rejectSnapshot } from './parse-errors.js';
import type { ProjectMacros } from './parse-macros.js';
import type { ParsedNodes } from './parsed-nodes.js';
import { propertiesKey, type ProjectProperties } from './parse-properties.js';
import type { ParseTemplates } from './parse-templates.js';
import type { NodeProperties } from './properties.js';
import { folderLayers, resolveModelConfig, type ConfigLayer } from './resolve-config.js';
import { readSnapshotBlocks, SNAPSHOT_DEFAULTS, translateSnapshotConfig, type SnapshotBlock } from './snapshots.js';

/** A model between the two passes of parse: read and configured, its refs not yet resolved. */
export interface ModelDraft {
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

type Candidate = { path: string; pkg: PackageLayout; name: string; text: string; snapshot?: SnapshotBlock };

/**
 * Models and dbt snapshots (a snapshot is built as an scd2 model), first pass: reads, scans and
 * configures each. Their properties are taken out of `properties`.
 */
export function draftModels(ctx: ParseContext, properties: ProjectProperties, macros: ProjectMacros, templates: ParseTemplates): ModelDraft[] {
  const drafts: ModelDraft[] = [];
  for (const candidate of modelCandidates(ctx)) {
    const draft = draftModel(ctx, candidate, properties, macros, templates);
    if (draft !== undefined) drafts.push(draft);
  }
  return drafts;
}

/** One model or snapshot read, scanned and configured; undefined when it cannot be (reported, or its properties' error is). */
function draftModel(ctx: ParseContext, candidate: Candidate, properties: ProjectProperties, macros: ProjectMacros, templates: ParseTemplates): ModelDraft | undefined {
  const { config, diagnostics, broken, projectFile } = ctx;
  const { path, pkg, name, text, snapshot } = candidate;
  const uniqueId = `${snapshot ? 'snapshot' : 'model'}.${pkg.name}.${name}`;
  const { root, folders } = splitPath(path, snapshot ? pkg.snapshotPaths : pkg.modelPaths);
  const props = (snapshot ? properties.snapshots : properties.models).get(propertiesKey(pkg, name));
  (snapshot ? properties.snapshots : properties.models).delete(propertiesKey(pkg, name));
  if (broken.modelProps.has(name)) {
    // Its properties could not be read: configured without them it might report errors that are
    // only their absence.
    broken.names.add(name);
    return undefined;
  }
  try {
    const scan = scanTemplate(text);
    rejectSnapshot(path, scan);
    if (scan.suspect) templates.engine().checkSyntax(path, text, scan.suspect);
    let targetSchema: string | undefined;
    const refs: RefCall[] = [];
    const sources: SourceCall[] = [];
    const configCalls: ConfigLayer[] = [];
    // dbt renders every model at parse; a dbt project's macros (and packages') may ref anything.
    let needsRender = config.flavor === 'dbt';
    for (const call of scan.calls) {
      if (macros.refersThroughMacro.has(call.name)) needsRender = true;
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
      const recorded = recordingRender(templates.engine(), path, text, ctx, name);
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
    const named = templates.relationName(
      { resource_type: 'model', name, unique_id: uniqueId, package_name: pkg.name, original_file_path: path, path: path.slice(root.length + 1), fqn: [pkg.name, ...folders, name], config: resolved },
      layers,
    );
    // A snapshot's target_schema is the schema as written (dbt's legacy snapshot config).
    const modelConfig = { ...resolved, ...named, ...(targetSchema === undefined ? {} : { schema: targetSchema }) };
    return { path, text, scan, refs, sources, config: modelConfig, parsedByRender, uniqueId, name, root, folders, props, packageName: pkg.name, snapshot: snapshot !== undefined };
  } catch (error) {
    // A model that calls a macro of a file that does not parse fails for that file's reason.
    if (![...scanTemplate(text).calledNames].some((m) => macros.broken.has(m))) diagnostics.report(locateNodeError(error, uniqueId, path));
    broken.names.add(name);
    return undefined;
  }
}

/** Each package's model files and snapshot blocks, read; a file that cannot be one is reported. */
function modelCandidates(ctx: ParseContext): Candidate[] {
  const { config, diagnostics } = ctx;
  const candidates: Candidate[] = [];
  for (const pkg of ctx.layouts) {
    for (const path of discoverFiles(config.dir, pkg.modelPaths, ['.sql'])) candidates.push({ path, pkg, name: basename(path, '.sql'), text: readProjectFile(ctx, path) });
    // dbt's Python models: DuckDB runs SQL only here, and a model left out would vanish from the graph without a word.
    for (const path of discoverFiles(config.dir, pkg.modelPaths, ['.py'])) {
      diagnostics.report(new ProjectError(`${basename(path)} is a Python model: smelter runs SQL models only`, { code: 'project', location: { file: path, line: 1 }, hint: 'rewrite it as a .sql model, or move it out of the model paths' }));
    }
    for (const path of discoverFiles(config.dir, pkg.snapshotPaths, ['.sql'])) {
      try {
        const blocks = readSnapshotBlocks(path, readProjectFile(ctx, path));
        if (blocks.length === 0) throw new ProjectError(`${path} is in a snapshot folder but has no {% snapshot name %} block`, { code: 'project', location: { file: path, line: 1 } });
        for (const block of blocks) candidates.push({ path, pkg, name: block.name, text: block.text, snapshot: block });
      } catch (error) {
        diagnostics.report(error);
      }
    }
  }
  return candidates;
}

/**
 * The drafts as nodes, in order; a second enabled node of a name in a package is an error.
 * Returns the names each model's template calls, for its macro dependencies.
 */
export function addModels(ctx: ParseContext, drafts: readonly ModelDraft[], parsed: ParsedNodes): Map<string, ReadonlySet<string>> {
  const calledNames = new Map<string, ReadonlySet<string>>();
  for (const draft of drafts) {
    const clash = parsed.named(draft.name, draft.packageName);
    if (clash && draft.config.enabled) {
      ctx.diagnostics.report(new ProjectError(`two nodes are named '${draft.name}': ${clash.original_file_path} and ${draft.path}`, { code: 'duplicate', location: { file: draft.path } }));
      continue;
    }
    const model = toModelNode(draft);
    calledNames.set(model.unique_id, draft.scan.calledNames);
    if (draft.config.enabled) parsed.register(model);
    parsed.add(model, draft.config.enabled);
    if (draft.config.enabled && draft.props?.tests.length) parsed.testTargets.push({ node: model, declarations: draft.props.tests });
  }
  return calledNames;
}

function toModelNode(draft: ModelDraft): ModelNode {
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

/**
 * For templates the static reader cannot see through (a `ref()` of a computed name, `config()`
 * under a condition): render once with the real vars and target, recording what is called.
 */
function recordingRender(engine: TemplateEngine, path: string, text: string, ctx: ParseContext, name: string): { refs: RefCall[]; sources: SourceCall[]; configs: ConfigLayer[] } {
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
      varValues: ctx.project.varValues,
      env: ctx.env,
      target: ctx.project.config.target,
      thisRelation: renderRelation({ schema: 'main', identifier: name }),
      runStartedAt: ctx.now ?? new Date(),
      invocationId: '',
    }),
  );
  return { refs, sources, configs };
}
