import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { databaseMessage } from './execute/node-results.js';
import { openProject, openTargetDatabase, selectFrom, type InvocationOptions } from './invocation.js';
import type { FreshnessAge, SourceFreshness, SourceNode } from './manifest/types.js';
import { renderSource } from './render/render-model.js';

export type FreshnessStatus = 'pass' | 'warn' | 'error' | 'runtime error';

/** One source table's check, shaped as an entry of dbt's target/sources.json. */
export interface FreshnessResult {
  readonly unique_id: string;
  /** `source.table`. */
  readonly name: string;
  readonly status: FreshnessStatus;
  /** UTC, ISO; absent when the query failed. */
  readonly max_loaded_at?: string | null;
  readonly snapshotted_at?: string;
  readonly max_loaded_at_time_ago_in_s?: number;
  readonly criteria: SourceFreshness;
  readonly execution_time: number;
  /** Why a runtime error, or an empty table. */
  readonly message?: string;
}

export interface FreshnessOutcome {
  readonly results: readonly FreshnessResult[];
  /** target/sources.json, relative to the project. */
  readonly path: string;
}

const PERIOD_SECONDS: Readonly<Record<FreshnessAge['period'], number>> = { minute: 60, hour: 3600, day: 86400 };

/**
 * `smelter source freshness` (dbt's): for each selected source table with `freshness` criteria,
 * the newest `loaded_at_field` (under its `filter`) against the time now: `error` past error_after,
 * `warn` past warn_after, else `pass`; a table with no rows is an error, and one whose query fails
 * (no loaded_at_field, a missing table) a runtime error. Reads only: in-database sources from the
 * target's database file when it exists, file sources (external_location) directly. Writes
 * target/sources.json.
 */
export async function sourceFreshness(options: InvocationOptions): Promise<FreshnessOutcome> {
  const p = openProject(options);
  const { nodes } = selectFrom(p, options, ['source']);
  const checked = nodes.filter((n): n is SourceNode => n.resource_type === 'source' && n.freshness !== undefined);
  const { config } = p.project;
  const databasePath = config.target.databasePath === ':memory:' || isAbsolute(config.target.databasePath) ? config.target.databasePath : join(config.dir, config.target.databasePath);
  // A database no run has built holds no in-database source: file sources are read without creating one.
  const engine = await openTargetDatabase({ ...config.target, databasePath: databasePath !== ':memory:' && existsSync(databasePath) ? databasePath : ':memory:' });
  const connection = await engine.connect();
  const started = performance.now();
  const results: FreshnessResult[] = [];
  try {
    for (const node of checked) {
      const t0 = performance.now();
      const name = `${node.source_name}.${node.name}`;
      const criteria = node.freshness!;
      const done = (rest: Omit<FreshnessResult, 'unique_id' | 'name' | 'criteria' | 'execution_time'>) =>
        results.push({ unique_id: node.unique_id, name, criteria, execution_time: (performance.now() - t0) / 1000, ...rest });
      if (!node.loaded_at_field) {
        done({ status: 'runtime error', message: `${name} has freshness criteria but no loaded_at_field: nothing says when its rows were loaded` });
        continue;
      }
      try {
        const [row] = await connection.query(
          `SELECT CAST(max(${node.loaded_at_field}) AS TIMESTAMP)::VARCHAR AS max_loaded_at, CAST(now() AS TIMESTAMP)::VARCHAR AS snapshotted_at FROM ${renderSource(node, config.dir)}${criteria.filter ? ` WHERE ${criteria.filter}` : ''}`,
        );
        const snapshotted = utc(String(row.snapshotted_at));
        if (row.max_loaded_at === null) {
          done({ status: 'error', max_loaded_at: null, snapshotted_at: snapshotted.toISOString(), message: `${name} has no rows${criteria.filter ? ' under its filter' : ''}` });
          continue;
        }
        const max = utc(String(row.max_loaded_at));
        const age = (snapshotted.getTime() - max.getTime()) / 1000;
        const past = (bound?: FreshnessAge) => bound !== undefined && age > bound.count * PERIOD_SECONDS[bound.period];
        const status = past(criteria.error_after) ? 'error' : past(criteria.warn_after) ? 'warn' : 'pass';
        done({ status, max_loaded_at: max.toISOString(), snapshotted_at: snapshotted.toISOString(), max_loaded_at_time_ago_in_s: age });
      } catch (error) {
        done({ status: 'runtime error', message: databaseMessage(error) });
      }
    }
  } finally {
    connection.close();
    engine.close();
  }
  const targetDir = join(config.dir, config.targetPath);
  mkdirSync(targetDir, { recursive: true });
  const artifact = {
    metadata: { dbt_schema_version: 'https://schemas.getdbt.com/dbt/sources/v3.json', generated_at: new Date().toISOString(), invocation_id: randomUUID() },
    results: results.map((r) => ({ ...r, adapter_response: {}, timing: [], thread_id: 'main' })),
    elapsed_time: (performance.now() - started) / 1000,
  };
  writeFileSync(join(targetDir, 'sources.json'), `${JSON.stringify(artifact, null, 2)}\n`);
  return { results, path: `${config.targetPath}/sources.json` };
}

/** DuckDB's `YYYY-MM-DD HH:MM:SS[.ffffff]` of a UTC timestamp. */
function utc(text: string): Date {
  return new Date(`${text.replace(' ', 'T')}Z`);
}
