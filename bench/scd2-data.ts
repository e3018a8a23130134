/**
 * The scd2 benchmark's fixture, shared by bench/scd2-bench.ts and tests/integration/scd2-baseline.test.ts:
 * a customer dimension's project and its daily source snapshots, generated in DuckDB SQL from a
 * seeded integer mixer (the same rows on every machine and DuckDB version, unlike hash()).
 *
 * Each day's source is a snapshot of every key, one row (one version) per key:
 *   day 0  the initial load: every key once, updated_at between 2020-03-01 and early 2025;
 *   day 1  5% of the keys changed: new attributes and an updated_at on 2026-01-02, after the
 *          current version; the other 95% exactly as on day 0;
 *   late   1% of the keys carry a late change, an updated_at before their current version's
 *          valid_from: half are keys changed on day 1, their late row falling strictly between
 *          the day-0 and day-1 versions (the day-0 version is shortened, a version is inserted
 *          between); half are keys with one version, their late row falling 1 to 30 days before
 *          it (a new first version). Every other key is as after day 1.
 * A late row never falls on the day of an existing version, and every change has a new
 * updated_at, so the two days exercise exactly the close / insert / split-history paths.
 */

import { DuckDBInstance } from '@duckdb/node-api';

export const SCD2_MODEL_NAME = 'dim_customer';

/** The dimension: dbt-style timestamp strategy, day granularity (smelter's default), table storage. */
export const SCD2_MODEL = (external: boolean) =>
  `{{ config(materialized='scd2', unique_key='id', strategy='timestamp', updated_at='updated_at'${external ? ', external=true' : ''}) }}\n` +
  `select id, name, segment, region, score, balance, updated_at from {{ source('crm', 'customers') }}\n`;

export const SCD2_SOURCES = "version: 2\nsources:\n  - name: crm\n    external_location: data/customers.parquet\n    tables:\n      - name: customers\n";

/** project.yml: the embedded DuckDB file, two DuckDB threads as the other benches. */
export const SCD2_PROJECT = 'name: scd2bench\ntargets:\n  dev: { database: target/bench.duckdb, storage: target/lake, threads: 1, settings: { threads: 2 } }\n';

/** Where the project reads the day's snapshot, relative to the project folder. */
export const SCD2_SOURCE_FILE = 'data/customers.parquet';

export type Scd2Day = 'day0' | 'day1' | 'late';

/**
 * Macros the day SELECTs use: rnd(i, salt) is an integer mixer (multiply, xor-shift; UBIGINT never
 * overflows for i below 2^32) giving a well-spread number in [0, 2^32) per key and salt.
 */
export const SCD2_MACROS = [
  'CREATE OR REPLACE TEMP MACRO scd2_mix(x) AS xor(x, x >> 16)',
  'CREATE OR REPLACE TEMP MACRO rnd(i, salt) AS scd2_mix((scd2_mix((i::UBIGINT * 2654435761 + salt * 40503) % 4294967296) * 2246822519) % 4294967296)::BIGINT',
];

const SEGMENTS = "['consumer', 'small business', 'enterprise', 'public sector', 'partner']";
const REGIONS = "['north', 'south', 'east', 'west', 'central', 'emea', 'apac', 'latam']";

/** Attribute columns of a version; `v` makes each version of a key differ. */
const attributes = (v: number) =>
  `'customer ' || id AS name, ${SEGMENTS}[(rnd(id, ${10 + v}) % 5) + 1] AS segment, ${REGIONS}[(rnd(id, ${20 + v}) % 8) + 1] AS region, ` +
  `(rnd(id, ${30 + v}) % 1000)::INTEGER AS score, ((rnd(id, ${40 + v}) % 10000000) / 100)::DECIMAL(18, 2) AS balance`;

/** Day 0's updated_at: any second over about five years from 2020-03-01. */
const DAY0_AT = `TIMESTAMP '2020-03-01' + to_seconds((rnd(id, 1) % (5 * 365 * 86400))::BIGINT)`;
const CHANGED_ON_DAY1 = 'rnd(id, 2) % 100 < 5';
/** 0.5% of keys among those changed on day 1 (1 in 10 of 5%), 0.5% among the rest (1 in 190 of 95%). */
const LATE_BETWEEN = `(${CHANGED_ON_DAY1}) AND rnd(id, 4) % 10 = 0`;
const LATE_BEFORE = `NOT (${CHANGED_ON_DAY1}) AND rnd(id, 4) % 190 = 0`;

/** The SELECT of one day's source snapshot over `keys` keys (ids 1..keys); needs SCD2_MACROS. */
export function scd2DaySql(day: Scd2Day, keys: number): string {
  const ids = `FROM range(1, ${keys + 1}) AS t(id)`;
  const day0 = `SELECT id, ${attributes(0)}, ${DAY0_AT} AS updated_at ${ids}`;
  const day1Changed = `SELECT id, ${attributes(1)}, TIMESTAMP '2026-01-02' + to_seconds((rnd(id, 3) % 86400)::BIGINT) AS updated_at ${ids} WHERE ${CHANGED_ON_DAY1}`;
  const day1 = `${day1Changed}\nUNION ALL\nSELECT * FROM (${day0}) WHERE NOT (${CHANGED_ON_DAY1})`;
  if (day === 'day0') return day0;
  if (day === 'day1') return day1;
  // Strictly between the day-0 version's day and 2025-12-31 (day 1 is 2026-01-02): a day in
  // [day0 + 1, 2025-12-31]; or 1 to 30 days before the only version. Any second of that day.
  const day0Date = `CAST(${DAY0_AT} AS DATE)`;
  const between = `${day0Date} + 1 + (rnd(id, 5) % (DATE '2025-12-31' - ${day0Date}))::INTEGER`;
  const before = `${day0Date} - 1 - (rnd(id, 5) % 30)::INTEGER`;
  const lateAt = `CAST(CASE WHEN ${LATE_BETWEEN} THEN ${between} ELSE ${before} END AS TIMESTAMP) + to_seconds((rnd(id, 6) % 86400)::BIGINT)`;
  return (
    `SELECT id, ${attributes(2)}, ${lateAt} AS updated_at ${ids} WHERE (${LATE_BETWEEN}) OR (${LATE_BEFORE})\n` +
    `UNION ALL\nSELECT * FROM (${day1}) WHERE NOT ((${LATE_BETWEEN}) OR (${LATE_BEFORE}))`
  );
}

/** Writes one day's snapshot of `keys` keys to a Parquet file (ZSTD, as a Silver file). */
export async function writeScd2Day(path: string, day: Scd2Day, keys: number): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    for (const sql of SCD2_MACROS) await connection.run(sql);
    await connection.run(`COPY (${scd2DaySql(day, keys)}) TO '${path.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION zstd)`);
    connection.closeSync();
  } finally {
    instance.closeSync();
  }
}

/** Rows of each dimension that the other lacks (EXCEPT ALL both ways, every column: scd_key included). */
export interface Scd2Comparison {
  readonly rows: number;
  readonly otherRows: number;
  readonly onlyHere: number;
  readonly onlyThere: number;
}

/** Compares `relation` in two closed DuckDB files, each opened read-only. */
export async function compareScd2(path: string, otherPath: string, relation = `main.${SCD2_MODEL_NAME}`): Promise<Scd2Comparison> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    const lit = (p: string) => `'${p.replaceAll("'", "''")}'`;
    await connection.run(`ATTACH ${lit(path)} AS here (READ_ONLY)`);
    await connection.run(`ATTACH ${lit(otherPath)} AS there (READ_ONLY)`);
    const a = `here.${relation}`;
    const b = `there.${relation}`;
    const reader = await connection.runAndReadAll(
      `SELECT (SELECT count(*) FROM ${a}) AS rows, (SELECT count(*) FROM ${b}) AS other_rows,\n` +
        `  (SELECT count(*) FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b})) AS only_here,\n` +
        `  (SELECT count(*) FROM (SELECT * FROM ${b} EXCEPT ALL SELECT * FROM ${a})) AS only_there`,
    );
    const [row] = reader.getRowObjectsJson();
    connection.closeSync();
    return { rows: Number(row.rows), otherRows: Number(row.other_rows), onlyHere: Number(row.only_here), onlyThere: Number(row.only_there) };
  } finally {
    instance.closeSync();
  }
}

/**
 * Runs the hand-written statements on a DuckDB file, as smelter's target opens it (TimeZone UTC,
 * the project's two threads). The clock covers the statements only, on an open connection whose
 * database has been read once, as a warm smelter session's has.
 */
export async function runHandwritten(path: string, statements: readonly string[], warmRelation = `main.${SCD2_MODEL_NAME}`): Promise<number> {
  const instance = await DuckDBInstance.create(path, { threads: '2' });
  try {
    const connection = await instance.connect();
    await connection.run("SET TimeZone = 'UTC'");
    await connection.run(`SELECT max(COLUMNS(*)) FROM ${warmRelation}`);
    const start = performance.now();
    for (const sql of statements) await connection.run(sql);
    const seconds = (performance.now() - start) / 1000;
    connection.closeSync();
    return seconds;
  } finally {
    instance.closeSync();
  }
}
