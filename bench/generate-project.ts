/**
 * Writes a synthetic smelter project for the benchmarks: about ten layers of small models, each
 * joining one to three models of earlier layers on `id`, so parse, graph, compile and run all see a
 * realistic shape at any size. Deterministic for a given seed, so figures compare across runs.
 *
 * `planProject` draws the graph (names, parents, shapes, materializations) and is the one source of
 * truth for it: generate-dataform.ts writes the same plan as a Dataform project, so the two CLIs
 * compile the very same models.
 *
 * CLI: node dist/bench/generate-project.js --models N --out DIR [--seed S]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bump whenever the generated files change, so run-bench regenerates stale projects. */
export const GENERATOR_VERSION = 1;

/** File written at the project root recording what generated it; run-bench reuses a matching project. */
export const MARKER_FILE = 'bench-generator.json';

/** The dev target's database, relative to the project directory. */
export const DATABASE_PATH = 'target/bench.duckdb';

const LAYERS = 10;
/** The project's vars; generate-dataform.ts writes the same values to workflow_settings.yaml. */
export const VARS = { min_amount: 0, scale: 2 } as const;

export interface GenerateOptions {
  readonly models: number;
  readonly seed?: number;
}

export interface GeneratedProject {
  readonly version: number;
  readonly seed: number;
  readonly models: number;
  readonly layers: number;
  readonly tables: number;
  readonly views: number;
  readonly macroModels: number;
}

/** A layer-0 model: constant rows, optionally joined to a lookup whose amounts are offset. */
export interface SourceShape {
  readonly kind: 'source';
  readonly rows: number;
  /** Present when the source joins the lookup. */
  readonly lookupOffset?: number;
}

/** What a model does; every later-layer shape names its parents in the order its SQL reads them. */
export type ModelShape =
  | SourceShape
  | { readonly kind: 'join'; readonly parents: readonly string[]; readonly useVar: boolean }
  | { readonly kind: 'aggregate'; readonly parents: readonly [string]; readonly useVar: boolean }
  | { readonly kind: 'window'; readonly parents: readonly [string]; readonly useVar: boolean }
  | { readonly kind: 'macro'; readonly parents: readonly string[] };

export interface PlannedModel {
  readonly name: string;
  readonly layer: number;
  readonly shape: ModelShape;
  /** Materialized as a table: all of layer 0 (by folder config in smelter) and ~11% of the rest. */
  readonly table: boolean;
}

/** The drawn graph, in layer order (a model's parents always come before it). */
export interface ProjectPlan {
  readonly seed: number;
  readonly layerSizes: readonly number[];
  readonly models: readonly PlannedModel[];
}

/** A model's parents (none for sources), as its SQL references them. */
export const parentsOf = (shape: ModelShape): readonly string[] => (shape.kind === 'source' ? [] : shape.parents);

/** mulberry32: tiny, fast and good enough to pick model shapes; Math.random cannot be seeded. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const modelName = (layer: number, index: number): string => `m_${layer}_${index}`;

/** Layer sizes as equal as possible, the first layers taking the remainder. */
function layerSizes(models: number): number[] {
  const layers = Math.min(LAYERS, models);
  return Array.from({ length: layers }, (_, k) => Math.floor(models / layers) + (k < models % layers ? 1 : 0));
}

/**
 * Every model selects `id`, `grp` and `amount` (what downstream models join on and read) plus a
 * column or two of its own. Amounts are averaged rather than summed so ten layers cannot overflow.
 * Plain SQL without template syntax, so the Dataform project uses it as it is.
 */
export function sourceSql(name: string, shape: SourceShape): string {
  const { rows, lookupOffset } = shape;
  if (lookupOffset === undefined) {
    return `-- ${name}: a constant source of ${rows} rows
select
    i as id,
    i % 7 as grp,
    i * 1.5 as amount,
    'r' || i as label
from range(${rows}) t(i)
`;
  }
  return `-- ${name}: a constant source joined to a small lookup
with lookup(grp, grp_name) as (
    values (0, 'zero'), (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four'), (5, 'five'), (6, 'six')
)
select
    t.i as id,
    t.i % 7 as grp,
    t.i * 0.5 + ${lookupOffset} as amount,
    lookup.grp_name
from range(${rows}) t(i)
join lookup on lookup.grp = t.i % 7
`;
}

/**
 * How a model's SQL spells a reference and a var. The join, aggregate and window models are the same
 * text in both projects but for these: Jinja for smelter, SQLX interpolation for Dataform.
 */
export interface Templating {
  ref(model: string): string;
  variable(name: keyof typeof VARS): string;
}

const JINJA: Templating = {
  ref: (model) => `{{ ref('${model}') }}`,
  variable: (name) => `{{ var('${name}') }}`,
};

export function joinModel(name: string, parents: readonly string[], useVar: boolean, t: Templating = JINJA): string {
  const aliases = parents.map((_, i) => String.fromCharCode(97 + i)); // a, b, c
  const ctes = parents.map((p, i) => `${aliases[i]} as (\n    select * from ${t.ref(p)}\n)`).join(',\n');
  const amounts = aliases.map((a) => `coalesce(${a}.amount, 0)`).join(' + ');
  const joins = aliases.slice(1).map((a) => `left join ${a} on ${a}.id = a.id`).join('\n');
  const extras = aliases.slice(1).map((a) => `    ${a}.grp as grp_${a},\n`).join('');
  const where = useVar ? `where a.amount >= ${t.variable('min_amount')}\n` : '';
  return `-- ${name}: joins ${parents.length} upstream model${parents.length > 1 ? 's' : ''} on id
with ${ctes}
select
    a.id,
    a.grp,
${extras}    (${amounts}) / ${parents.length} as amount
from a
${joins}${joins ? '\n' : ''}${where}`;
}

export function aggregateModel(name: string, parent: string, useVar: boolean, t: Templating = JINJA): string {
  const scale = useVar ? ` * ${t.variable('scale')}` : '';
  return `-- ${name}: one row per group of ${parent}
select
    grp as id,
    grp,
    avg(amount)${scale} as amount,
    count(*) as n_rows
from ${t.ref(parent)}
group by grp
`;
}

export function windowModel(name: string, parent: string, useVar: boolean, t: Templating = JINJA): string {
  const where = useVar ? `where amount >= ${t.variable('min_amount')}\n` : '';
  return `-- ${name}: running totals over ${parent}
select
    id,
    grp,
    amount,
    sum(amount) over (partition by grp order by id) as running_amount,
    row_number() over (partition by grp order by amount desc) as rank_in_grp
from ${t.ref(parent)}
${where}`;
}

/** The few models that need the full template engine: a loop and macro calls with keyword arguments. */
function macroModel(name: string, parents: readonly string[]): string {
  const joins = parents.slice(1).map((p, i) => `left join {{ ref('${p}') }} p${i + 1} on p${i + 1}.id = a.id\n`).join('');
  return `-- ${name}: bucketed amounts, written with a loop and macros
{%- set sizes = [10, 50, 100] %}
select
    a.id,
    a.grp,
    a.amount,
    {{ cents('a.amount') }} as amount_cents,
    {%- for size in sizes %}
    {{ bucket('a.amount', size=size) }} as bucket_{{ size }},
    {%- endfor %}
    {{ cents('a.amount', scale=1000) }} as amount_mills
from {{ ref('${parents[0]}') }} a
${joins}`;
}

const MACROS = `{#- Macros used by the few bench models that need the full template engine. -#}
{% macro cents(col, scale=100) %}round({{ col }} * {{ scale }})::bigint{% endmacro %}

{% macro bucket(col, size=10) %}floor({{ col }} / {{ size }})::bigint{% endmacro %}
`;

function projectYml(sizes: readonly number[], options: Required<GenerateOptions>): string {
  const folders = sizes
    .map((_, k) => `  layer_${k}:\n    +materialized: ${k === 0 ? 'table' : 'view'}\n    +tags: [layer_${k}]\n`)
    .join('');
  return `# Generated by bench/generate-project.ts (v${GENERATOR_VERSION}, seed ${options.seed}, ${options.models} models).
name: bench
vars:
  min_amount: ${VARS.min_amount}
  scale: ${VARS.scale}
target: dev
targets:
  dev:
    database: ${DATABASE_PATH}
    threads: 2
models:
${folders}`;
}

/**
 * Draws the graph. The draws happen in the order the generator has always made them (a source's
 * rows, kind and offset; a later model's parents, var, shape and table), so a seed gives the same
 * project as before the plan was split out and GENERATOR_VERSION did not need a bump.
 */
export function planProject(options: GenerateOptions): ProjectPlan {
  const opts = { models: options.models, seed: options.seed ?? 42 };
  if (!Number.isInteger(opts.models) || opts.models < 1) throw new Error(`--models must be a positive integer, got ${opts.models}`);
  const rand = prng(opts.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const sizes = layerSizes(opts.models);
  const models: PlannedModel[] = [];
  const names: string[][] = [];
  sizes.forEach((size, layer) => {
    names.push([]);
    for (let i = 0; i < size; i++) {
      const name = modelName(layer, i);
      names[layer].push(name);
      if (layer === 0) {
        const rows = 50 + Math.floor(rand() * 100);
        const shape: SourceShape = rand() < 0.5 ? { kind: 'source', rows } : { kind: 'source', rows, lookupOffset: Math.floor(rand() * 10) };
        models.push({ name, layer, shape, table: true });
        continue;
      }
      // The first parent comes from the previous layer so the graph really is LAYERS deep;
      // the others from any earlier layer, as real projects reach back to staging models.
      const parents = new Set([pick(names[layer - 1])]);
      const earlier = sizes.slice(0, layer).reduce((sum, n) => sum + n, 0);
      const wanted = Math.min(1 + Math.floor(rand() * 3), earlier);
      while (parents.size < wanted) parents.add(pick(names[Math.floor(rand() * layer)]));
      const list = [...parents];
      const useVar = rand() < 0.3;
      const draw = rand();
      let shape: ModelShape;
      if (draw < 0.05) shape = { kind: 'macro', parents: list };
      else if (list.length > 1 || draw < 0.5) shape = { kind: 'join', parents: list, useVar };
      else if (draw < 0.75) shape = { kind: 'aggregate', parents: [list[0]], useVar };
      else shape = { kind: 'window', parents: [list[0]], useVar };
      // Layer 0 is 10% of the models; another ~11% of the rest as tables gives ~20% tables overall.
      models.push({ name, layer, shape, table: rand() < 0.11 });
    }
  });
  return { seed: opts.seed, layerSizes: sizes, models };
}

/** What a plan holds, for the marker file and the generators' summaries. */
export function describePlan(plan: ProjectPlan): GeneratedProject {
  const tables = plan.models.filter((m) => m.table).length;
  return {
    version: GENERATOR_VERSION,
    seed: plan.seed,
    models: plan.models.length,
    layers: plan.layerSizes.length,
    tables,
    views: plan.models.length - tables,
    macroModels: plan.models.filter((m) => m.shape.kind === 'macro').length,
  };
}

/**
 * A model's query, without its materialization config: the shapes' SQL in the given templating, and
 * the macro model as the project's own template language writes it (a loop and macro calls).
 */
export function modelQuery(model: PlannedModel, t: Templating, macroModelSql: (name: string, parents: readonly string[]) => string): string {
  const { name, shape } = model;
  switch (shape.kind) {
    case 'source':
      return sourceSql(name, shape);
    case 'macro':
      return macroModelSql(name, shape.parents);
    case 'join':
      return joinModel(name, shape.parents, shape.useVar, t);
    case 'aggregate':
      return aggregateModel(name, shape.parents[0], shape.useVar, t);
    case 'window':
      return windowModel(name, shape.parents[0], shape.useVar, t);
  }
}

/** A model's SQL file for smelter; layer 0 are tables by their folder's config, not their own. */
function smelterSql(model: PlannedModel): string {
  const sql = modelQuery(model, JINJA, macroModel);
  return model.table && model.layer > 0 ? `{{ config(materialized='table') }}\n${sql}` : sql;
}

/**
 * Writes the project into `dir`, replacing any models and macros already there (the target folder
 * is left alone). Returns what was generated.
 */
export function generateProject(dir: string, options: GenerateOptions): GeneratedProject {
  const plan = planProject(options);
  const opts = { models: plan.models.length, seed: plan.seed };
  for (const sub of ['models', 'macros']) rmSync(join(dir, sub), { recursive: true, force: true });
  mkdirSync(join(dir, 'macros'), { recursive: true });
  writeFileSync(join(dir, 'macros', 'bench_macros.sql'), MACROS);
  writeFileSync(join(dir, 'project.yml'), projectYml(plan.layerSizes, opts));
  plan.layerSizes.forEach((_, layer) => mkdirSync(join(dir, 'models', `layer_${layer}`), { recursive: true }));
  for (const model of plan.models) writeFileSync(join(dir, 'models', `layer_${model.layer}`, `${model.name}.sql`), smelterSql(model));
  const result = describePlan(plan);
  writeFileSync(join(dir, MARKER_FILE), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** `--models N --out DIR [--seed S]`, shared with generate-dataform.ts; `script` names the usage line's file. */
export function parseArgs(argv: readonly string[], script = 'generate-project.js'): { models: number; out: string; seed?: number } {
  const usage = `usage: node dist/bench/${script} --models N --out DIR [--seed S]`;
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!['--models', '--out', '--seed'].includes(flag) || value === undefined) throw new Error(usage);
    values.set(flag, value);
  }
  const models = Number(values.get('--models'));
  const out = values.get('--out');
  if (!out || !values.has('--models')) throw new Error(usage);
  return { models, out, seed: values.has('--seed') ? Number(values.get('--seed')) : undefined };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const args = parseArgs(process.argv.slice(2));
    const result = generateProject(args.out, { models: args.models, seed: args.seed });
    console.log(`wrote ${result.models} models (${result.tables} tables, ${result.views} views, ` +
      `${result.macroModels} with macros) in ${result.layers} layers to ${args.out}`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  }
}
