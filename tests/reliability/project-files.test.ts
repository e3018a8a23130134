/**
 * A corpus of bad project files and command lines (SPEC §10): each case breaks one thing in a
 * project that has been built once, runs the command in-process (the CLI's own `main`, so the
 * exit code and stderr are what a user sees), and checks the exact message, the exit code, and
 * that nothing was written: every file of the project and of target/ (the lake's Parquet, the
 * manifests) byte for byte, and the database's tables, views and rows. A few cases spawn the
 * built CLI to check the process's exit code end to end.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../adapters/cli/main.js';
import { lines, smelter } from '../helpers/cli.js';

const BASE: Readonly<Record<string, string>> = {
  'project.yml': 'name: shop\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n',
  'seeds/countries.csv': 'code,name\nFR,France\nDE,Germany\n',
  'data/orders.csv': 'order_id,country,amount\n1,FR,10\n2,DE,20\n',
  'macros/cents.sql': '{% macro cents(x) %}({{ x }} * 100){% endmacro %}\n',
  'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    external_location: data/{name}.csv\n    tables:\n      - name: orders\n',
  'models/stg_orders.sql': "select order_id, country, {{ cents('amount') }} as amount_cents from {{ source('raw', 'orders') }}\n",
  'models/fct_orders.sql':
    "{{ config(materialized='incremental', unique_key='order_id', external=true) }}\nselect o.*, c.name as country_name from {{ ref('stg_orders') }} o join {{ ref('countries') }} c on c.code = o.country\n",
  'models/schema.yml': 'version: 2\nmodels:\n  - name: fct_orders\n    columns:\n      - name: order_id\n        data_tests: [unique, not_null]\n',
};

let root: string;
let built: string;

/**
 * Every file under `dir` (sorted, relative) with a hash of its bytes. A run that fails on a node has
 * opened the database, so there the database is compared by its contents (`skip` is set then).
 */
async function snapshot(dir: string, skip?: (file: string) => boolean): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry);
      const file = relative(dir, path);
      if (statSync(path).isDirectory()) walk(path);
      else if (skip === undefined || (!skip(file) && !file.endsWith('.duckdb'))) out[file] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  const db = join(dir, 'target/dev.duckdb');
  // Views over the lake name absolute paths: a copy's name the built project's files until a run
  // points them at the copy's, which is the copy's doing, not the case's.
  if (skip !== undefined && existsSync(db)) out['target/dev.duckdb'] = (await databaseContents(db)).replaceAll(dir, '$PROJECT').replaceAll(built, '$PROJECT');
  return out;
}

async function databaseContents(path: string): Promise<string> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const c = await instance.connect();
    const rows = async (sql: string) => (await (await c.run(sql)).getRowObjectsJson()) as Record<string, unknown>[];
    const views = await rows("select schema_name, view_name, sql from duckdb_views() where not internal order by all");
    const tables = await rows("select schema_name, table_name from duckdb_tables() where not internal order by all");
    const contents = [];
    for (const t of tables) contents.push([t, await rows(`select * from "${t.schema_name}"."${t.table_name}" order by all`)]);
    c.closeSync();
    return JSON.stringify({ views, contents });
  } finally {
    instance.closeSync();
  }
}

interface Case {
  /** Files written over the built project (null: removed). */
  readonly files?: Readonly<Record<string, string | null>>;
  readonly args: readonly string[];
  readonly code: number;
  readonly stderr: readonly string[];
  /** Expected stdout, timings replaced by Ns (default: nothing). */
  readonly stdout?: readonly string[];
}

/** Run a case on a fresh copy of the built project; returns what the user saw and whether anything changed. */
async function runCase(c: Case, runtimeFailure = false) {
  const dir = mkdtempSync(join(root, 'case-'));
  cpSync(built, dir, { recursive: true });
  for (const [file, text] of Object.entries(c.files ?? {})) {
    if (text === null) rmSync(join(dir, file));
    else {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
  }
  // A run that fails on a node reports it in run_results.json and target/run/, by design.
  const artifacts = runtimeFailure
    ? (file: string) => file === 'target/run_results.json' || file === 'target/manifest.json' || file.startsWith('target/run/')
    : undefined;
  const before = await snapshot(dir, artifacts);
  const out: string[] = [];
  const err: string[] = [];
  const args = c.args.map((a) => a.replaceAll('$DIR', dir));
  const code = await main(args.includes('--project-dir') ? args : [...args, '--project-dir', dir], {
    out: (l) => out.push(...l.split('\n')),
    err: (l) => err.push(...l.replaceAll(dir, '$DIR').split('\n')),
    status: () => {},
    tty: false,
  });
  const after = await snapshot(dir, artifacts);
  return { code, stderr: err, stdout: out.map((l) => l.replace(/\d+\.\d\ds\b/g, 'Ns')), unchanged: JSON.stringify(after) === JSON.stringify(before) };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'smelter-corpus-'));
  built = join(root, 'built');
  for (const [file, text] of Object.entries(BASE)) {
    mkdirSync(dirname(join(built, file)), { recursive: true });
    writeFileSync(join(built, file), text);
  }
  const out: string[] = [];
  const code = await main(['build', '--project-dir', built], { out: (l) => out.push(l), err: (l) => out.push(l), status: () => {}, tty: false });
  if (code !== 0) throw new Error(`the base project does not build:\n${out.join('\n')}`);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Cases that stop before anything runs: exit 2, nothing on stdout, nothing written. */
function corpus(title: string, cases: Readonly<Record<string, Case>>) {
  describe(title, () => {
    for (const [what, c] of Object.entries(cases)) {
      it(what, async () => {
        const r = await runCase(c);
        expect({ code: r.code, stderr: r.stderr, stdout: r.stdout, unchanged: r.unchanged }).toEqual({ code: c.code, stderr: c.stderr, stdout: c.stdout ?? [], unchanged: true });
      });
    }
  });
}

const build = ['build'];
const column = (tests: string) => `version: 2\nmodels:\n  - name: fct_orders\n    columns:\n      - name: order_id\n        data_tests:\n${tests}`;
const unitTest = (body: string) => ({ 'models/unit.yml': `version: 2\nunit_tests:\n  - name: keeps_orders\n${body}` });

corpus('project.yml', {
  'an empty file': { files: { 'project.yml': '' }, args: build, code: 2, stderr: ['error: project.yml: project.yml is empty (it needs at least `name:`)'] },
  'a list, not a mapping': { files: { 'project.yml': '- name: shop\n' }, args: build, code: 2, stderr: ['error: project.yml: project.yml must be a mapping'] },
  'no name': { files: { 'project.yml': 'targets:\n  dev: { database: target/dev.duckdb }\n' }, args: build, code: 2, stderr: ['error: project.yml: name is required'] },
  'a default target that is not defined': {
    files: { 'project.yml': 'name: shop\ntarget: prod\ntargets:\n  dev: { database: target/dev.duckdb }\n' },
    args: build,
    code: 2,
    stderr: ["error: project.yml:2:1: target 'prod' is not defined under targets:"],
  },
  'a key given twice': {
    files: { 'project.yml': 'name: shop\ntargets:\n  dev: { database: target/dev.duckdb }\nname: other\n' },
    args: build,
    code: 2,
    stderr: ['error: project.yml:4:1: invalid YAML: Map keys must be unique'],
  },
  'aliases that expand without bound (a billion laughs)': {
    files: {
      'project.yml':
        'name: shop\ntargets:\n  dev: { database: target/dev.duckdb }\nvars:\n  a: &a [x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
    },
    args: build,
    code: 2,
    stderr: ['error: project.yml: invalid YAML: Excessive alias count indicates a resource exhaustion attack'],
  },
  'a folder config of the wrong type': {
    files: { 'project.yml': `${BASE['project.yml']}models:\n  +tags: { a: 1 }\n` },
    args: build,
    code: 2,
    stderr: ['error: project.yml:5:3: models.+tags must be a string or a list of strings, got {"a":1}'],
  },
});

corpus('schema.yml and other properties files', {
  'a YAML syntax error': {
    files: { 'models/schema.yml': 'version: 2\nmodels:\n  - name: fct_orders\n    columns:\n      - name: order_id\n     - name: country\n' },
    args: build,
    code: 2,
    stderr: ['error: models/schema.yml:6:6: invalid YAML: A block sequence may not be used as an implicit map key'],
  },
  'an unknown key, with a hint': {
    files: { 'models/schema.yml': 'version: 2\nmodels:\n  - name: fct_orders\n    descripton: the orders\n' },
    args: build,
    code: 2,
    stderr: ["error: models/schema.yml:4:5: unknown key 'descripton' in models[0] (did you mean description?)"],
  },
  'a value of the wrong type': {
    files: { 'models/schema.yml': 'version: 2\nmodels:\n  - name: fct_orders\n    description: [the, orders]\n' },
    args: build,
    code: 2,
    stderr: ['error: models/schema.yml:4:5: description must be a string'],
  },
  "a test's bad argument, at the argument": {
    files: { 'models/schema.yml': column('          - accepted_values:\n              valus: [1, 2]\n') },
    args: build,
    code: 2,
    stderr: ["error: models/schema.yml:8:15: accepted_values: unknown argument 'valus' (did you mean values?)"],
  },
  "a test's bad config value, at the value's key": {
    files: { 'models/schema.yml': column('          - unique:\n              config:\n                severity: fatal\n') },
    args: build,
    code: 2,
    stderr: ['error: models/schema.yml:9:17: unique: severity must be error or warn'],
  },
  'a column under a model that does not exist, at its name': {
    files: { 'models/schema.yml': 'version: 2\nmodels:\n  - description: orders by day\n    name: fct_order\n    columns:\n      - name: order_id\n' },
    args: build,
    code: 2,
    stderr: ["error: models/schema.yml:4:5: properties are given for model 'fct_order', but there is no models/**/fct_order.sql (did you mean fct_orders?)"],
  },
  'a bad source table: only its error, none for the models that read it': {
    files: { 'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    external_location: data/{name}.csv\n    tables:\n      - name: orders\n        identifer: orders_v2\n' },
    args: build,
    code: 2,
    stderr: ["error: models/sources.yml:7:9: unknown key 'identifer' in source raw table (did you mean identifier?)"],
  },
  'an alias to no anchor': {
    files: { 'models/schema.yml': 'version: 2\nmodels:\n  - name: fct_orders\n    columns: *order_columns\n' },
    args: build,
    code: 2,
    stderr: ['error: models/schema.yml:4:14: invalid YAML: Unresolved alias (the anchor must be set before the alias): order_columns'],
  },
  'version 1': {
    files: { 'models/schema.yml': 'version: 1\nmodels:\n  - name: fct_orders\n' },
    args: build,
    code: 2,
    stderr: ['error: models/schema.yml:1:1: version must be 2'],
  },
  "one model's properties twice": {
    files: { 'models/more.yml': 'version: 2\nmodels:\n  - name: fct_orders\n    description: again\n' },
    args: build,
    code: 2,
    stderr: ["error: models/schema.yml:3:5: properties for model 'fct_orders' are given twice (also in models/more.yml:3)"],
  },
});

corpus('model templates', {
  'an unknown tag': {
    files: { 'models/stg_orders.sql': '{% bogus %}\nselect 1 as order_id\n' },
    args: build,
    code: 2,
    stderr: ['error: models/stg_orders.sql:1:4: template syntax error: unknown block tag: bogus'],
  },
  'an endif without if': {
    files: { 'models/stg_orders.sql': 'select 1 as order_id\n{% endif %}\n' },
    args: build,
    code: 2,
    stderr: ['error: models/stg_orders.sql:2:4: template syntax error: unknown block tag: endif'],
  },
  'an output tag left open': {
    files: { 'models/stg_orders.sql': "select {{ cents('amount') as amount_cents\n" },
    args: build,
    code: 2,
    stderr: ['error: models/stg_orders.sql:1:27: template syntax error: expected variable end'],
  },
  'ref() with three arguments': {
    files: { 'models/stg_orders.sql': "select * from {{ ref('a', 'b', 'c') }}\n" },
    args: build,
    code: 2,
    stderr: ['error: models/stg_orders.sql:1:18: ref() takes a model name, got 3 arguments'],
  },
  'ref() of a number': {
    files: { 'models/stg_orders.sql': 'select * from {{ ref(1) }}\n' },
    args: build,
    code: 2,
    stderr: ['error: models/stg_orders.sql:1:18: ref() needs a model name as a string, got 1'],
  },
  'a model that reads itself': {
    files: { 'models/stg_orders.sql': "select * from {{ ref('stg_orders') }}\n" },
    args: build,
    code: 2,
    stderr: ['error: models/stg_orders.sql: dependency cycle: stg_orders -> stg_orders'],
  },
  'a config error: only it, no "no model named" for the models that read it': {
    files: { 'models/stg_orders.sql': "{{ config(materialized='tabel') }}\n" + BASE['models/stg_orders.sql'] },
    args: build,
    code: 2,
    stderr: ["error: models/stg_orders.sql:1:4: config materialized must be one of 'view', 'table', 'ephemeral', 'incremental', 'scd2', got \"tabel\""],
  },
});

corpus('macros', {
  'one macro name in two files': {
    files: { 'macros/more.sql': '{% macro cents(x) %}{{ x }}{% endmacro %}\n' },
    args: build,
    code: 2,
    stderr: ["error: macros/more.sql:1: macro 'cents' is defined twice (also in macros/cents.sql:1)"],
  },
  'a macro left open: its file is named, not each model that calls it': {
    files: { 'macros/cents.sql': '{% macro cents(x) %}({{ x }} * 100)\n' },
    args: build,
    code: 2,
    stderr: ['error: macros/cents.sql:1:4: template syntax error: unexpected end of file'],
  },
  "a macro that would hide smelter's ref()": {
    files: { 'macros/ref.sql': '{% macro ref(x) %}{{ x }}{% endmacro %}\n' },
    args: build,
    code: 2,
    stderr: ["error: macros/ref.sql:1: macro 'ref' would hide smelter's own ref()"],
  },
});

corpus('seeds', {
  'a row with one value too many': {
    files: { 'seeds/countries.csv': 'code,name\nFR,France\nDE,Germany,EU\n' },
    args: build,
    code: 2,
    stderr: ['error: seeds/countries.csv:3: this row has 3 values for 2 columns (code, name)'],
  },
  'a row with one value too few': {
    files: { 'seeds/countries.csv': 'code,name\nFR\n' },
    args: build,
    code: 2,
    stderr: ['error: seeds/countries.csv:2: this row has 1 value for 2 columns (code, name)'],
  },
  'an empty file': { files: { 'seeds/countries.csv': '' }, args: build, code: 2, stderr: ['error: seeds/countries.csv: the seed is empty: it needs a header line naming its columns'] },
  'a column named twice': {
    files: { 'seeds/countries.csv': 'code,name,code\nFR,France,F\n' },
    args: build,
    code: 2,
    stderr: ["error: seeds/countries.csv:1:11: the header names column 'code' twice"],
  },
  'a quoted value never closed': {
    files: { 'seeds/countries.csv': 'code,name\nFR,"France\nDE,Germany\n' },
    args: build,
    code: 2,
    stderr: ['error: seeds/countries.csv:2: a quoted value is not closed'],
  },
});

corpus('data tests', {
  'a singular test that does not parse': {
    files: { 'data_tests/no_refunds.sql': "select * from {{ ref('fct_orders') }\n" },
    args: build,
    code: 2,
    stderr: ['error: data_tests/no_refunds.sql:1:36: template syntax error: expected variable end'],
  },
  'a singular test of a model that does not exist': {
    files: { 'data_tests/no_refunds.sql': "select * from {{ ref('fct_order') }} where amount_cents < 0\n" },
    args: build,
    code: 2,
    stderr: ["error: data_tests/no_refunds.sql:1: ref('fct_order'): no model or seed named fct_order (did you mean fct_orders?)"],
  },
  "a singular test's bad config, at its config() call": {
    files: { 'data_tests/no_refunds.sql': "{{ config(severity='fatal') }}\nselect * from {{ ref('fct_orders') }} where amount_cents < 0\n" },
    args: build,
    code: 2,
    stderr: ['error: data_tests/no_refunds.sql:1:4: no_refunds: severity must be error or warn'],
  },
  'two tests given one name': {
    files: { 'models/schema.yml': column('          - unique: { name: order_id_ok }\n          - not_null: { name: order_id_ok }\n') },
    args: build,
    code: 2,
    stderr: ["error: models/schema.yml:8: two tests are named 'order_id_ok' (also in models/schema.yml:7) (give one of them another name: (name: my_test) in its arguments)"],
  },
});

corpus('unit tests', {
  'a model that does not exist, at model:': {
    files: unitTest('    model: fct_order\n    given: []\n    expect: { rows: [] }\n'),
    args: build,
    code: 2,
    stderr: ['error: models/unit.yml:4:5: unit test keeps_orders: no model named fct_order (did you mean fct_orders?)'],
  },
  'rows for something the model does not read, at input:': {
    files: unitTest("    model: stg_orders\n    given:\n      - input: ref('countries')\n        rows: [{ code: FR }]\n    expect: { rows: [] }\n"),
    args: build,
    code: 2,
    stderr: ["error: models/unit.yml:6:9: unit test keeps_orders: given input ref('countries') is not an input of stg_orders (its inputs: source('raw', 'orders'))"],
  },
  'an input without rows': {
    files: unitTest("    model: fct_orders\n    given:\n      - input: ref('stg_orders')\n        rows: [{ order_id: 1 }]\n    expect: { rows: [] }\n"),
    args: build,
    code: 2,
    stderr: ["error: models/unit.yml:3: unit test keeps_orders: every input of fct_orders needs given rows; missing ref('countries')"],
  },
  'a fixture file': {
    files: unitTest("    model: stg_orders\n    given:\n      - input: source('raw', 'orders')\n        fixture: orders_fixture\n    expect: { rows: [] }\n"),
    args: build,
    code: 2,
    stderr: ['error: models/unit.yml:7:9: keeps_orders: fixture files are not supported; give the rows inline (format: dict or csv)'],
  },
  'csv rows that do not match their header': {
    files: unitTest("    model: stg_orders\n    given:\n      - input: source('raw', 'orders')\n        format: csv\n        rows: |\n          order_id,country\n          1,FR,10\n    expect: { rows: [] }\n"),
    args: build,
    code: 2,
    stderr: ['error: models/unit.yml:8:9: keeps_orders: csv row 1 has 3 values for 2 columns'],
  },
  'an unknown override': {
    files: unitTest("    model: stg_orders\n    overrides:\n      macros: { is_incremntal: true }\n    given:\n      - input: source('raw', 'orders')\n        rows: []\n    expect: { rows: [] }\n"),
    args: build,
    code: 2,
    stderr: ["error: models/unit.yml:6:17: unknown key 'is_incremntal' in overrides.macros (did you mean is_incremental?)"],
  },
});

corpus('command-line arguments', {
  '--threads with an inline value that is not a number': { args: ['run', '--threads=abc'], code: 2, stderr: ["error: --threads must be a positive integer, got 'abc'"] },
  '--target without its value': { args: ['run', '--target', '--full-refresh'], code: 2, stderr: ['error: --target needs a value'] },
  '--full-refresh with a value': { args: ['run', '--full-refresh=yes'], code: 2, stderr: ['error: --full-refresh takes no value'] },
  '--vars that is not YAML': {
    args: ['run', '--vars', '{a: [1'],
    code: 2,
    stderr: ['error: --vars is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 1, column 7:'],
  },
  '--project-dir that does not exist': {
    args: ['run', '--project-dir', '$DIR/nowhere'],
    code: 2,
    stderr: ['error: no project.yml or dbt_project.yml in $DIR/nowhere (run smelter in a project directory or pass --project-dir DIR)'],
  },
  'an unknown state command, with a hint': { args: ['state', 'shwo'], code: 2, stderr: ["error: unknown state command 'shwo' (did you mean show?)"] },
  'a graph operator given twice': {
    args: ['build', '--select', 'stg_orders++'],
    code: 2,
    stderr: ["error: invalid selector 'stg_orders++': graph operators may appear once before and once after the criterion"],
  },
  '@ with a + suffix': { args: ['build', '--select', '@stg_orders+'], code: 2, stderr: ["error: invalid selector '@stg_orders+': '@' and a '+' suffix are incompatible"] },
  '--event-time-start that is not a time': {
    args: ['run', '--event-time-start', 'yesterday'],
    code: 2,
    stderr: ["error: --event-time-start must be a date or timestamp (e.g. 2024-06-01), got 'yesterday'"],
  },
  'conflicting flags: --event-time-start after --event-time-end': {
    args: ['run', '--event-time-start', '2024-02-01', '--event-time-end', '2024-01-01'],
    code: 2,
    stderr: ['error: --event-time-start (2024-02-01T00:00:00.000Z) must be before --event-time-end (2024-01-01T00:00:00.000Z)'],
  },
  '--state whose manifest.json has no nodes': {
    files: { 'prod/manifest.json': '{"metadata": {}}' },
    args: ['build', '--select', 'state:modified+', '--state', '$DIR/prod'],
    code: 2,
    stderr: ['error: --state $DIR/prod: manifest.json is not a manifest (it has no nodes) (point --state at the target/ folder of an earlier compile or run)'],
  },
});

describe('failures while running: exit 1, and the data as it was', () => {
  it('(the check sees a change: a good run with new data changes the lake and the database)', async () => {
    const r = await runCase({ files: { 'data/orders.csv': `${BASE['data/orders.csv']}3,FR,30\n` }, args: ['build'], code: 0, stderr: [] }, true);
    expect({ code: r.code, stderr: r.stderr, unchanged: r.unchanged }).toEqual({ code: 0, stderr: [], unchanged: false });
  });

  it('a seed column type DuckDB does not know', async () => {
    const r = await runCase({ files: { 'models/seeds.yml': 'version: 2\nseeds:\n  - name: countries\n    config:\n      column_types: { code: not_a_type }\n' }, args: ['seed'], code: 1, stderr: [] }, true);
    expect(r).toEqual({
      code: 1,
      stderr: [],
      stdout: [
        'Running 1 seed with 1 thread',
        '1 of 1 ERROR seed main.countries ........................... [ERROR in Ns]',
        'Finished 1 seed in Ns: 0 OK, 1 ERROR, 0 SKIP',
        '  countries: seeds/countries.csv: Catalog Error: Type with name not_a_type does not exist! Did you mean "int"? (the statements are in target/run/seeds/countries.csv.sql)',
      ],
      unchanged: true,
    });
  });
});

describe.concurrent('the built CLI: the same messages and exit codes from a process', () => {
  const copy = () => {
    const dir = mkdtempSync(join(root, 'cli-'));
    cpSync(built, dir, { recursive: true });
    return dir;
  };
  it('a bad seed: exit 2 before anything runs', async ({ expect }) => {
    const dir = copy();
    writeFileSync(join(dir, 'seeds/countries.csv'), 'code,name\nFR,France,EU\n');
    const r = await smelter(['build'], { projectDir: dir });
    expect({ code: r.code, stdout: r.stdout, stderr: lines(r.stderr) }).toEqual({ code: 2, stdout: '', stderr: ['error: seeds/countries.csv:2: this row has 3 values for 2 columns (code, name)'] });
  });
  it('conflicting flags: exit 2', async ({ expect }) => {
    const r = await smelter(['run', '--event-time-start', '2024-02-01', '--event-time-end', '2024-02-01'], { projectDir: copy() });
    expect({ code: r.code, stdout: r.stdout, stderr: lines(r.stderr) }).toEqual({
      code: 2,
      stdout: '',
      stderr: ['error: --event-time-start (2024-02-01T00:00:00.000Z) must be before --event-time-end (2024-02-01T00:00:00.000Z)'],
    });
  });
  it('a seed that fails to load: exit 1', async ({ expect }) => {
    const dir = copy();
    writeFileSync(join(dir, 'models/seeds.yml'), 'version: 2\nseeds:\n  - name: countries\n    config:\n      column_types: { code: not_a_type }\n');
    const r = await smelter(['seed'], { projectDir: dir });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' });
    expect(lines(r.stdout).at(-1)).toBe(
      '  countries: seeds/countries.csv: Catalog Error: Type with name not_a_type does not exist! Did you mean "int"? (the statements are in target/run/seeds/countries.csv.sql)',
    );
  });
});
