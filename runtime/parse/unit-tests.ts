import { sha256Text } from '../util/sha256-text.js';
import { ProjectError, type SourceLocation } from '../errors.js';
import type { ManifestNode, ModelNode, SeedNode, SourceNode, UnitTestNode } from '../manifest/types.js';
import { didYouMean } from '../util/did-you-mean.js';
import type { UnitTestDeclaration } from './properties.js';

/**
 * dbt's unit tests from their YAML declarations: the model they test and, for each of its inputs,
 * the node the given rows stand for. Pure; running one is execute/run-unit-test.ts's job.
 */
export interface UnitTestContext {
  readonly projectName: string;
  readonly resolveRef: (name: string) => ModelNode | SeedNode | undefined;
  readonly resolveSource: (source: string, table: string) => SourceNode | undefined;
  readonly nodes: Readonly<Record<string, ManifestNode>>;
  /**
   * A model that failed to parse, or one some of whose inputs did (their errors are reported): a
   * unit test of it, or giving rows for it, cannot be checked and is not an error of its own.
   */
  readonly isBroken?: (name: string) => boolean;
}

/** The unit test, or undefined when its model cannot be checked (see `isBroken`). */
export function unitTestNode(declaration: UnitTestDeclaration, ctx: UnitTestContext): { node: UnitTestNode; enabled: boolean } | undefined {
  const fail = (message: string, location: SourceLocation = { file: declaration.file, line: declaration.line }, hint?: string) =>
    new ProjectError(`unit test ${declaration.name}: ${message}`, { code: 'config', location, hint });
  if (ctx.isBroken?.(declaration.model)) return undefined;
  const target = ctx.resolveRef(declaration.model);
  if (!target || target.resource_type !== 'model') {
    throw fail(`no model named ${declaration.model}`, declaration.modelLocation, didYouMean(declaration.model, Object.values(ctx.nodes).filter((n) => n.resource_type === 'model').map((n) => n.name)));
  }
  const model = ctx.nodes[target.unique_id] as ModelNode;
  const inputs = model.depends_on.nodes;
  const given = declaration.given.map((g) => {
    if (g.input.trim() === 'this') return { input: 'this', rows: g.rows };
    const ref = /^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(g.input);
    const source = /^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(g.input);
    const node = ref ? ctx.resolveRef(ref[1]) : source ? ctx.resolveSource(source[1], source[2]) : undefined;
    if (!ref && !source) throw fail(`given input ${JSON.stringify(g.input)} must be ref('model'), source('name', 'table') or this`, g.location);
    if (!node || !inputs.includes(node.unique_id)) {
      throw fail(`given input ${g.input} is not an input of ${model.name} (its inputs: ${inputs.map(inputText(ctx)).join(', ') || 'none'})`, g.location);
    }
    return { input: g.input.trim(), node: node.unique_id, rows: g.rows };
  });
  const missing = inputs.filter((id) => !given.some((g) => g.node === id));
  if (missing.length > 0) throw fail(`every input of ${model.name} needs given rows; missing ${missing.map(inputText(ctx)).join(', ')}`);
  const name = declaration.name;
  const node: UnitTestNode = {
    resource_type: 'unit_test',
    unique_id: `unit_test.${ctx.projectName}.${model.name}.${name}`,
    name,
    package_name: ctx.projectName,
    original_file_path: declaration.file,
    path: declaration.file,
    fqn: [ctx.projectName, model.name, name],
    tags: declaration.tags,
    description: '',
    columns: {},
    model: model.unique_id,
    given,
    expect: declaration.expect,
    overrides: { vars: declaration.vars, ...(Object.keys(declaration.envVars).length > 0 ? { env_vars: declaration.envVars } : {}), ...(declaration.isIncremental !== undefined ? { is_incremental: declaration.isIncremental } : {}) },
    config: { enabled: declaration.enabled, tags: declaration.tags },
    checksum: sha256Text(JSON.stringify([declaration.model, given, declaration.expect, declaration.vars, declaration.isIncremental])),
    // Not an edge of the graph: a unit test reads no data, and `build` runs it before its model.
    depends_on: { nodes: [], macros: model.depends_on.macros },
    line: declaration.line,
  };
  return { node, enabled: declaration.enabled };
}

const inputText = (ctx: UnitTestContext) => (id: string) => {
  const n = ctx.nodes[id];
  return n?.resource_type === 'source' ? `source('${n.source_name}', '${n.name}')` : `ref('${n?.name ?? id}')`;
};
