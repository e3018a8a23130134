import { isAbsolute, join } from 'node:path';
import { CompileError } from '../errors.js';
import type { AnalysisNode, Manifest, ModelNode, SeedNode, SourceNode, TestNode } from '../manifest/types.js';
import type { LoadedProject } from '../project/load-project.js';
import type { TemplateEngine } from '../template/template-engine.js';
import { TemplateUserError } from '../template/strict-compiler.js';
import { locateNodeError } from '../parse/parse-project.js';
import { buildRenderScope, lookupVar, type ContextResolver } from './context.js';
import { ephemeralCteName, quoteIdentifier, quoteLiteral, renderRelation } from './relation.js';
import { injectCtes } from './inject-ctes.js';
import type { DatabaseAnswers } from './query-table.js';
import { catalogName, type RenderFlags } from './project-context.js';
import { RelationObject, type RelationKind } from './relation-object.js';

/** What rendering needs from the run: the project, the compiled templates and the run's identity. */
export interface RenderEnvironment {
  readonly manifest: Manifest;
  readonly project: LoadedProject;
  readonly templates: () => TemplateEngine;
  readonly env: NodeJS.ProcessEnv;
  readonly runStartedAt: Date;
  readonly invocationId: string;
  /** The relation a ref() to this node reads (committed data); defaults to its database relation. */
  readonly relationOf?: (node: ModelNode | SeedNode) => string;
  /** What a source() reads; defaults to its table or files (unit tests give rows instead). */
  readonly sourceRelationOf?: (node: SourceNode) => string;
  readonly isIncremental?: (node: ModelNode) => boolean;
  readonly watermark?: (node: ModelNode) => string;
  /** A microbatch model's batch: inputs that declare `event_time` are filtered to it. */
  readonly batch?: BatchWindow;
  /** The database a render may query (`execute` is true); absent at parse and in unit tests. */
  readonly database?: DatabaseAnswers;
  /** The command rendering (`flags`). */
  readonly flags?: RenderFlags;
  /** Receives the model's `set_sql_header` blocks. */
  readonly sqlHeader?: (sql: string) => void;
}

/** The parts of a template's context that come from the run, not from the node rendered. */
export function runContext(renv: RenderEnvironment) {
  return {
    varValues: renv.project.varValues,
    env: renv.env,
    target: renv.project.config.target,
    runStartedAt: renv.runStartedAt,
    invocationId: renv.invocationId,
    database: renv.database,
    manifest: renv.manifest,
    flags: renv.flags,
  };
}

/** What a model is in the database, as dbt's relation types name it. */
export function relationKindOf(node: ModelNode | SeedNode): RelationKind {
  if (node.resource_type === 'seed') return 'table';
  if (node.config.materialized === 'ephemeral') return 'cte';
  return node.config.materialized === 'view' || node.config.external ? 'view' : 'table';
}

/** A half-open window of event time, [start, end), as ISO timestamps. */
export interface BatchWindow {
  readonly start: string;
  readonly end: string;
}

/** `relation` limited to the rows of `window` by its event-time column. */
export function filterToBatch(relation: string, eventTime: string, window: BatchWindow): string {
  const col = quoteIdentifier(eventTime);
  return `(SELECT * FROM ${relation} WHERE ${col} >= CAST(${quoteLiteral(window.start)} AS TIMESTAMP) AND ${col} < CAST(${quoteLiteral(window.end)} AS TIMESTAMP))`;
}

/**
 * How a source reads: its table, or its external files. A relative local location is relative to
 * the project directory (SPEC §1), so it is made absolute: DuckDB would read it from the working
 * directory, and a view over it would break elsewhere.
 */
export function renderSource(node: SourceNode, projectDir: string): string {
  if (node.external_location === undefined) return renderRelation(node.relation);
  const location = /^[a-z][a-z0-9+.-]*:\/\//i.test(node.external_location) || isAbsolute(node.external_location)
    ? node.external_location
    : join(projectDir, node.external_location);
  return readFilesSql(node.external_location, quoteLiteral(location));
}

/**
 * The table function that reads a source's files, by the format its location names: `files` is a
 * quoted glob or a list of quoted paths.
 */
export function readFilesSql(location: string, files: string): string {
  if (/\.csv(\.gz)?$/i.test(location)) return `read_csv(${files}, union_by_name = true)`;
  if (/\.jsonl?(\.gz)?$/i.test(location)) return `read_json_auto(${files}, union_by_name = true)`;
  return `read_parquet(${files}, union_by_name = true)`;
}

/**
 * The full SQL of one model with the run's real context: ephemeral models it refers to (also
 * through other ephemerals) are inlined as CTEs, in dependency order.
 */
export function renderModel(node: ModelNode, renv: RenderEnvironment): string {
  return renderTemplateNode(node, renv);
}

/** A node rendered from its own SQL template: a model, an analysis, or a singular data test. */
export type TemplateNode = ModelNode | AnalysisNode | (TestNode & { readonly raw_code: string });

/** The full SQL of a model or singular test, its ephemeral models inlined as CTEs. */
export function renderTemplateNode(node: TemplateNode, renv: RenderEnvironment): string {
  const ctes: EphemeralCte[] = [];
  const sql = renderOne(node, renv, ctes, [node.unique_id]);
  return injectCtes(sql, ctes);
}

/** An ephemeral model's SQL as a CTE of the query that reads it. */
export interface EphemeralCte {
  readonly name: string;
  readonly sql: string;
}

/** The CTEs that make an ephemeral model readable: those it reads, in dependency order, then its own. */
export function ephemeralCtes(node: ModelNode, renv: RenderEnvironment): EphemeralCte[] {
  const ctes: EphemeralCte[] = [];
  const sql = renderOne(node, renv, ctes, [node.unique_id]);
  return [...ctes, { name: ephemeralCteName(node.name), sql }];
}

function renderOne(node: TemplateNode, renv: RenderEnvironment, ctes: EphemeralCte[], stack: string[]): string {
  const { manifest } = renv;
  const catalog = catalogName(renv.project.config.target);
  const byName = (name: string): ModelNode | SeedNode | undefined => {
    for (const id of node.depends_on.nodes) {
      const dep = manifest.nodes[id];
      if (dep && (dep.resource_type === 'model' || dep.resource_type === 'seed') && dep.name === name) return dep;
    }
    return undefined;
  };
  /** What ref(name) reads: an ephemeral model's CTE (rendered now, once), or a relation as SQL text (filtered to the batch). */
  const refTarget = (name: string): { readonly cte: string } | { readonly dep: ModelNode | SeedNode; readonly text: string } => {
    const dep = byName(name);
    if (!dep) {
      throw new TemplateUserError(
        `ref('${name}') was not seen when the project was parsed`,
        `write the call with a literal name, or add a comment: -- depends_on: {{ ref('${name}') }}`,
      );
    }
    if (dep.resource_type === 'model' && dep.config.materialized === 'ephemeral') {
      const cteName = ephemeralCteName(dep.name);
      if (!ctes.some((c) => c.name === cteName)) {
        const cteSql = renderOne(dep, renv, ctes, [...stack, dep.unique_id]);
        if (!ctes.some((c) => c.name === cteName)) ctes.push({ name: cteName, sql: cteSql });
      }
      return { cte: cteName };
    }
    const relation = renv.relationOf ? renv.relationOf(dep) : renderRelation(dep.relation);
    const text = renv.batch && dep.resource_type === 'model' && dep.config.event_time ? filterToBatch(relation, dep.config.event_time, renv.batch) : relation;
    return { dep, text };
  };
  const resolver: ContextResolver = {
    ref(name) {
      const target = refTarget(name);
      if ('cte' in target) return new RelationObject({ identifier: target.cte, type: 'cte' });
      return new RelationObject({ ...target.dep.relation, database: catalog, type: relationKindOf(target.dep), text: target.text });
    },
    source(sourceName, tableName) {
      const id = node.depends_on.nodes.find((d) => {
        const n = manifest.nodes[d];
        return n?.resource_type === 'source' && n.source_name === sourceName && n.name === tableName;
      });
      if (!id) throw new TemplateUserError(`source('${sourceName}', '${tableName}') was not seen when the project was parsed`);
      const sourceNode = manifest.nodes[id] as SourceNode;
      const relation = renv.sourceRelationOf ? renv.sourceRelationOf(sourceNode) : renderSource(sourceNode, renv.project.config.dir);
      const text = renv.batch && sourceNode.config.event_time ? filterToBatch(relation, sourceNode.config.event_time, renv.batch) : relation;
      return new RelationObject({ ...sourceNode.relation, database: catalog, type: 'table', text });
    },
    config: () => undefined,
    isIncremental: () => (node.resource_type === 'model' && renv.isIncremental?.(node)) || false,
    watermark: () => {
      if (!renv.watermark || node.resource_type !== 'model') throw new TemplateUserError('watermark() is only available in an incremental model, where is_incremental() is true');
      return renv.watermark(node);
    },
  };
  try {
    if (node.resource_type === 'model' && node.fast_path) return renderFast(node, resolver, refTarget, renv.project.varValues);
    return renv.templates().render(
      node.original_file_path,
      node.raw_code,
      buildRenderScope({
        ...runContext(renv),
        resolver,
        thisRelation:
          node.resource_type === 'model'
            ? new RelationObject({ ...node.relation, database: catalog, type: relationKindOf(node), text: renv.relationOf ? renv.relationOf(node) : renderRelation(node.relation) })
            : undefined,
        node,
        sqlHeader: stack.length === 1 ? renv.sqlHeader : undefined,
      }),
    );
  } catch (error) {
    const located = locateNodeError(error, node.unique_id, node.original_file_path);
    if (located instanceof CompileError && stack.length > 1) {
      throw new CompileError(located.message, {
        code: located.code,
        location: located.location,
        hint: located.hint,
        node: stack[0],
        cause: error,
      });
    }
    throw located;
  }
}

/** Text and literal calls only: the same output as the template engine, without it. */
function renderFast(
  node: ModelNode,
  resolver: ContextResolver,
  refTarget: (name: string) => { readonly cte: string } | { readonly text: string },
  varValues: Readonly<Record<string, unknown>>,
): string {
  let out = '';
  for (const segment of node.fast_path!) {
    switch (segment.kind) {
      case 'text':
        out += segment.text;
        break;
      case 'ref': {
        // What the relation object ref() returns renders as: its text, or a CTE's name.
        const target = refTarget(segment.name);
        out += 'cte' in target ? target.cte : target.text;
        break;
      }
      case 'source':
        out += resolver.source(segment.source, segment.table);
        break;
      case 'var':
        out += String(lookupVar(varValues, segment.name, segment.hasDefault, segment.default));
        break;
      case 'config':
        break;
    }
  }
  return out;
}
