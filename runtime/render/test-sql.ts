import { CompileError } from '../errors.js';
import type { ModelNode, SeedNode, SourceNode, TestNode } from '../manifest/types.js';
import { locateNodeError } from '../parse/parse-project.js';
import { templateLiteral } from '../parse/naming-macros.js';
import { buildRenderScope, type ContextResolver } from './context.js';
import { quoteIdentifier as q, quoteLiteral, renderRelation } from './relation.js';
import { renderSource, renderTemplateNode, type RenderEnvironment } from './render-model.js';

/**
 * A data test's query: its rows are the failures. Built-in generic tests are SQL written here;
 * a `{% test %}` macro is called with the tested relation; a singular test is its own template.
 */
export function renderTest(node: TestNode, renv: RenderEnvironment): string {
  if (node.test_type === 'singular') return renderTemplateNode(node as TestNode & { raw_code: string }, renv);
  const target = renv.manifest.nodes[node.attached_node!] as ModelNode | SeedNode | SourceNode;
  const model = testedRelation(node, target, renv);
  const kwargs = node.test_metadata!.kwargs;
  const column = typeof kwargs.column_name === 'string' ? q(kwargs.column_name) : undefined;
  // The project's own test of a built-in's name replaces it; relationships' `to` is then the parent's relation, as dbt gives it.
  if (renv.manifest.macros[`macro.${renv.manifest.project_name}.test_${node.test_metadata!.name}`]) {
    const to = node.test_metadata!.name === 'relationships' && typeof kwargs.to === 'string' ? { to: relationOfRef(kwargs.to, node, renv) } : undefined;
    return renderCustomTest(node, model, renv, to);
  }
  switch (node.test_metadata!.name) {
    case 'not_null':
      return `select * from ${model} where ${column} is null`;
    case 'unique':
      return `select ${column} as unique_field, count(*) as n_records from ${model} where ${column} is not null group by ${column} having count(*) > 1`;
    case 'accepted_values': {
      const values = (kwargs.values as unknown[]).map((v) => (kwargs.quote === false ? String(v) : quoteLiteral(String(v)))).join(', ');
      return `select ${column} as value_field, count(*) as n_records from ${model} where ${column} not in (${values}) group by ${column}`;
    }
    case 'relationships': {
      const parent = relationOfRef(String(kwargs.to), node, renv);
      return (
        `select child.${column} as from_field from ${model} as child ` +
        `where child.${column} is not null and not exists (select 1 from ${parent} as parent where parent.${q(String(kwargs.field))} = child.${column})`
      );
    }
    case 'expression_is_true':
      return `select * from ${model} where not (${column ? `${column} ` : ''}${String(kwargs.expression)})`;
    case 'unique_combination_of_columns': {
      const columns = (kwargs.combination_of_columns as string[]).map(q).join(', ');
      return `select ${columns}, count(*) as n_records from ${model} group by ${columns} having count(*) > 1`;
    }
    default:
      return renderCustomTest(node, model, renv);
  }
}

/** The tested relation, filtered by the test's `where`. */
function testedRelation(node: TestNode, target: ModelNode | SeedNode | SourceNode, renv: RenderEnvironment): string {
  if (target.resource_type === 'model' && target.config.materialized === 'ephemeral') {
    throw new CompileError(`${node.name}: ${target.name} is ephemeral, so there is no relation to test`, { node: node.unique_id, location: { file: node.original_file_path, line: node.line } });
  }
  const relation = target.resource_type === 'source' ? (renv.sourceRelationOf?.(target) ?? renderSource(target, renv.project.config.dir)) : renv.relationOf ? renv.relationOf(target) : renderRelation(target.relation);
  return node.config.where ? `(select * from ${relation} where ${node.config.where})` : relation;
}

/** relationships' `to` (a ref or source the parser resolved into depends_on). */
function relationOfRef(to: string, node: TestNode, renv: RenderEnvironment): string {
  for (const id of node.depends_on.nodes) {
    if (id === node.attached_node && node.depends_on.nodes.length > 1) continue;
    const dep = renv.manifest.nodes[id];
    if (dep?.resource_type === 'source') return renv.sourceRelationOf?.(dep) ?? renderSource(dep, renv.project.config.dir);
    if (dep?.resource_type === 'model' || dep?.resource_type === 'seed') return renv.relationOf ? renv.relationOf(dep) : renderRelation(dep.relation);
  }
  throw new CompileError(`${node.name}: cannot resolve ${to}`, { node: node.unique_id, location: { file: node.original_file_path, line: node.line } });
}

/** `{{ test_<name>(model=..., column_name=..., <arguments>) }}`, rendered with the project's macros. */
function renderCustomTest(node: TestNode, model: string, renv: RenderEnvironment, resolved: Readonly<Record<string, string>> = {}): string {
  const args = { model, ...node.test_metadata!.kwargs, ...resolved };
  const call = `{{ test_${node.test_metadata!.name}(${Object.entries(args)
    .map(([k, v]) => `${k}=${templateLiteral(v)}`)
    .join(', ')}) }}`;
  const refusing = (what: string) => () => {
    throw new CompileError(`${node.name}: a generic test gets its relation as model; it cannot call ${what}()`, { node: node.unique_id });
  };
  const resolver: ContextResolver = { ref: refusing('ref'), source: refusing('source'), config: () => undefined, isIncremental: () => false, watermark: refusing('watermark') };
  try {
    return renv.templates().render(
      node.original_file_path,
      call,
      buildRenderScope({
        resolver,
        varValues: renv.project.varValues,
        env: renv.env,
        target: renv.project.config.target,
        runStartedAt: renv.runStartedAt,
        invocationId: renv.invocationId,
      }),
    );
  } catch (error) {
    throw locateNodeError(error, node.unique_id, node.original_file_path);
  }
}
