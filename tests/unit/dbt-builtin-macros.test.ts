import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { INTERNAL_PACKAGE, TemplateEngine, type RenderScope } from '../../runtime/template/template-engine.js';
import { TemplateLocatedError, TemplateUserError } from '../../runtime/template/strict-compiler.js';
import { CROSS_DATABASE_MACROS, DBT_BUILTIN_MACRO_FILES } from '../../runtime/template/dbt-builtin-macros.js';

// dbt's `exceptions.raise_compiler_error`, which the macros call for a caller's mistake; the render
// scope is to provide it as this one does.
const scope: RenderScope = {
  functions: {},
  values: {
    exceptions: {
      raise_compiler_error(message: string): never {
        throw new TemplateUserError(message);
      },
    },
  },
};

const engine = new TemplateEngine(DBT_BUILTIN_MACRO_FILES);
const render = (template: string): string => engine.render('models/m.sql', template, scope);

let instance: DuckDBInstance;
let connection: DuckDBConnection;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
});
afterAll(() => {
  connection.closeSync();
  instance.closeSync();
});

async function rows(sql: string, on: DuckDBConnection = connection): Promise<Record<string, unknown>[]> {
  return (await (await on.run(sql)).getRowObjectsJson()) as Record<string, unknown>[];
}

/** The value of one rendered expression, evaluated by DuckDB (over `from` when given). */
async function valueOf(template: string, from = ''): Promise<unknown> {
  const result = await rows(`select ${render(template)} as v ${from}`);
  expect(result).toHaveLength(1);
  return result[0].v;
}

function renderError(template: string): { file: string; line: number; message: string } {
  try {
    render(template);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateLocatedError);
    const e = error as TemplateLocatedError;
    return { file: e.templateFile, line: e.line, message: e.message };
  }
  throw new Error(`expected ${template} to fail`);
}

type Case = readonly [label: string, template: string, expected: unknown, from?: string];

/** One test per case: the rendered expression's value in DuckDB. */
function itEvaluates(cases: readonly Case[]): void {
  for (const [label, template, expected, from] of cases) {
    it(label, async () => {
      expect(await valueOf(template, from)).toEqual(expected);
    });
  }
}

const HELPERS = 'smelter/dbt/cross_database/smelter_helpers.sql';

describe('dbt.dateadd on DuckDB', () => {
  const cases: Case[] = [
    ['a day', `{{ default__dateadd('day', 1, "date '2024-01-31'") }}`, '2024-02-01 00:00:00'],
    ['a month from a month end, leap year', `{{ default__dateadd('month', 1, "date '2024-01-31'") }}`, '2024-02-29 00:00:00'],
    ['a month from a month end, common year', `{{ default__dateadd('month', 1, "date '2023-01-31'") }}`, '2023-02-28 00:00:00'],
    ['months back from a quoted literal', `{{ default__dateadd(datepart='month', interval=-2, from_date_or_timestamp="'2016-03-09'") }}`, '2016-01-09 00:00:00'],
    ['a year from 29 February', `{{ default__dateadd('year', 1, "date '2024-02-29'") }}`, '2025-02-28 00:00:00'],
    ['a quarter from a month end', `{{ default__dateadd('quarter', 1, "date '2024-11-30'") }}`, '2025-02-28 00:00:00'],
    ['a week back over a year end', `{{ default__dateadd('week', -1, "date '2024-01-03'") }}`, '2023-12-27 00:00:00'],
    ['hours over a year end', `{{ default__dateadd('hour', 25, "timestamp '2024-12-31 23:00:00'") }}`, '2025-01-02 00:00:00'],
    ['minutes back', `{{ default__dateadd('minute', -90, "timestamp '2024-01-01 00:30:00'") }}`, '2023-12-31 23:00:00'],
    ['seconds', `{{ default__dateadd('second', 61, "timestamp '2024-01-01 00:00:00'") }}`, '2024-01-01 00:01:01'],
    ['milliseconds', `{{ default__dateadd('millisecond', 1500, "timestamp '2024-01-01 00:00:00'") }}`, '2024-01-01 00:00:01.5'],
    ['a microsecond back', `{{ default__dateadd('microsecond', -1, "timestamp '2024-01-01 00:00:00'") }}`, '2023-12-31 23:59:59.999999'],
    ['nanoseconds', `{{ default__dateadd('nanosecond', 5, "timestamp '2024-01-01 00:00:00'") }}`, '2024-01-01 00:00:00.000000005'],
    ['an interval written as a string, as dbt_utils passes it', `{{ default__dateadd('day', '-1', "date '2024-03-01'") }}`, '2024-02-29 00:00:00'],
    ['an interval from a column', `{{ default__dateadd('day', 'n', 'd') }}`, '2024-02-29 00:00:00', "from (values (date '2024-03-01', -1)) t(d, n)"],
    ['a datepart in capitals and plural', `{{ default__dateadd('DAYS', 2, "date '2024-02-28'") }}`, '2024-03-01 00:00:00'],
    ['a NULL date', `{{ default__dateadd('day', 1, "cast(null as date)") }}`, null],
    ['a NULL interval', `{{ default__dateadd('day', 'null', "date '2024-01-01'") }}`, null],
    ['a quoted literal from string_literal', `{{ default__dateadd('day', 1, default__string_literal('2024-02-28')) }}`, '2024-02-29 00:00:00'],
    ['a timestamptz stays one', `typeof({{ default__dateadd('hour', 1, "timestamptz '2024-01-01 00:00:00+00'") }})`, 'TIMESTAMP WITH TIME ZONE'],
  ];
  itEvaluates(cases);

  it('renders DuckDB interval arithmetic, typing a quoted literal as a timestamp', () => {
    expect(render(`{{ default__dateadd('month', -2, "'2016-03-09'") }}`)).toBe("(cast('2016-03-09' as timestamp) + interval (-2) month)");
    expect(render(`{{ default__dateadd('day', 1, 'order_date') }}`)).toBe('(order_date + interval (1) day)');
  });

  it('refuses a datepart it cannot add, naming the macro and the parts it can', () => {
    expect(renderError(`{{ default__dateadd('fortnight', 1, 'd') }}`)).toEqual({
      file: HELPERS,
      line: 6,
      message:
        "dateadd(): datepart 'fortnight' is not supported on DuckDB (supported: year, quarter, month, week, day, hour, minute, second, millisecond, microsecond, nanosecond)",
    });
  });
});

describe('dbt.datediff on DuckDB: boundaries crossed from the first date to the second', () => {
  const cases: Case[] = [
    ['days over a leap February', `{{ default__datediff("date '2024-01-31'", "date '2024-03-01'", 'day') }}`, '30'],
    ['days, backwards', `{{ default__datediff("date '2024-03-01'", "date '2024-01-31'", 'day') }}`, '-30'],
    ['a day across midnight, two minutes apart', `{{ default__datediff("timestamp '2024-01-01 23:59:00'", "timestamp '2024-01-02 00:01:00'", 'day') }}`, '1'],
    ['no day within a day', `{{ default__datediff("timestamp '2024-01-01 00:00:00'", "timestamp '2024-01-01 23:59:59'", 'day') }}`, '0'],
    ['quoted literals', `{{ default__datediff("'2016-03-09'", "'2016-03-19'", 'day') }}`, '10'],
    ['a week from Saturday to Sunday', `{{ default__datediff("date '2024-01-06'", "date '2024-01-07'", 'week') }}`, '1'],
    ['no week from Sunday to Saturday', `{{ default__datediff("date '2024-01-07'", "date '2024-01-13'", 'week') }}`, '0'],
    ['a week from Monday to Sunday', `{{ default__datediff("date '2024-01-08'", "date '2024-01-14'", 'week') }}`, '1'],
    ['a week from Sunday to Sunday', `{{ default__datediff("date '2024-01-07'", "date '2024-01-14'", 'week') }}`, '1'],
    ['a week back from Sunday to Saturday', `{{ default__datediff("date '2024-01-14'", "date '2024-01-13'", 'week') }}`, '-1'],
    ['the Sundays of 2024', `{{ default__datediff("date '2024-01-01'", "date '2024-12-31'", 'week') }}`, '52'],
    ['weeks of timestamps late on Saturday', `{{ default__datediff("timestamp '2024-01-06 23:59:59'", "timestamp '2024-01-07 00:00:00'", 'week') }}`, '1'],
    ['a month from a month end to the next day', `{{ default__datediff("date '2024-01-31'", "date '2024-02-01'", 'month') }}`, '1'],
    ['a month back', `{{ default__datediff("date '2024-02-01'", "date '2024-01-31'", 'month') }}`, '-1'],
    ['months over a year end', `{{ default__datediff("date '2023-12-15'", "date '2024-12-14'", 'month') }}`, '12'],
    ['a quarter boundary', `{{ default__datediff("date '2024-03-31'", "date '2024-04-01'", 'quarter') }}`, '1'],
    ['no quarter boundary', `{{ default__datediff("date '2024-01-01'", "date '2024-03-31'", 'quarter') }}`, '0'],
    ['a year in one second', `{{ default__datediff("timestamp '2023-12-31 23:59:59'", "timestamp '2024-01-01 00:00:00'", 'year') }}`, '1'],
    ['a year from 29 February', `{{ default__datediff("date '2024-02-29'", "date '2025-02-28'", 'year') }}`, '1'],
    ['an hour in one minute', `{{ default__datediff("timestamp '2024-01-01 10:59:00'", "timestamp '2024-01-01 11:00:00'", 'hour') }}`, '1'],
    ['no hour in 59 minutes', `{{ default__datediff("timestamp '2024-01-01 10:00:00'", "timestamp '2024-01-01 10:59:59'", 'hour') }}`, '0'],
    ['a minute in one second', `{{ default__datediff("timestamp '2024-01-01 00:00:59'", "timestamp '2024-01-01 00:01:00'", 'minute') }}`, '1'],
    ['a second in 0.2 seconds', `{{ default__datediff("timestamp '2024-01-01 00:00:00.9'", "timestamp '2024-01-01 00:00:01.1'", 'second') }}`, '1'],
    ['milliseconds over a minute', `{{ default__datediff("timestamp '2024-01-01 00:00:59.999'", "timestamp '2024-01-01 00:01:00.001'", 'millisecond') }}`, '2'],
    ['a microsecond', `{{ default__datediff("timestamp '2024-01-01 00:00:00.000001'", "timestamp '2024-01-01 00:00:00.000002'", 'microsecond') }}`, '1'],
    ['nanoseconds', `{{ default__datediff("timestamp_ns '2024-01-01 00:00:00.000000001'", "timestamp_ns '2024-01-01 00:00:00.000000005'", 'nanosecond') }}`, '4'],
    ['nanoseconds in a day', `{{ default__datediff("date '2024-01-01'", "date '2024-01-02'", 'nanosecond') }}`, '86400000000000'],
    ['a NULL date', `{{ default__datediff("cast(null as date)", "date '2024-01-02'", 'day') }}`, null],
    ['a NULL date, weeks', `{{ default__datediff("date '2024-01-02'", "cast(null as date)", 'week') }}`, null],
  ];
  itEvaluates(cases);

  it('takes columns and keyword arguments', async () => {
    const template = `{{ default__datediff(first_date='a', second_date='b', datepart='month') }}`;
    expect(await valueOf(template, "from (values (date '2024-03-31', date '2024-01-01')) t(a, b)")).toBe('-2');
  });

  it('refuses a datepart it cannot count', () => {
    expect(renderError(`{{ default__datediff('a', 'b', 'decade') }}`).message).toBe(
      "datediff(): datepart 'decade' is not supported on DuckDB (supported: year, quarter, month, week, day, hour, minute, second, millisecond, microsecond, nanosecond)",
    );
  });
});

describe('dbt.date_trunc, dbt.last_day and dbt.date on DuckDB', () => {
  const cases: Case[] = [
    ['a month', `{{ default__date_trunc('month', "timestamp '2024-02-29 13:45:00'") }}`, '2024-02-01 00:00:00'],
    ['a week starts on Monday', `{{ default__date_trunc('week', "date '2024-01-07'") }}`, '2024-01-01 00:00:00'],
    ['a quarter', `{{ default__date_trunc('quarter', "date '2024-05-17'") }}`, '2024-04-01 00:00:00'],
    ['a year of a quoted literal', `{{ default__date_trunc('year', "'2016-03-09'") }}`, '2016-01-01 00:00:00'],
    ['an hour', `{{ default__date_trunc('hour', "timestamp '2024-01-01 10:59:59'") }}`, '2024-01-01 10:00:00'],
    ['a millisecond', `{{ default__date_trunc('millisecond', "timestamp '2024-01-01 10:59:59.123456'") }}`, '2024-01-01 10:59:59.123'],
    ['a NULL', `{{ default__date_trunc('day', "cast(null as timestamp)") }}`, null],
    ['the last day of a leap February', `{{ default__last_day("date '2024-02-10'", 'month') }}`, '2024-02-29'],
    ['the last day of a common February', `{{ default__last_day("'2023-02-10'", 'month') }}`, '2023-02-28'],
    ['the last day of a quarter', `{{ default__last_day("date '2024-11-05'", 'quarter') }}`, '2024-12-31'],
    ['the last day of the first quarter, from its first day', `{{ default__last_day("date '2024-01-01'", 'quarter') }}`, '2024-03-31'],
    ['the last day of a year', `{{ default__last_day("'2016-03-09'", 'year') }}`, '2016-12-31'],
    ['the last day of a week is a Sunday', `{{ default__last_day("date '2024-01-03'", 'week') }}`, '2024-01-07'],
    ['a Sunday is its week\'s last day', `{{ default__last_day("date '2024-01-07'", 'week') }}`, '2024-01-07'],
    ['last_day is a date', `typeof({{ default__last_day("timestamp '2024-04-30 23:59:59'", 'month') }})`, 'DATE'],
    ['a NULL last day', `{{ default__last_day("cast(null as date)", 'month') }}`, null],
    ['a date from parts, 29 February', '{{ default__date(2024, 2, 29) }}', '2024-02-29'],
    ['a date from column parts', "{{ default__date('y', 'm', 'd') }}", '2023-12-31', 'from (values (2023, 12, 31)) t(y, m, d)'],
  ];
  itEvaluates(cases);

  it('refuses a datepart that has no last day, and a part DuckDB cannot truncate to', () => {
    expect(renderError(`{{ default__last_day('d', 'day') }}`).message).toBe(
      "last_day(): datepart 'day' is not supported on DuckDB (supported: year, quarter, month, week)",
    );
    expect(renderError(`{{ default__date_trunc('nanosecond', 'd') }}`).message).toBe(
      "date_trunc(): datepart 'nanosecond' is not supported on DuckDB (supported: year, quarter, month, week, day, hour, minute, second, millisecond, microsecond)",
    );
  });

  it('leaves an impossible date to DuckDB, which refuses it', async () => {
    await expect(valueOf('{{ default__date(2023, 2, 29) }}')).rejects.toThrow('Date out of range: 2023-2-29');
  });
});

describe('dbt.current_timestamp and its backward-compatible forms on DuckDB', () => {
  it('is now, with a time zone; the backcompat forms are without one, in the session zone and in UTC', async () => {
    const tokyo = await instance.connect();
    try {
      // A zone without daylight saving, so the offset is the same whenever the test runs.
      await tokyo.run("set TimeZone = 'Asia/Tokyo'");
      const [row] = await rows(
        `select typeof(${render('{{ default__current_timestamp() }}')}) as now_type,
                typeof(${render('{{ default__current_timestamp_backcompat() }}')}) as local_type,
                typeof(${render('{{ default__current_timestamp_in_utc_backcompat() }}')}) as utc_type,
                date_diff('minute', ${render('{{ default__current_timestamp_in_utc_backcompat() }}')}, ${render('{{ default__current_timestamp_backcompat() }}')}) as local_minus_utc,
                epoch_ms(${render('{{ default__current_timestamp_in_utc_backcompat() }}')}) as utc_ms`,
        tokyo,
      );
      const { utc_ms: utcMs, ...types } = row;
      expect(types).toEqual({
        now_type: 'TIMESTAMP WITH TIME ZONE',
        local_type: 'TIMESTAMP',
        utc_type: 'TIMESTAMP',
        local_minus_utc: '540',
      });
      // Read as UTC, the UTC form is the current instant.
      expect(Math.abs(Number(utcMs) - Date.now())).toBeLessThan(60_000);
    } finally {
      tokyo.closeSync();
    }
  });
});

describe('dbt string macros on DuckDB', () => {
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const cases: Case[] = [
    ['concat', `{{ default__concat(["'2024'", "'-'", "'01'"]) }}`, '2024-01'],
    ['concat of columns', `{{ default__concat(['a', "'.'", 'b']) }}`, 'x.y', "from (values ('x', 'y')) t(a, b)"],
    ['concat with a NULL part', `{{ default__concat(["'a'", 'null']) }}`, null],
    ['hash', `{{ default__hash("'Pennsylvania'") }}`, md5('Pennsylvania')],
    ['hash of a number hashes its text', '{{ default__hash(123) }}', md5('123')],
    ['hash of a NULL', `{{ default__hash('null') }}`, null],
    ['length counts characters', `{{ default__length("'héllo'") }}`, '5'],
    ['length of an empty string', `{{ default__length("''") }}`, '0'],
    ['length of a NULL', `{{ default__length('null') }}`, null],
    ['position', `{{ default__position("'-'", "'2024-01-31'") }}`, '5'],
    ['position not found', `{{ default__position("'x'", "'abc'") }}`, '0'],
    ['position in a NULL', `{{ default__position("'x'", 'null') }}`, null],
    ['replace every occurrence', `{{ default__replace("'a-b-c'", "'-'", "'_'") }}`, 'a_b_c'],
    ['replace a quote', `{{ default__replace("'it''s'", "''''", "'_'") }}`, 'it_s'],
    ['right', `{{ default__right("'abcdef'", 3) }}`, 'def'],
    ['right, longer than the string', `{{ default__right("'abcdef'", 10) }}`, 'abcdef'],
    ['right, negative: all but the first characters', `{{ default__right("'abcdef'", -2) }}`, 'cdef'],
    ['right of zero characters', `{{ default__right("'abcdef'", 0) }}`, ''],
    ['split_part, first', `{{ default__split_part("'1|2|3'", "'|'", 1) }}`, '1'],
    ['split_part, last by -1', `{{ default__split_part("'1|2|3'", "'|'", -1) }}`, '3'],
    ['split_part, first by -3', `{{ default__split_part("'1|2|3'", "'|'", -3) }}`, '1'],
    ['split_part beyond the end', `{{ default__split_part("'1|2|3'", "'|'", 4) }}`, ''],
    ['split_part before the start', `{{ default__split_part("'1|2|3'", "'|'", -4) }}`, ''],
    ['split_part of an empty part', `{{ default__split_part("'a,,c'", "','", 2) }}`, ''],
    ['split_part by a long delimiter', `{{ default__split_part("'a<>b<>c'", "'<>'", 2) }}`, 'b'],
    ['split_part by keyword', `{{ default__split_part(string_text="'a.b'", delimiter_text="'.'", part_number=2) }}`, 'b'],
    ['split_part of a NULL', `{{ default__split_part('null', "','", 1) }}`, null],
    ['escape_single_quotes inside a literal', `'{{ default__escape_single_quotes("ain't ain't a word") }}'`, "ain't ain't a word"],
    ['string_literal', `{{ default__string_literal("Pennsylvania") }}`, 'Pennsylvania'],
    ['string_literal with quotes', `{{ default__string_literal("it's 'quoted'") }}`, "it's 'quoted'"],
  ];
  itEvaluates(cases);

  it('renders the text dbt documents for the string-literal macros', () => {
    expect(render(`{{ default__escape_single_quotes("they're") }}`)).toBe("they''re");
    expect(render(`select {{ default__string_literal("Pennsylvania") }}`)).toBe("select 'Pennsylvania'");
    expect(render(`{{ default__concat(['year_column', "'-'", 'month_column']) }}`)).toBe("year_column || '-' || month_column");
  });
});

describe('dbt macros composed as dbt_utils composes them', () => {
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const cases: Case[] = [
    // generate_surrogate_key: a hash of the concatenated fields.
    ['hash of a concat', `{{ default__hash(default__concat(["'a'", "'-'", "'b'"])) }}`, md5('a-b')],
    // get_url_host: split_part of replace of a column.
    ['split_part of replace', `{{ default__split_part(default__replace('u', "'https://'", "''"), "'/'", 1) }}`, 'example.com', "from (values ('https://example.com/path')) t(u)"],
    // get_url_path: right of a length expression built in Jinja.
    ['right of a length expression', `{{ default__right("'abc/def'", default__length("'abc/def'") ~ '-' ~ default__position("'/'", "'abc/def'")) }}`, 'def'],
    // the star tests: a filter over the literal's text.
    ['a filter over string_literal', `{{ default__string_literal('"Column_One"') | lower }}`, '"column_one"'],
    // the recency test: an interval back from now, as a timestamp.
    ['dateadd of current_timestamp', `typeof(cast({{ default__dateadd('hour', -23, default__current_timestamp()) }} as {{ default__type_timestamp() }}))`, 'TIMESTAMP'],
  ];
  itEvaluates(cases);
});

describe('dbt aggregate macros on DuckDB', () => {
  const letters = "from (values ('b', 2), ('a', 1), ('c', 3)) t(x, o)";
  const cases: Case[] = [
    ['any_value skips a NULL', `{{ default__any_value('x') }}`, 'a', "from (values (null), ('a')) t(x)"],
    ['bool_or true', `{{ default__bool_or('x > 2') }}`, true, 'from (values (1), (3)) t(x)'],
    ['bool_or false over a NULL', `{{ default__bool_or('x > 2') }}`, false, 'from (values (1), (null)) t(x)'],
    ['bool_or of no values', `{{ default__bool_or('x > 2') }}`, null, 'from (values (null::integer)) t(x)'],
    ['listagg with the default delimiter, ordered', `{{ default__listagg('x', order_by_clause='order by o') }}`, 'a,b,c', letters],
    ['listagg with a delimiter, descending', `{{ default__listagg('x', "' | '", 'order by o desc') }}`, 'c | b | a', letters],
    ['listagg limited', `{{ default__listagg(measure='x', delimiter_text="','", order_by_clause='order by o', limit_num=2) }}`, 'a,b', letters],
    ['listagg of distinct values', `{{ default__listagg('DISTINCT x', "','", 'order by x') }}`, 'a,b', "from (values ('b'), ('a'), ('b')) t(x)"],
    ['listagg limited, a delimiter inside a value', `{{ default__listagg('x', "','", 'order by o', 1) }}`, 'a,b', "from (values ('a,b', 1), ('c', 2)) t(x, o)"],
    ['listagg leaves NULLs out', `{{ default__listagg('x', "','", 'order by o') }}`, 'a,c', "from (values ('a', 1), (null, 2), ('c', 3)) t(x, o)"],
    ['listagg limited: a NULL takes its place', `{{ default__listagg('x', "','", 'order by o', 2) }}`, 'a', "from (values ('a', 1), (null, 2), ('c', 3)) t(x, o)"],
    ['listagg of no rows', `{{ default__listagg('x') }}`, null, "from (values ('a')) t(x) where false"],
    ['listagg of no rows, limited', `{{ default__listagg('x', "','", none, 3) }}`, null, "from (values ('a')) t(x) where false"],
  ];
  itEvaluates(cases);

  it('aggregates per group', async () => {
    const sql = `select g, ${render(`{{ default__listagg('x', "'+'", 'order by x') }}`)} as v
      from (values (1, 'b'), (1, 'a'), (2, 'c')) t(g, x) group by g order by g`;
    expect(await rows(sql)).toEqual([
      { g: 1, v: 'a+b' },
      { g: 2, v: 'c' },
    ]);
  });
});

describe('dbt array macros on DuckDB', () => {
  const cases: Case[] = [
    ['array_construct of strings', `{{ default__array_construct(["'blue'", "'green'"]) }}`, ['blue', 'green']],
    ['array_construct of numbers', '{{ default__array_construct([1, 2, 3, 4]) }}', [1, 2, 3, 4]],
    ['array_construct of columns', `{{ default__array_construct(['a', 'b']) }}`, [7, 8], 'from (values (7, 8)) t(a, b)'],
    ['an empty array is of integers', 'typeof({{ default__array_construct() }})', 'INTEGER[]'],
    ['an empty array of a type', `typeof({{ default__array_construct([], 'varchar') }})`, 'VARCHAR[]'],
    ['an empty array is empty', '{{ default__array_construct([]) }}', []],
    ['array_append', `{{ default__array_append(default__array_construct([1, 2]), 3) }}`, [1, 2, 3]],
    ['array_append to an empty array', `{{ default__array_append(default__array_construct(), 5) }}`, [5]],
    ['array_append a string', `{{ default__array_append(default__array_construct(["'a'"]), "'blue'") }}`, ['a', 'blue']],
    ['array_concat', `{{ default__array_concat(default__array_construct([1]), default__array_construct([2, 3])) }}`, [1, 2, 3]],
    ['array_concat with an empty array', `{{ default__array_concat(default__array_construct(), default__array_construct([2])) }}`, [2]],
  ];
  itEvaluates(cases);
});

describe('dbt type and cast macros on DuckDB', () => {
  const cases: Case[] = [
    ['type_string', 'typeof(cast(1 as {{ default__type_string() }}))', 'VARCHAR'],
    ['type_timestamp', `typeof(cast('2024-01-01' as {{ default__type_timestamp() }}))`, 'TIMESTAMP'],
    ['type_float is double precision', 'typeof(cast(1 as {{ default__type_float() }}))', 'DOUBLE'],
    ['type_numeric', 'typeof(cast(1 as {{ default__type_numeric() }}))', 'DECIMAL(28,6)'],
    ['type_bigint', 'typeof(cast(1 as {{ default__type_bigint() }}))', 'BIGINT'],
    ['type_int', 'typeof(cast(1 as {{ default__type_int() }}))', 'INTEGER'],
    ['type_boolean', 'typeof(cast(1 as {{ default__type_boolean() }}))', 'BOOLEAN'],
    ['cast', `{{ default__cast("'42'", default__type_int()) }}`, 42],
    ['cast to a date', `{{ default__cast("'2016-03-09'", 'date') }}`, '2016-03-09'],
    ['safe_cast of a good value', `{{ default__safe_cast("'2016-03-09'", 'date') }}`, '2016-03-09'],
    ['safe_cast of a bad value is NULL', `{{ default__safe_cast("'abc'", default__type_int()) }}`, null],
    ['safe_cast of a number to numeric', `{{ default__safe_cast("'1.5'", default__type_numeric()) }}`, '1.500000'],
    ['cast_bool_to_text true', `{{ default__cast_bool_to_text('1 = 1') }}`, 'true'],
    ['cast_bool_to_text false', `{{ default__cast_bool_to_text('0 = 1') }}`, 'false'],
    ['cast_bool_to_text NULL', `{{ default__cast_bool_to_text('null') }}`, null],
  ];
  itEvaluates(cases);

  it('cast fails where safe_cast gives NULL', async () => {
    await expect(valueOf(`{{ default__cast("'abc'", default__type_int()) }}`)).rejects.toThrow("Could not convert string 'abc' to INT32");
  });
});

describe('dbt set operator macros on DuckDB', () => {
  it('except removes duplicates and the rows of the second query', async () => {
    const sql = `select x from (values (1), (1), (2), (3)) t(x) ${render('{{ default__except() }}')} select 3 order by x`;
    expect(await rows(sql)).toEqual([{ x: 1 }, { x: 2 }]);
  });

  it('intersect keeps the distinct rows of both', async () => {
    const sql = `select x from (values (1), (1), (2)) t(x) ${render('{{ default__intersect() }}')} select 1 order by x`;
    expect(await rows(sql)).toEqual([{ x: 1 }]);
  });
});

describe("dbt's number series", () => {
  it.each([
    [1, '1'],
    [2, '1'],
    [3, '2'],
    [1024, '10'],
    [1025, '11'],
  ])('get_powers_of_two(%i) is %s', (bound, expected) => {
    expect(render(`{{ default__get_powers_of_two(${bound}) }}`)).toBe(expected);
  });

  it('generate_series is the numbers 1 to the bound', async () => {
    expect(await rows(render('{{ default__generate_series(5) }}'))).toEqual([1, 2, 3, 4, 5].map((n) => ({ generated_number: String(n) })));
  });

  it('refuses a bound that is not positive', () => {
    expect(renderError('{{ default__get_powers_of_two(0) }}')).toEqual({
      file: 'smelter/dbt/cross_database/get_powers_of_two.sql',
      line: 7,
      message: 'get_powers_of_two(): the upper bound must be positive, got 0',
    });
    expect(renderError('{{ default__generate_series(-1) }}').message).toBe('generate_series(): the upper bound must be positive, got -1');
  });
});

describe('the dispatchers', () => {
  // Loaded as the engine loads them for a project: the package `dbt`, under a root project.
  const builtins = DBT_BUILTIN_MACRO_FILES.map((f) => ({ ...f, package: INTERNAL_PACKAGE }));
  const dispatching = new TemplateEngine(builtins, { rootPackage: 'shop' });
  const renderDispatched = (template: string) => dispatching.render('models/m.sql', template, scope);

  // A call of every macro, with every argument given.
  const calls: Readonly<Record<string, string>> = {
    type_string: '()',
    type_timestamp: '()',
    type_float: '()',
    type_numeric: '()',
    type_bigint: '()',
    type_int: '()',
    type_boolean: '()',
    cast: "('c', 'date')",
    safe_cast: "('c', 'date')",
    cast_bool_to_text: "('b')",
    except: '()',
    intersect: '()',
    array_append: "('a', 5)",
    array_concat: "('a', 'b')",
    array_construct: "([], 'varchar')",
    concat: "(['a', 'b'])",
    hash: "('c')",
    length: "('c')",
    position: `("'-'", 'c')`,
    replace: `('c', "'-'", "'_'")`,
    right: "('c', 3)",
    split_part: `('c', "'|'", -1)`,
    escape_single_quotes: `("it's")`,
    string_literal: `("it's")`,
    any_value: "('c')",
    bool_or: "('c')",
    listagg: `('x', "'|'", 'order by y', 2)`,
    dateadd: "('month', -2, 'd')",
    datediff: "('a', 'b', 'week')",
    date_trunc: "('quarter', 'd')",
    last_day: "('d', 'quarter')",
    date: '(2024, 2, 29)',
    current_timestamp: '()',
    current_timestamp_backcompat: '()',
    current_timestamp_in_utc_backcompat: '()',
    get_powers_of_two: '(1000)',
    generate_series: '(3)',
  };

  it('covers every macro', () => {
    expect(Object.keys(calls).sort()).toEqual(CROSS_DATABASE_MACROS.map((m) => m.name).sort());
  });

  it.each(Object.entries(calls))('%s dispatches through dbt, forwarding its arguments; a project duckdb__ macro replaces it', (name, args) => {
    const expected = renderDispatched(`{{ dbt.default__${name}${args} }}`);
    expect(renderDispatched(`{{ dbt.${name}${args} }}`)).toBe(expected);
    expect(renderDispatched(`{{ ${name}${args} }}`)).toBe(expected);
    const override = { path: 'macros/override.sql', text: `{% macro duckdb__${name}(a=none, b=none, c=none, d=none) %}project's{% endmacro %}` };
    const overridden = new TemplateEngine([...builtins, override], { rootPackage: 'shop' });
    expect(overridden.render('models/m.sql', `{{ dbt.${name}${args} }}`, scope)).toBe("project's");
  });

  it('forwards keyword arguments and fills in the defaults', () => {
    expect(renderDispatched(`{{ dbt.split_part(part_number=2, string_text="'a.b'", delimiter_text="'.'") }}`)).toBe("split_part('a.b', '.', 2)");
    expect(renderDispatched(`{{ dbt.dateadd(from_date_or_timestamp='d', datepart='day', interval=1) }}`)).toBe('(d + interval (1) day)');
    expect(renderDispatched(`{{ dbt.listagg('x') }}`)).toBe("string_agg(x, ',')");
    expect(renderDispatched('{{ dbt.array_construct() }}')).toBe('cast([] as integer[])');
  });
});

describe('the macro files', () => {
  it('compile when loaded eagerly, and render alike deferred (compiled on first call) and eager', () => {
    const eager = new TemplateEngine(DBT_BUILTIN_MACRO_FILES.map((f) => ({ ...f, deferred: false })));
    expect([...eager.macroNames].sort()).toEqual([...engine.macroNames].sort());
    const template = "{{ dateadd('day', 1, 'd') }} | {{ safe_cast('x', type_string()) }} | {{ default__generate_schema_name(none, none) }} | {{ concat(['a', 'b']) }}";
    const fresh = new TemplateEngine(DBT_BUILTIN_MACRO_FILES);
    const withTarget: RenderScope = { ...scope, values: { ...scope.values, target: { schema: 'main' } } };
    expect(fresh.render('models/m.sql', template, withTarget)).toBe(eager.render('models/m.sql', template, withTarget));
    expect(fresh.render('models/m.sql', template, withTarget)).toContain('main');
  });

  it('are one file per macro under smelter/dbt/cross_database/, with its helpers, and the naming macros', () => {
    expect(DBT_BUILTIN_MACRO_FILES.map((f) => f.path)).toEqual([
      'smelter/dbt/cross_database/smelter_helpers.sql',
      'smelter/dbt/naming.sql',
      ...CROSS_DATABASE_MACROS.map((m) => `smelter/dbt/cross_database/${m.name}.sql`),
    ]);
  });

  it('define exactly the dispatcher and default__ of each macro, plus the helpers and the naming macros', () => {
    expect([...engine.macroNames].sort()).toEqual(
      [
        ...CROSS_DATABASE_MACROS.flatMap((m) => [m.name, `default__${m.name}`]),
        'smelter_datepart',
        'smelter_temporal',
        'default__generate_schema_name',
        'generate_schema_name_for_env',
        'default__generate_alias_name',
      ].sort(),
    );
  });
});
