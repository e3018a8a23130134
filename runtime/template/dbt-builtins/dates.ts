import type { CrossDatabaseMacro } from './cross-database-macro.js';
import { DATEPARTS, datepartList } from './helpers.js';

const INTERVAL_PARTS = datepartList(DATEPARTS.filter((p) => p !== 'nanosecond'));
const ALL_PARTS = datepartList(DATEPARTS);
// A period's last day needs a period that holds whole days.
const CALENDAR_PERIODS = datepartList(['year', 'quarter', 'month', 'week']);

/** dbt's date and time macros, for DuckDB. */
export const DATE_MACROS: readonly CrossDatabaseMacro[] = [
  {
    name: 'dateadd',
    params: ['datepart', 'interval', 'from_date_or_timestamp'],
    // DuckDB intervals stop at microseconds: nanoseconds are added to the epoch instead (a TIMESTAMP_NS).
    body: `
{%- set part = smelter_datepart('dateadd', datepart, ${ALL_PARTS}) -%}
{%- set operand = smelter_temporal(from_date_or_timestamp) -%}
{%- if part == 'nanosecond' -%}
make_timestamp_ns(epoch_ns(cast({{ operand }} as timestamp_ns)) + cast({{ interval }} as bigint))
{%- else -%}
({{ operand }} + interval ({{ interval }}) {{ part }})
{%- endif -%}`,
  },
  {
    name: 'datediff',
    params: ['first_date', 'second_date', 'datepart'],
    // Counts the boundaries crossed from first_date to second_date (negative when second_date is
    // earlier), as dbt's Postgres and DuckDB adapters do. DuckDB's date_diff counts boundaries for
    // every part but week, which it counts as whole 7-day spans; weeks here start on Sunday, as
    // in those adapters (Monday 8 Jan to Sunday 14 Jan is 1 week).
    body: `
{%- set part = smelter_datepart('datediff', datepart, ${ALL_PARTS}) -%}
{%- if part == 'week' -%}
(date_diff('day', date_trunc('week', cast({{ first_date }} as timestamp) + interval 1 day), date_trunc('week', cast({{ second_date }} as timestamp) + interval 1 day)) // 7)
{%- elif part == 'nanosecond' -%}
(epoch_ns(cast({{ second_date }} as timestamp_ns)) - epoch_ns(cast({{ first_date }} as timestamp_ns)))
{%- else -%}
date_diff('{{ part }}', cast({{ first_date }} as timestamp), cast({{ second_date }} as timestamp))
{%- endif -%}`,
  },
  {
    name: 'date_trunc',
    params: ['datepart', 'date'],
    // Weeks start on Monday, as in Postgres' date_trunc.
    body: `
{%- set part = smelter_datepart('date_trunc', datepart, ${INTERVAL_PARTS}) -%}
date_trunc('{{ part }}', {{ smelter_temporal(date) }})`,
  },
  {
    name: 'last_day',
    params: ['date', 'datepart'],
    body: `
{%- set part = smelter_datepart('last_day', datepart, ${CALENDAR_PERIODS}) -%}
cast(date_trunc('{{ part }}', {{ smelter_temporal(date) }}) + interval 1 {{ part }} - interval 1 day as date)`,
  },
  {
    name: 'date',
    params: ['year', 'month', 'day'],
    body: 'make_date({{ year }}, {{ month }}, {{ day }})',
  },
  {
    name: 'current_timestamp',
    params: [],
    // The start of the transaction, with its time zone.
    body: 'now()',
  },
  {
    name: 'current_timestamp_backcompat',
    params: [],
    // Without time zone: the wall clock of the session's TimeZone, as dbt's older macros produced.
    body: 'cast(now() as timestamp)',
  },
  {
    name: 'current_timestamp_in_utc_backcompat',
    params: [],
    body: "timezone('UTC', now())",
  },
];
