import { CompileError } from '../errors.js';
import type { ModelNode, SeedNode, SourceNode, TestNode } from '../manifest/types.js';
import { locateNodeError } from '../parse/parse-project.js';
import { buildRenderScope, type ContextResolver } from './context.js';
import { CALL_ARGUMENT } from '../parse/data-tests.js';
import { templateLiteral } from '../parse/naming-macros.js';
import { TemplateUserError } from '../template/strict-compiler.js';
import type { RenderScope } from '../template/template-engine.js';
import { ephemeralCteName, quoteIdentifier as q, quoteLiteral, renderRelation } from './relation.js';
import { ephemeralCtes, relationKindOf, renderSource, renderTemplateNode, runContext, type EphemeralCte, type RenderEnvironment } from './render-model.js';
import { injectCtes } from './inject-ctes.js';
import { catalogName } from './project-context.js';
import { RelationObject } from './relation-object.js';

/**
 * A data test's query: its rows are the failures. Built-in generic tests are SQL written here;
 * a `{% test %}` macro is called with the tested relation; a singular test is its own template.
 */
export function renderTest(node: TestNode, renv: RenderEnvironment): string {
  return renderTestQuery(node, renv).sql;
}

/**
 * The query, and the config its template set with `config()` (dbt-utils' equality sets its
 * `fail_calc` so): that config applies where the test's YAML config is silent.
 */
export function renderTestQuery(node: TestNode, renv: RenderEnvironment): { sql: string; config: Readonly<Record<string, unknown>> } {
  const config: Record<string, unknown> = {};
  // Ephemeral models the test reads (the tested one, ref() arguments) become CTEs of its query, as in dbt.
  const ctes: EphemeralCte[] = [];
  const sql = renderTestSql(node, renv, ctes, (values) => Object.assign(config, values));
  return { sql: injectCtes(sql, ctes), config };
}

function renderTestSql(node: TestNode, renv: RenderEnvironment, ctes: EphemeralCte[], onConfig: (values: Record<string, unknown>) => void): string {
  if (node.test_type === 'singular') return renderTemplateNode(node as TestNode & { raw_code: string }, renv);
  const target = renv.manifest.nodes[node.attached_node!] as ModelNode | SeedNode | SourceNode;
  const model = testedRelation(node, target, renv, ctes);
  const kwargs = node.test_metadata!.kwargs;
  const column = typeof kwargs.column_name === 'string' ? q(kwargs.column_name) : undefined;
  // A `{% test %}` macro (the project's, or a package's: `dbt_utils.equality`); the project's own test of a built-in's name replaces it.
  const macroId = node.depends_on.macros[0];
  if (macroId !== undefined && macroId.startsWith('macro.')) return renderCustomTest(node, model, renv, ctes, onConfig);
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
      const parent = relationOfRef(String(kwargs.to), node, renv, ctes);
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
      return renderCustomTest(node, model, renv, ctes, onConfig);
  }
}

/** The tested relation, filtered by the test's `where`. */
function testedRelation(node: TestNode, target: ModelNode | SeedNode | SourceNode, renv: RenderEnvironment, ctes: EphemeralCte[]): RelationObject {
  const relation = relationObjectOf(target, renv, ctes);
  if (!node.config.where) return relation;
  // dbt tests the filtered rows: the relation keeps its parts (adapter calls still find it) and renders as the subquery.
  return new RelationObject({ database: relation.database, schema: relation.schema, identifier: relation.identifier, type: relation.type, text: `(select * from ${relation} where ${node.config.where})` });
}

/** A model's, seed's or source's relation as templates see it: its parts, and the text a run reads. */
function relationObjectOf(dep: ModelNode | SeedNode | SourceNode, renv: RenderEnvironment, ctes: EphemeralCte[]): RelationObject {
  const database = catalogName(renv.project.config.target);
  if (dep.resource_type === 'model' && dep.config.materialized === 'ephemeral') {
    for (const cte of ephemeralCtes(dep, renv)) if (!ctes.some((c) => c.name === cte.name)) ctes.push(cte);
    return new RelationObject({ identifier: ephemeralCteName(dep.name), type: 'cte' });
  }
  if (dep.resource_type === 'source') {
    return new RelationObject({ ...dep.relation, database, type: 'table', text: renv.sourceRelationOf?.(dep) ?? renderSource(dep, renv.project.config.dir) });
  }
  return new RelationObject({ ...dep.relation, database, type: relationKindOf(dep), text: renv.relationOf ? renv.relationOf(dep) : renderRelation(dep.relation) });
}

/** relationships' `to` (a ref or source the parser resolved into depends_on). */
function relationOfRef(to: string, node: TestNode, renv: RenderEnvironment, ctes: EphemeralCte[]): string {
  for (const id of node.depends_on.nodes) {
    if (id === node.attached_node && node.depends_on.nodes.length > 1) continue;
    const dep = renv.manifest.nodes[id];
    if (dep?.resource_type === 'source' || dep?.resource_type === 'model' || dep?.resource_type === 'seed') return String(relationObjectOf(dep, renv, ctes));
  }
  throw new CompileError(`${node.name}: cannot resolve ${to}`, { node: node.unique_id, location: { file: node.original_file_path, line: node.line } });
}

/**
 * `{{ test_<name>(model=..., column_name=..., <arguments>) }}` with the project's macros, or
 * `{{ <package>.test_<name>(...) }}` for a package's test. As in dbt, an argument written as a call
 * (`compare_model: ref('x')`) is that call, and one holding `{{ }}` is rendered first.
 * `model` is the tested relation (`this` in the test's scope); other values are handed as literals.
 */
function renderCustomTest(node: TestNode, model: RelationObject, renv: RenderEnvironment, ctes: EphemeralCte[], onConfig: (values: Record<string, unknown>) => void): string {
  const meta = node.test_metadata!;
  const dot = meta.name.indexOf('.');
  const bare = dot === -1 ? meta.name : meta.name.slice(dot + 1);
  const macroPackage = node.depends_on.macros[0]?.startsWith('macro.') ? node.depends_on.macros[0].split('.')[1] : undefined;
  const callee = macroPackage !== undefined && macroPackage !== renv.manifest.project_name ? `${macroPackage}.test_${bare}` : `test_${bare}`;
  const scope = testScope(node, model, renv, ctes, onConfig);
  const render = (text: string) => renv.templates().render(node.original_file_path, text, scope);
  try {
    // `this` is the tested relation, so the macro receives it as a relation object (dbt's `model`).
    const args = ['model=this'];
    for (const [key, value] of Object.entries(meta.kwargs)) {
      if (key !== 'column_name' && typeof value === 'string' && CALL_ARGUMENT.test(value)) args.push(`${key}=${value.trim()}`);
      else if (key !== 'column_name' && typeof value === 'string' && (value.includes('{{') || value.includes('{%'))) args.push(`${key}=${templateLiteral(render(value))}`);
      else args.push(`${key}=${templateLiteral(value)}`);
    }
    return render(`{{ ${callee}(${args.join(', ')}) }}`);
  } catch (error) {
    throw locateNodeError(error, node.unique_id, node.original_file_path);
  }
}

/**
 * What a generic test's template sees: ref() and source() of the nodes the test depends on (parse
 * resolved its arguments' calls into depends_on), config() recorded, should_store_failures().
 */
function testScope(node: TestNode, tested: RelationObject, renv: RenderEnvironment, ctes: EphemeralCte[], onConfig: (values: Record<string, unknown>) => void): RenderScope {
  const dependencies = node.depends_on.nodes.map((id) => renv.manifest.nodes[id]).filter((n) => n !== undefined);
  const resolver: ContextResolver = {
    ref(name, packageName) {
      const dep = dependencies.find((n): n is ModelNode | SeedNode => (n.resource_type === 'model' || n.resource_type === 'seed') && n.name === name && (packageName === undefined || n.package_name === packageName));
      if (!dep) throw new TemplateUserError(`ref('${name}') was not seen when the project was parsed: a test refers to models through its arguments`);
      return relationObjectOf(dep, renv, ctes);
    },
    source(sourceName, tableName) {
      const dep = dependencies.find((n): n is SourceNode => n.resource_type === 'source' && n.source_name === sourceName && n.name === tableName);
      if (!dep) throw new TemplateUserError(`source('${sourceName}', '${tableName}') was not seen when the project was parsed: a test refers to sources through its arguments`);
      return relationObjectOf(dep, renv, ctes);
    },
    config: onConfig,
    isIncremental: () => false,
    watermark: () => {
      throw new TemplateUserError('watermark() is only available in an incremental model');
    },
  };
  const scope = buildRenderScope({ ...runContext(renv), resolver, thisRelation: tested, node });
  return { functions: { ...scope.functions, should_store_failures: () => node.config.store_failures }, values: scope.values };
}
