import { readdirSync, rmSync } from 'node:fs';
import type { Row, StatementResult } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import { quoteIdentifier, quoteLiteral } from '../render/relation.js';
import { selectBody, type BuildContext } from './materialization.js';

/**
 * The file size an external model writes when it sets no `file_max_bytes`. DuckDB starts a new
 * file once the current one passes the bound, at the end of a row group (122,880 rows), so a file
 * can exceed it by a row group (by a few when several threads write row groups at once).
 */
export const DEFAULT_FILE_MAX_BYTES = 64 * 1024 * 1024;

/** The columns an external model's files are ordered by: `cluster_by`, else the unique key. */
export function clusterColumns(node: ModelNode): readonly string[] {
  return node.config.cluster_by ?? node.config.unique_key ?? [];
}

/** What the Parquet writer runs its statements on: the model's connection, inside its transaction. */
export interface ParquetWriterDb {
  run(sql: string): Promise<StatementResult>;
  query(sql: string): Promise<Row[]>;
}

/**
 * Write `select` as ZSTD Parquet files into the folder `localDir` and return the rows written:
 * files of at most `file_max_bytes`, rows ordered by the model's cluster columns (so each file
 * holds a narrow range of keys, and a merge rewrites only the files holding affected keys), or the
 * Hive layout of its `partition_by` (DuckDB cannot bound file sizes within partitions). The one
 * Parquet writer of every external materialization.
 */
export async function copyToParquet(
  db: ParquetWriterDb,
  node: ModelNode,
  localDir: string,
  select: string,
): Promise<number> {
  const partitions = node.config.partition_by ?? [];
  const options = ['FORMAT parquet', 'COMPRESSION zstd'];
  if (partitions.length > 0) options.push(`PARTITION_BY (${partitions.map(quoteIdentifier).join(', ')})`);
  else options.push(`FILE_SIZE_BYTES ${node.config.file_max_bytes ?? DEFAULT_FILE_MAX_BYTES}`);
  const order = clusterColumns(node);
  const rows = order.length === 0 ? selectBody(select) : `SELECT * FROM (\n${selectBody(select)}) ORDER BY ${order.map(quoteIdentifier).join(', ')}\n`;
  const written = (await db.run(`COPY (\n${rows}) TO ${quoteLiteral(localDir)} (${options.join(', ')})`)).rowsAffected;
  if (written > 0 && partitions.length === 0) await removeEmptyFiles(db, localDir);
  return written;
}

/**
 * DuckDB starts a new file when one passes the size bound, and leaves it empty when no rows follow:
 * a file of no rows would only be one more to list, download and read.
 */
async function removeEmptyFiles(db: ParquetWriterDb, localDir: string): Promise<void> {
  const files = readdirSync(localDir).filter((f) => f.endsWith('.parquet'));
  if (files.length < 2) return;
  const empty = await db.query(`SELECT file_name FROM parquet_file_metadata(${quoteLiteral(`${localDir}/*.parquet`)}) WHERE num_rows = 0`);
  for (const row of empty) rmSync(String(row.file_name), { force: true });
}

/** `copyToParquet` into this run's staging folder for the model. */
export async function writeStagedFiles(ctx: BuildContext, select: string): Promise<number> {
  const staging = ctx.staging;
  if (!staging) throw new Error(`external model ${ctx.node.name} has no staging folder`);
  return copyToParquet(ctx, ctx.node, staging.localDir, select);
}

/** Parquet files read as one relation, by name (and Hive partitions when the model has them). */
export function readParquetFiles(node: ModelNode, paths: readonly string[], extra = ''): string {
  const hive = (node.config.partition_by?.length ?? 0) > 0 ? ', hive_partitioning = true' : '';
  const list = paths.length === 1 && paths[0].includes('*') ? quoteLiteral(paths[0]) : `[${paths.map(quoteLiteral).join(', ')}]`;
  return `read_parquet(${list}, union_by_name = true${hive}${extra})`;
}

/** The staged files, readable as one relation (for the checks and the watermark). */
export function stagedRows(ctx: BuildContext): string {
  return readParquetFiles(ctx.node, [`${ctx.staging!.localDir}/**/*.parquet`]);
}
