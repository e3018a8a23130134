import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { handler, InvocationFailure } from '../../adapters/lambda/handler.js';
import { loadProject } from '../../runtime/project/load-project.js';
import { ProjectError } from '../../runtime/errors.js';
import { boundJson, boundText, capBytes } from '../../runtime/util/bounded-text.js';
import { listFiles, smelter } from '../helpers/cli.js';

/**
 * Bad input in Lambda events and vars: every field of an event, and every var of the Gold project,
 * given quotes, semicolons, `$$`, SQL comments, NUL, 5 MB and non-UTF-8 values. Each is refused as
 * a ProjectError with its exact message, before anything runs: the project folder holds exactly the
 * files it held (no target/, so no database, no state, no lake), and no statement ran (an injected
 * COPY would have written a file). The handler runs in-process on a copy of the Gold project, with
 * the event's `target: dev` (a local DuckDB file, local storage, local state).
 */

const REPO = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(() => {
  delete process.env.SMELTER_PROJECT_DIR;
  delete process.env.SMELTER_TARGET;
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A copy of the Gold project (project.yml, models, macros): no Silver data, nothing built. */
function goldCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'smelter-gold-events-'));
  dirs.push(dir);
  for (const part of ['project.yml', 'models', 'macros']) cpSync(join(REPO, part), join(dir, part), { recursive: true });
  return dir;
}


async function invoke(dir: string, event: unknown) {
  process.env.SMELTER_PROJECT_DIR = dir;
  // The event's default target: the Gold project's local one (the aws target needs S3 and DynamoDB).
  process.env.SMELTER_TARGET = 'dev';
  try {
    return { ok: await handler(event) };
  } catch (error) {
    if (!(error instanceof InvocationFailure)) throw error;
    return { name: error.name, message: error.message };
  }
}

/** What the failure carries: Step Functions sees `name`, and `message` is the summary as JSON. */
const refused = (error: string) => ({ name: 'ProjectError', message: JSON.stringify({ error }) });

const HUGE = 'a'.repeat(5_000_000);
const HUGE_SHOWN = `"${'a'.repeat(200)}"… [4,999,800 more characters]`;
const LONE = '\ud800';
// A payload with bytes that are not UTF-8 reaches the handler decoded, each bad byte as U+FFFD.
const BAD_BYTES = Buffer.from([0x64, 0x69, 0x6d, 0xc3, 0x28, 0xff]).toString('utf8');
const QUOTE = "2024-01-01'; drop table gold.dim_date; --";
const FIELDS = 'command, select, exclude, indirect_selection, full_refresh, vars, target, event_time_start, event_time_end';
const DATE = 'a date (YYYY-MM-DD)';
const NO_TYPE = (name: string) => `event vars: '${name}' is a string without pattern: or values: in project.yml, so an event may not set it`;

describe('a Lambda event: every field and every Gold var, fuzzed', () => {
  const dir = goldCopy();
  const before = listFiles(dir);

  // [what, event, the exact error]
  const cases: Array<[string, unknown, string]> = [
    // the event itself
    ['an event that is a string', "build'; drop table x; --", `the event must be a JSON object, got "build'; drop table x; --"`],
    ['an unknown field with a quote', { "select'; --": ['dim_date'] }, `unknown event field "select'; --" (fields: ${FIELDS})`],
    ['a 5 MB unknown field', { [HUGE]: 1 }, `unknown event field "${'a'.repeat(60)}"… [4,999,940 more characters] (fields: ${FIELDS})`],
    // command
    ['command with a quote and a comment', { command: "build'; drop table x; --" }, `command must be one of build, run, test, seed, got "build'; drop table x; --"`],
    ['command with NUL', { command: 'build\u0000' }, 'command must be one of build, run, test, seed, got "build\\u0000"'],
    ['command of 5 MB', { command: HUGE }, `command must be one of build, run, test, seed, got ${HUGE_SHOWN}`],
    // select
    ['select as a string of SQL', { select: 'dim_date; drop table gold.dim_date' }, 'select must be a list of selector strings, got "dim_date; drop table gold.dim_date"'],
    ['select with a quote', { select: ["dim_date'"] }, "select 'dim_date'' matches no enabled node (did you mean dim_date?)"],
    ['select with a semicolon', { select: ['dim_date;'] }, "select 'dim_date;' matches no enabled node (did you mean dim_date?)"],
    ['select with $$', { select: ['$$dim_date$$'] }, "select '$$dim_date$$' matches no enabled node (did you mean dim_date?)"],
    ['select with a comment', { select: ['dim_date--'] }, "select 'dim_date--' matches no enabled node (did you mean dim_date?)"],
    ['select with NUL', { select: ['dim_date\u0000'] }, "select 'dim_date\u0000' matches no enabled node (did you mean dim_date?)"],
    ['select of 5 MB', { select: [HUGE] }, `select '${'a'.repeat(200)}… [4,999,800 more characters]' matches no enabled node (a selection must match every model it names: nothing was run)`],
    ['a malformed select of 5 MB', { select: [`${HUGE}:x`] }, `unknown selector method '${'a'.repeat(200)}… [4,999,800 more characters]' in '${'a'.repeat(200)}… [4,999,802 more characters]'`],
    ['select with a lone surrogate', { select: [`dim_date${LONE}`] }, 'select: "dim_date\\ud800" is not valid UTF-8 (it holds half a surrogate pair)'],
    ['select with bytes that were not UTF-8', { select: [BAD_BYTES] }, `select '${BAD_BYTES}' matches no enabled node (a selection must match every model it names: nothing was run)`],
    ['one of two selectors matching nothing', { select: ['dim_date', 'dim_membr'] }, "select 'dim_membr' matches no enabled node (did you mean dim_member?)"],
    // exclude
    ['exclude as a string of SQL', { exclude: "x'; --" }, `exclude must be a list of selector strings, got "x'; --"`],
    ['a malformed exclude of 5 MB', { exclude: [`@${HUGE}+`] }, `invalid selector '@${'a'.repeat(199)}… [4,999,802 more characters]': '@' and a '+' suffix are incompatible`],
    ['exclude with a lone surrogate', { exclude: [LONE] }, 'exclude: "\\ud800" is not valid UTF-8 (it holds half a surrogate pair)'],
    // indirect_selection
    ['indirect_selection with a quote', { indirect_selection: "eager'; --" }, `indirect_selection must be one of eager, cautious, buildable, empty, got "eager'; --"`],
    ['indirect_selection of 5 MB', { indirect_selection: HUGE }, `indirect_selection must be one of eager, cautious, buildable, empty, got ${HUGE_SHOWN}`],
    // full_refresh
    ['full_refresh as SQL', { full_refresh: 'true; drop table x' }, 'full_refresh must be true or false, got "true; drop table x"'],
    // target
    ['target with a quote', { select: ['dim_date'], target: "dev'; --" }, "event target 'dev'; --' is not defined in project.yml (targets: dev, aws)"],
    ['target of 5 MB', { target: HUGE }, `event target '${'a'.repeat(200)}… [4,999,800 more characters]' is not defined in project.yml (targets: dev, aws)`],
    ['target that is not a string', { target: { name: 'dev' } }, 'target must be a string, got {"name":"dev"}'],
    // event_time_start / event_time_end
    ['event_time_start with a quote', { event_time_start: QUOTE }, `event_time_start must be an ISO date or timestamp (2024-06-01, 2024-06-01T12:00:00Z), got "2024-01-01'; drop table gold.dim_date; --"`],
    ['event_time_start that JavaScript would read as 2001', { event_time_start: '1' }, 'event_time_start must be an ISO date or timestamp (2024-06-01, 2024-06-01T12:00:00Z), got "1"'],
    ['event_time_end with NUL', { event_time_end: '2024-06-01\u0000' }, 'event_time_end must be an ISO date or timestamp (2024-06-01, 2024-06-01T12:00:00Z), got "2024-06-01\\u0000"'],
    ['event_time_end of 5 MB', { event_time_end: HUGE }, `event_time_end must be an ISO date or timestamp (2024-06-01, 2024-06-01T12:00:00Z), got ${HUGE_SHOWN}`],
    // vars, the mapping
    ['vars as a string of SQL', { vars: "calendar_start='2024-01-01'" }, `vars must be a mapping, got "calendar_start='2024-01-01'"`],
    ['a var project.yml does not declare', { vars: { "x'; --": 1 } }, "event vars sets 'x'; --', which project.yml does not declare (declare it under vars: in project.yml)"],
    ['a var name of 5 MB', { vars: { [HUGE]: 1 } }, `event vars sets '${'a'.repeat(100)}… [4,999,900 more characters]', which project.yml does not declare (declare it under vars: in project.yml)`],
    // every Gold var
    ['calendar_start: the stacked statements of the probe', { select: ['dim_date'], target: 'dev', vars: { calendar_start: QUOTE } }, `event vars 'calendar_start' must be ${DATE}, got "${QUOTE}"`],
    ['calendar_start with $$', { vars: { calendar_start: '$$2024-01-01$$' } }, `event vars 'calendar_start' must be ${DATE}, got "$$2024-01-01$$"`],
    ['calendar_start that is no real day', { vars: { calendar_start: '2024-02-30' } }, `event vars 'calendar_start' must be ${DATE}, got "2024-02-30"`],
    ['calendar_start with a lone surrogate', { vars: { calendar_start: `2024-01-0${LONE}` } }, `event vars 'calendar_start' must be ${DATE}, got "2024-01-0\\ud800"`],
    ['calendar_end with a comment', { vars: { calendar_end: '2030-12-31 /* */' } }, `event vars 'calendar_end' must be ${DATE}, got "2030-12-31 /* */"`],
    ['calendar_end with NUL', { vars: { calendar_end: '2030-12-31\u0000' } }, `event vars 'calendar_end' must be ${DATE}, got "2030-12-31\\u0000"`],
    ['calendar_end of 5 MB', { vars: { calendar_end: `2030-12-31${HUGE}` } }, `event vars 'calendar_end' must be ${DATE}, got "2030-12-31${'a'.repeat(190)}"… [4,999,810 more characters]`],
    ['as_of with a quote', { vars: { as_of: "2024-06-01' or 1=1 --" } }, `event vars 'as_of' must be ${DATE}, got "2024-06-01' or 1=1 --"`],
    ['as_of with bytes that were not UTF-8', { vars: { as_of: `2024-06-0${BAD_BYTES}` } }, `event vars 'as_of' must be ${DATE}, got "2024-06-0${BAD_BYTES}"`],
    ['lookback_days as SQL', { vars: { lookback_days: '90; drop table x' } }, `event vars 'lookback_days' must be an integer, got "90; drop table x"`],
    ['lookback_days not whole', { vars: { lookback_days: 1.5 } }, "event vars 'lookback_days' must be an integer, got 1.5"],
    ['silver_root pointed elsewhere', { vars: { silver_root: 's3://someone-elses-bucket/silver' } }, NO_TYPE('silver_root')],
    ['silver_root with a quote', { vars: { silver_root: "data/silver'; copy (select 1) to 'x.csv'; --" } }, NO_TYPE('silver_root')],
  ];

  it.each(cases)('%s', async (_what, event, error) => {
    const r = await invoke(dir, event);
    expect(r).toEqual(refused(error));
    // Nothing ran and nothing changed: no database, no state, no lake, no file an injected COPY wrote.
    expect(listFiles(dir)).toEqual(before);
    // Every failure payload stays far under Step Functions' 256 KB.
    expect(Buffer.byteLength(r.message!)).toBeLessThan(16 * 1024);
  });

  it('a junk exclude is matched, never run: the model builds and the result carries the warning', async () => {
    const lake = goldCopy();
    const r = await invoke(lake, {
      select: ['dim_date'],
      exclude: ["x';drop", '$$', '/*'],
      target: 'dev',
      vars: { calendar_start: '2024-06-14', calendar_end: '2024-06-17' },
    });
    expect(r.ok?.results.map((x) => [x.unique_id, x.status, x.rows]).sort()).toEqual([
      ['model.congress_gold.dim_date', 'success', 4],
      ['test.congress_gold.not_null_dim_date_date_key', 'pass', 0],
      ['test.congress_gold.unique_dim_date_date_key', 'pass', 0],
    ]);
    expect(r.ok?.warnings).toEqual([
      "The selection criterion 'x';drop' does not match any enabled nodes",
      "The selection criterion '$$' does not match any enabled nodes",
      "The selection criterion '/*' does not match any enabled nodes",
    ]);
    // The control: a run that does build leaves files, so the checks above could fail.
    expect(listFiles(lake).filter((f) => f.startsWith('target/lake/gold/dim_date/')).length).toBeGreaterThan(0);
  });
});

/**
 * The same, as a matrix: each kind of hostile value in each field of an event and in each var of the
 * Gold project. The expected message is built from the field's own wording and the value as a
 * message quotes it (JSON, cut past 200 characters, as the literal cases above show).
 */
describe('every event field and every Gold var x every kind of hostile value', () => {
  const dir = goldCopy();
  const before = listFiles(dir);
  const KINDS: Array<[string, string]> = [
    ['a quote', "x'y"],
    ['a semicolon', 'x;y'],
    ['$$', '$$x$$'],
    ['SQL comments', 'x--y/*z*/'],
    ['NUL', 'x\u0000y'],
    ['5 MB', HUGE],
    ['a lone surrogate', `x${LONE}y`],
    ['bytes that were not UTF-8', BAD_BYTES],
  ];
  const shown = (v: string) => boundJson(v);
  const hasLone = (v: string) => v.includes(LONE);
  const FIELD_ERRORS: Array<[string, (v: string) => unknown, (v: string) => string]> = [
    ['command', (v) => ({ command: v }), (v) => `command must be one of build, run, test, seed, got ${shown(v)}`],
    ['indirect_selection', (v) => ({ indirect_selection: v }), (v) => `indirect_selection must be one of eager, cautious, buildable, empty, got ${shown(v)}`],
    ['full_refresh', (v) => ({ full_refresh: v }), (v) => `full_refresh must be true or false, got ${shown(v)}`],
    ['target', (v) => ({ target: v }), (v) => `event target '${boundText(v)}' is not defined in project.yml (targets: dev, aws)`],
    ['event_time_start', (v) => ({ event_time_start: v }), (v) => `event_time_start must be an ISO date or timestamp (2024-06-01, 2024-06-01T12:00:00Z), got ${shown(v)}`],
    ['event_time_end', (v) => ({ event_time_end: v }), (v) => `event_time_end must be an ISO date or timestamp (2024-06-01, 2024-06-01T12:00:00Z), got ${shown(v)}`],
    ['vars (a mapping)', (v) => ({ vars: v }), (v) => `vars must be a mapping, got ${shown(v)}`],
    ['a var name', (v) => ({ vars: { [v]: '2024-01-01' } }), (v) => `event vars sets '${boundText(v, 100)}', which project.yml does not declare (declare it under vars: in project.yml)`],
    [
      'select',
      (v) => ({ select: [v] }),
      (v) =>
        hasLone(v)
          ? `select: ${shown(v)} is not valid UTF-8 (it holds half a surrogate pair)`
          : `select '${boundText(v)}' matches no enabled node (a selection must match every model it names: nothing was run)`,
    ],
    ['a field name', (v) => ({ [v]: true }), (v) => `unknown event field ${boundJson(v, 60)} (fields: ${FIELDS})`],
  ];
  const dateError = (name: string) => (v: string) => `event vars '${name}' must be a date (YYYY-MM-DD), got ${shown(v)}`;
  const VAR_ERRORS: Array<[string, (v: string) => string]> = [
    ['lookback_days', (v) => `event vars 'lookback_days' must be an integer, got ${shown(v)}`],
    ['as_of', dateError('as_of')],
    ['calendar_start', dateError('calendar_start')],
    ['calendar_end', dateError('calendar_end')],
    ['silver_root', () => NO_TYPE('silver_root')],
  ];
  const matrix: Array<[string, unknown, string]> = [
    ...FIELD_ERRORS.flatMap(([field, event, error]) => KINDS.map(([kind, v]): [string, unknown, string] => [`${field} with ${kind}`, event(v), error(v)])),
    // A date var given a date followed by the hostile part, so only the type check stands in the way.
    ...VAR_ERRORS.flatMap(([name, error]) =>
      KINDS.map(([kind, v]): [string, unknown, string] => {
        const value = name === 'lookback_days' || name === 'silver_root' ? v : `2024-01-01${v}`;
        return [`var ${name} with ${kind}`, { select: ['dim_date'], vars: { [name]: value } }, error(value)];
      }),
    ),
  ];

  it.each(matrix)('%s', async (_what, event, error) => {
    const r = await invoke(dir, event);
    expect(r).toEqual(refused(error));
    expect(listFiles(dir)).toEqual(before);
    expect(Buffer.byteLength(r.message!)).toBeLessThan(16 * 1024);
  });

  it('exclude with each kind: matched as a selector, never run; the warning comes back, nothing is written twice', async () => {
    const lake = goldCopy();
    const event = (exclude: string) => ({ select: ['dim_date'], exclude: [exclude], vars: { calendar_start: '2024-06-14', calendar_end: '2024-06-17' } });
    const first = await invoke(lake, event('nothing_at_all'));
    expect(first.ok?.results.find((x) => x.unique_id === 'model.congress_gold.dim_date')?.rows).toBe(4);
    const built = listFiles(lake).filter((f) => f.startsWith('target/lake/'));
    for (const [kind, v] of KINDS) {
      const r = await invoke(lake, event(v));
      if (hasLone(v)) {
        expect({ kind, r }).toEqual({ kind, r: refused(`exclude: ${shown(v)} is not valid UTF-8 (it holds half a surrogate pair)`) });
        continue;
      }
      // dim_date has every day already: the run writes nothing.
      expect({ kind, rows: r.ok?.results.find((x) => x.unique_id === 'model.congress_gold.dim_date')?.rows }).toEqual({ kind, rows: 0 });
      expect({ kind, warnings: r.ok?.warnings }).toEqual({ kind, warnings: [boundText(`The selection criterion '${v}' does not match any enabled nodes`, 2000)] });
    }
    expect(listFiles(lake).filter((f) => f.startsWith('target/lake/'))).toEqual(built);
    expect(listFiles(lake).some((f) => /pwned|x'y/.test(f))).toBe(false);
  });
});

describe('the probe: a quote in calendar_start ran stacked statements', () => {
  it('is refused before anything renders; no statement runs, no file is written', async () => {
    const dir = goldCopy();
    // Closes the COPY the model's rows are written by, then runs two statements of its own.
    const payload =
      `2024-01-01', date '2024-01-02', interval 1 day) as days(d)) ORDER BY 1) TO '${dir}/pwned.csv' (FORMAT csv); ` +
      `CREATE TABLE main.pwned AS SELECT 42 AS x; COPY (SELECT * FROM (select 1 as date_key from range(date '2024-01-01`;
    const r = await invoke(dir, { select: ['dim_date'], target: 'dev', vars: { calendar_start: payload } });
    expect(r.name).toBe('ProjectError');
    expect(JSON.parse(r.message!).error).toBe(`event vars 'calendar_start' must be a date (YYYY-MM-DD), got ${boundJson(payload)}`);
    expect(existsSync(join(dir, 'pwned.csv'))).toBe(false);
    expect(existsSync(join(dir, 'target'))).toBe(false);
  });

  it('a string var with a pattern still never carries a quote, a semicolon or a comment from an event', async () => {
    const dir = goldCopy();
    writeFileSync(
      join(dir, 'project.yml'),
      (await import('node:fs')).readFileSync(join(dir, 'project.yml'), 'utf8').replace(
        '  lookback_days: { type: integer, default: 90 }',
        "  lookback_days: { type: integer, default: 90 }\n  region: { type: string, default: us, pattern: '.*' }\n  window: { values: [7d, 30d, 90d], default: 7d }",
      ),
    );
    const cases: Array<[unknown, string]> = [
      [{ region: "us'; drop table x" }, `event vars 'region' holds a quote, backslash or semicolon, which no value from an event may hold: got "us'; drop table x"`],
      [{ region: 'us -- x' }, `event vars 'region' holds an SQL comment, which no value from an event may hold: got "us -- x"`],
      [{ region: 'us\u0000' }, `event vars 'region' holds a control character, which no value from an event may hold: got "us\\u0000"`],
      [{ region: `us${LONE}` }, `event vars 'region' holds a lone surrogate (not valid UTF-8), which no value from an event may hold: got "us\\ud800"`],
      [{ window: "7d'" }, `event vars 'window' must be one of "7d", "30d", "90d", got "7d'"`],
    ];
    for (const [vars, error] of cases) expect(await invoke(dir, { select: ['dim_date'], target: 'dev', vars })).toEqual(refused(error));
    expect(existsSync(join(dir, 'target'))).toBe(false);
  });
});

describe('typed vars in project.yml', () => {
  const load = (vars: string, options: Parameters<typeof loadProject>[1] = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'smelter-vars-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'project.yml'), `name: p\nvars:\n${vars}\ntargets:\n  dev: { database: ':memory:' }\n`);
    return loadProject(dir, { env: {}, ...options });
  };
  const error = (vars: string, options: Parameters<typeof loadProject>[1] = {}) => {
    try {
      load(vars, options);
    } catch (e) {
      if (e instanceof ProjectError) return e.format();
      throw e;
    }
    throw new Error('no error');
  };

  it('refuses a declaration that is not one, naming the line and the key', () => {
    expect(error('  a: { type: datetime, default: null }')).toBe('project.yml:3:8: vars.a.type must be one of string, integer, number, boolean, date, timestamp, identifier, got "datetime"');
    expect(error('  a: { type: intger, default: 1 }')).toBe('project.yml:3:8: vars.a.type must be one of string, integer, number, boolean, date, timestamp, identifier, got "intger" (did you mean integer?)');
    expect(error('  a: 1\n  b: { type: date, defualt: null }')).toBe("project.yml:4:20: unknown var key 'defualt' in vars.b (did you mean default?)");
    expect(error('  a: { type: date, default: "2024-13-01" }')).toBe('project.yml:3:20: vars.a.default must be a date (YYYY-MM-DD) (or null), got "2024-13-01"');
    expect(error('  a: { type: integer, default: "90" }')).toBe('project.yml:3:23: vars.a.default must be an integer (or null), got "90"');
    expect(error('  a: { type: identifier, default: "gold.x" }')).toBe('project.yml:3:26: vars.a.default must be an identifier ([A-Za-z_][A-Za-z0-9_]*) (or null), got "gold.x"');
    expect(error('  a: { type: date, pattern: "x" }')).toBe('project.yml:3:20: vars.a.pattern applies to a string var, not a date');
    expect(error('  a: { type: string, pattern: "(" }')).toMatch(/^project\.yml:3:22: vars\.a\.pattern is not a valid regular expression: /);
    expect(error('  a: { values: [7d, 30d], default: 90d }')).toBe('project.yml:3:27: vars.a.default must be one of "7d", "30d" (or null), got "90d"');
    expect(error('  a: { type: integer, values: [1, x] }')).toBe('project.yml:3:35: vars.a.values: "x" is not an integer');
    expect(error('  a: { default: 5 }')).toBe('project.yml:3:3: vars.a needs type: (one of string, integer, number, boolean, date, timestamp, identifier) beside its default');
  });

  it('checks a target var against the declared type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelter-vars-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'project.yml'), "name: p\nvars:\n  d: { type: date, default: null }\ntargets:\n  dev: { database: ':memory:', vars: { d: '2024-06-31' } }\n");
    expect(() => loadProject(dir, { env: {} })).toThrow(ProjectError);
    try {
      loadProject(dir, { env: {} });
    } catch (e) {
      expect((e as ProjectError).format()).toBe('project.yml:5:40: targets.dev.vars.d must be a date (YYYY-MM-DD) as declared in vars:, got "2024-06-31"');
    }
  });

  it('passes typed values to templates as given: a date as its string, an integer as a number', () => {
    const { varValues } = load('  d: { type: date, default: null }\n  n: { type: integer, default: 90 }\n  t: { type: timestamp, default: "2024-06-01T12:00:00Z" }\n  b: { type: boolean, default: false }', {
      vars: { d: '2024-02-29', n: 30 },
    });
    expect(varValues).toEqual({ d: '2024-02-29', n: 30, t: '2024-06-01T12:00:00Z', b: false });
    expect(error('  t: { type: timestamp, default: null }', { vars: { t: '2024-06-01T24:00:00Z' } })).toBe(
      `--vars 't' must be a timestamp (ISO 8601, e.g. 2024-06-01T12:00:00Z), got "2024-06-01T24:00:00Z"`,
    );
    expect(error('  d: { type: date, default: "2024-01-01" }', { vars: { d: null } })).toBe(`--vars 'd' must be a date (YYYY-MM-DD), got null`);
    // The command line may set an untyped var (dbt's way); an event may not.
    expect(load('  root: data', { vars: { root: 'elsewhere' } }).varValues.root).toBe('elsewhere');
    expect(error('  root: data', { vars: { root: 'elsewhere' }, from: 'event' })).toBe(
      "event vars: 'root' has no type in project.yml, so an event may not set it (declare it with one, e.g. root: { type: date, default: null })",
    );
  });
});

describe('--vars on the command line, checked against the Gold project\'s types (exit 2)', () => {
  const dir = goldCopy();
  it.concurrent.each([
    ['{calendar_start: "2024-02-30"}', `error: --vars 'calendar_start' must be a date (YYYY-MM-DD), got "2024-02-30"`],
    ['{calendar_end: 2030}', "error: --vars 'calendar_end' must be a date (YYYY-MM-DD), got 2030"],
    ['{lookback_days: thirty}', `error: --vars 'lookback_days' must be an integer, got "thirty"`],
    ['{as_of: "2024-06-01\'; drop table x; --"}', `error: --vars 'as_of' must be a date (YYYY-MM-DD), got "2024-06-01'; drop table x; --"`],
  ])('%s', async (vars, stderr) => {
    const r = await smelter(['compile', '--select', 'dim_date', '--vars', vars], { projectDir: dir });
    expect({ code: r.code, stderr: r.stderr.trim(), stdout: r.stdout }).toEqual({ code: 2, stderr, stdout: '' });
    expect(existsSync(join(dir, 'target'))).toBe(false);
  });
});

describe('bounded text', () => {
  it('cuts long input, says how much, and never splits a character', () => {
    expect(boundText('abc', 5)).toBe('abc');
    expect(boundText('abcdefgh', 5)).toBe('abcde… [3 more characters]');
    expect(boundText('abcd😀fgh', 5)).toBe('abcd… [5 more characters]');
    expect(boundJson(HUGE)).toBe(HUGE_SHOWN);
    const capped = capBytes('\u0000'.repeat(1_000_000), 1024);
    expect(Buffer.byteLength(JSON.stringify(capped))).toBeLessThanOrEqual(1024);
    expect(capped.endsWith('… [999,835 more characters]')).toBe(true);
  });

  it('caps every error a user can cause, its message and its formatted line, under 64 KB', () => {
    const error = new ProjectError(`no model named ${'m'.repeat(5_000_000)}`, { hint: 'h'.repeat(5_000_000), location: { file: 'models/x.sql', line: 1 } });
    expect(Buffer.byteLength(JSON.stringify(error.message))).toBeLessThanOrEqual(64 * 1024);
    expect(error.message.endsWith(' more characters]')).toBe(true);
    const line = error.format();
    expect(Buffer.byteLength(JSON.stringify(line))).toBeLessThanOrEqual(64 * 1024);
    expect(line.startsWith('models/x.sql:1: no model named mmm')).toBe(true);
  });
});
