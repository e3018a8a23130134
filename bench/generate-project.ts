/**
 * Writes a synthetic smelter project for the benchmarks: about ten layers of small models, each
 * joining one to three models of earlier layers on `id`, so parse, graph, compile and run all see a
 * realistic shape at any size. Deterministic for a given seed, so figures compare across runs.
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
const VARS = { min_amount: 0, scale: 2 };

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
 */
function sourceModel(name: string, rand: () => number): string {
  const rows = 50 + Math.floor(rand() * 100);
  if (rand() < 0.5) {
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
    t.i * 0.5 + ${Math.floor(rand() * 10)} as amount,
    lookup.grp_name
from range(${rows}) t(i)
join lookup on lookup.grp = t.i % 7
`;
}

function joinModel(name: string, parents: readonly string[], useVar: boolean): string {
  const aliases = parents.map((_, i) => String.fromCharCode(97 + i)); // a, b, c
  const ctes = parents.map((p, i) => `${aliases[i]} as (\n    select * from {{ ref('${p}') }}\n)`).join(',\n');
  const amounts = aliases.map((a) => `coalesce(${a}.amount, 0)`).join(' + ');
  const joins = aliases.slice(1).map((a) => `left join ${a} on ${a}.id = a.id`).join('\n');
  const extras = aliases.slice(1).map((a) => `    ${a}.grp as grp_${a},\n`).join('');
  const where = useVar ? `where a.amount >= {{ var('min_amount') }}\n` : '';
  return `-- ${name}: joins ${parents.length} upstream model${parents.length > 1 ? 's' : ''} on id
with ${ctes}
select
    a.id,
    a.grp,
${extras}    (${amounts}) / ${parents.length} as amount
from a
${joins}${joins ? '\n' : ''}${where}`;
}

function aggregateModel(name: string, parent: string, useVar: boolean): string {
  const scale = useVar ? ` * {{ var('scale') }}` : '';
  return `-- ${name}: one row per group of ${parent}
select
    grp as id,
    grp,
    avg(amount)${scale} as amount,
    count(*) as n_rows
from {{ ref('${parent}') }}
group by grp
`;
}

function windowModel(name: string, parent: string, useVar: boolean): string {
  const where = useVar ? `where amount >= {{ var('min_amount') }}\n` : '';
  return `-- ${name}: running totals over ${parent}
select
    id,
    grp,
    amount,
    sum(amount) over (partition by grp order by id) as running_amount,
    row_number() over (partition by grp order by amount desc) as rank_in_grp
from {{ ref('${parent}') }}
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
 * Writes the project into `dir`, replacing any models and macros already there (the target folder
 * is left alone). Returns what was generated.
 */
export function generateProject(dir: string, options: GenerateOptions): GeneratedProject {
  const opts = { models: options.models, seed: options.seed ?? 42 };
  if (!Number.isInteger(opts.models) || opts.models < 1) throw new Error(`--models must be a positive integer, got ${opts.models}`);
  const rand = prng(opts.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const sizes = layerSizes(opts.models);

  for (const sub of ['models', 'macros']) rmSync(join(dir, sub), { recursive: true, force: true });
  mkdirSync(join(dir, 'macros'), { recursive: true });
  writeFileSync(join(dir, 'macros', 'bench_macros.sql'), MACROS);
  writeFileSync(join(dir, 'project.yml'), projectYml(sizes, opts));

  let tables = 0;
  let macroModels = 0;
  const names: string[][] = [];
  sizes.forEach((size, layer) => {
    const folder = join(dir, 'models', `layer_${layer}`);
    mkdirSync(folder, { recursive: true });
    names.push([]);
    for (let i = 0; i < size; i++) {
      const name = modelName(layer, i);
      names[layer].push(name);
      let sql: string;
      let table = layer === 0;
      if (layer === 0) {
        sql = sourceModel(name, rand);
      } else {
        // The first parent comes from the previous layer so the graph really is LAYERS deep;
        // the others from any earlier layer, as real projects reach back to staging models.
        const parents = new Set([pick(names[layer - 1])]);
        const earlier = sizes.slice(0, layer).reduce((sum, n) => sum + n, 0);
        const wanted = Math.min(1 + Math.floor(rand() * 3), earlier);
        while (parents.size < wanted) parents.add(pick(names[Math.floor(rand() * layer)]));
        const list = [...parents];
        const useVar = rand() < 0.3;
        const shape = rand();
        if (shape < 0.05) {
          sql = macroModel(name, list);
          macroModels++;
        } else if (list.length > 1 || shape < 0.5) {
          sql = joinModel(name, list, useVar);
        } else if (shape < 0.75) {
          sql = aggregateModel(name, list[0], useVar);
        } else {
          sql = windowModel(name, list[0], useVar);
        }
        // Layer 0 is 10% of the models; another ~11% of the rest as tables gives ~20% tables overall.
        if (rand() < 0.11) {
          sql = `{{ config(materialized='table') }}\n${sql}`;
          table = true;
        }
      }
      if (table) tables++;
      writeFileSync(join(folder, `${name}.sql`), sql);
    }
  });

  const result: GeneratedProject = {
    version: GENERATOR_VERSION,
    seed: opts.seed,
    models: opts.models,
    layers: sizes.length,
    tables,
    views: opts.models - tables,
    macroModels,
  };
  writeFileSync(join(dir, MARKER_FILE), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

function parseArgs(argv: readonly string[]): { models: number; out: string; seed?: number } {
  const usage = 'usage: node dist/bench/generate-project.js --models N --out DIR [--seed S]';
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
