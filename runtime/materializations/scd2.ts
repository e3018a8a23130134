import { ExecutionError } from '../errors.js';
import type { ModelNode } from '../manifest/types.js';
import { quoteIdentifier as q, quoteLiteral } from '../render/relation.js';
import { selectBody, type BuildContext, type BuildOutcome, type ProgramStrategy } from './materialization.js';
import { compareColumns, newWatermark, refuseTypeChanges } from './increment-checks.js';
import { writeStagedFiles } from './parquet-files.js';

/**
 * `materialized: scd2` (SPEC §4): a Type 2 dimension. Each run merges the rows of the model's
 * SELECT into the history as points in time per natural key — the committed versions, the new
 * rows, and (hard_deletes) the keys that vanished — and recomputes the intervals of the keys it
 * touched. Versions keep their surrogate key for life; new versions get keys after the largest one.
 * Only changed and new versions are written (a database table) or the file set is rewritten (an
 * external model; dimensions are small). Runs inside the model's transaction; the executor commits
 * the state with it.
 *
 * Temporary tables, per model and connection:
 *   src  the SELECT's rows, in source order (its rowid)
 *   rep  the keys src holds more than once (usually none: then src needs no collapsing)
 *   inc  src collapsed to one row per key and effective time unit (the last of the unit); only
 *        materialized when rep is not empty, else a projection of src
 *   chg  the rows of inc that change something: not equal to the committed version of their key
 *        at their time. Only their keys are touched: recomputing the versions of a key whose rows
 *        change nothing gives back its committed versions, which would not be written anyway
 *   hist the committed versions of the keys this run touches
 *   gone (hard_deletes) current versions whose key the SELECT no longer returns
 *   pts  every point in time: versions, new rows, deletions, gaps after invalidated versions
 *   fin  the recomputed versions of the touched keys
 */
export const scd2Materialization: ProgramStrategy = {
  kind: 'program',
  async build(ctx) {
    for (const hook of ctx.preHooks) await ctx.run(hook);
    const tables = tempTables(ctx.node);
    const outcome = await buildScd2(ctx, tables);
    for (const hook of await ctx.renderPostHooks()) await ctx.run(hook);
    // Dropped on success only. A failure rolls the model's transaction back, which takes the
    // temporary tables created in it along; a DROP then would run in the aborted transaction and
    // its refusal would hide the failure that caused it.
    for (const t of Object.values(tables)) await ctx.run(`DROP TABLE IF EXISTS ${t}`);
    return outcome;
  },
};

/** Columns scd2 adds to the SELECT's. */
export const SCD2_COLUMNS = { validFrom: 'valid_from', validTo: 'valid_to', isCurrent: 'is_current', isDeleted: 'is_deleted' } as const;
export const DEFAULT_SURROGATE_KEY = 'scd_key';

/**
 * How a history is laid out: smelter's (an integer surrogate key, `valid_to` of the current
 * version far in the future, `is_current`), or a dbt snapshot's (`dbt_scd_id` hashed from the key
 * and the version's start, `dbt_updated_at`, `dbt_valid_to` NULL while current; the names
 * `snapshot_meta_column_names` may change).
 */
interface Layout {
  readonly sk: string;
  readonly hashedKey: boolean;
  readonly validFrom: string;
  readonly validTo: string;
  readonly isCurrent?: string;
  readonly isDeleted: string;
  readonly updatedAt?: string;
  /** dbt_valid_to_current: what the current version's end is instead of NULL (a SQL expression). */
  readonly currentValidTo?: string;
}

function layoutOf(node: ModelNode): Layout {
  if (!node.snapshot) {
    return { sk: node.config.surrogate_key ?? DEFAULT_SURROGATE_KEY, hashedKey: false, ...SCD2_COLUMNS };
  }
  const names = (node.config.snapshot_meta_column_names ?? {}) as Readonly<Record<string, string>>;
  return {
    sk: names.dbt_scd_id ?? 'dbt_scd_id',
    hashedKey: true,
    validFrom: names.dbt_valid_from ?? 'dbt_valid_from',
    validTo: names.dbt_valid_to ?? 'dbt_valid_to',
    isDeleted: names.dbt_is_deleted ?? 'dbt_is_deleted',
    updatedAt: names.dbt_updated_at ?? 'dbt_updated_at',
    currentValidTo: node.config.dbt_valid_to_current ?? undefined,
  };
}

type Tables = ReturnType<typeof tempTables>;

function tempTables(node: ModelNode) {
  const name = (part: string) => q(`__smelter_scd2_${part}__${node.relation.identifier}`);
  return { src: name('src'), rep: name('rep'), inc: name('inc'), chg: name('chg'), hist: name('hist'), gone: name('gone'), pts: name('pts'), fin: name('fin') };
}

/** What the config says, resolved against the SELECT's columns. */
interface Plan {
  readonly keys: readonly string[];
  readonly columns: readonly string[];
  readonly tracked: readonly string[];
  /** SQL for a row's effective time, before granularity. */
  readonly effective: string;
  /** The column that gives it, when one does (not the run's start). */
  readonly effectiveColumn: string | undefined;
  readonly day: boolean;
  readonly sk: string;
  readonly deletes: 'ignore' | 'invalidate' | 'new_record';
  readonly layout: Layout;
}

async function buildScd2(ctx: BuildContext, t: Tables): Promise<BuildOutcome> {
  // Source order, the collapsing's last tie-break, is src's rowid (DuckDB keeps a CREATE TABLE AS
  // in the SELECT's order): a row_number() OVER () column cost as much again as the copy itself.
  // Rows still tied after the effective time are identical anyway (checkSource refuses others).
  const srcRows = (await ctx.run(`CREATE OR REPLACE TEMP TABLE ${t.src} AS\nSELECT * FROM (\n${selectBody(ctx.sql)}) AS model_rows`)).rowsAffected;
  const columns = (await ctx.query(`DESCRIBE ${t.src}`)).map((r) => String(r.column_name));
  const plan = planFor(ctx, columns);
  const repeated = await checkSource(ctx, plan, t);

  const existing = ctx.incremental ? await existingColumns(ctx) : undefined;
  if (existing) checkColumnsUnchanged(ctx, plan, existing);
  // A column's type is kept too: new rows of another type would change the type of the whole history.
  // (No rows change nothing: a source with no new files reads as its declared types.)
  if (existing && srcRows > 0) {
    const always = { why: 'an scd2 model keeps its history as it is', hint: 'rebuild with --full-refresh --force (history the source no longer holds is lost)' };
    refuseTypeChanges(ctx, await compareColumns(ctx, t.src), { always });
  }
  const unit = (x: string) => (plan.day ? `CAST(${x} AS DATE)` : `CAST(${x} AS TIMESTAMP)`);
  const keyList = plan.keys.map(q).join(', ');
  // With every key once, no two rows share a key and time unit: collapsing would keep every row,
  // and copying a million-row source into inc costs more than the rest of a day's run.
  let inc = `(SELECT *, ${unit(plan.effective)} AS __smelter_t FROM ${t.src})`;
  if (repeated) {
    await ctx.run(
      `CREATE OR REPLACE TEMP TABLE ${t.inc} AS\nSELECT * EXCLUDE (__smelter_rn) FROM (\n` +
        `  SELECT *, ${unit(plan.effective)} AS __smelter_t, row_number() OVER (PARTITION BY ${keyList}, ${unit(plan.effective)} ORDER BY ${plan.effective} DESC, rowid DESC) AS __smelter_rn\n` +
        `  FROM ${t.src}\n) WHERE __smelter_rn = 1`,
    );
    inc = t.inc;
  }
  const maxKey = existing && !plan.layout.hashedKey ? Number((await ctx.query(`SELECT coalesce(max(${q(plan.sk)}), 0) AS n FROM ${ctx.relation}`))[0].n) : 0;
  await buildPoints(ctx, plan, t, inc, existing !== undefined);
  await ctx.run(`CREATE OR REPLACE TEMP TABLE ${t.fin} AS\n${finalVersions(plan, t, maxKey)}`);
  ctx.crashPoint('mid-write');

  const out = outputColumns(plan).map(q).join(', ');
  const watermark = await newWatermark(ctx, t.src);
  if (!existing) {
    // First build (or a forced rebuild): the whole history from the SELECT.
    if (ctx.staging) {
      const rows = await writeStagedFiles(ctx, `SELECT ${out} FROM ${t.fin} ORDER BY ${q(plan.sk)}`);
      return { rows, rowsTotal: rows, watermark, fileSet: 'replace' };
    }
    if (ctx.existing === 'view') await ctx.run(`DROP VIEW ${ctx.relation}`);
    const rows = (await ctx.run(`CREATE OR REPLACE TABLE ${ctx.relation} AS\nSELECT ${out} FROM ${t.fin} ORDER BY ${q(plan.sk)}`)).rowsAffected;
    return { rows, rowsTotal: rows, watermark };
  }

  // Only versions that are new or differ from the committed ones are written.
  const same = outputColumns(plan)
    .map((c) => `h.${q(c)} IS NOT DISTINCT FROM f.${q(c)}`)
    .join(' AND ');
  await ctx.run(`DELETE FROM ${t.fin} AS f WHERE EXISTS (SELECT 1 FROM ${t.hist} AS h WHERE ${same})`);
  const rows = Number((await ctx.query(`SELECT count(*) AS n FROM ${t.fin}`))[0].n);
  const before = ctx.state?.rows_total ?? Number((await ctx.query(`SELECT count(*) AS n FROM ${ctx.relation}`))[0].n);
  // Nothing to write: the committed files stay ('add' of none). A 'replace' by no files would empty the
  // model when the run still commits (incremental_sources: new records a file whose rows change nothing).
  if (rows === 0) return { rows: 0, rowsTotal: before, watermark, fileSet: 'add' };
  const newVersion = plan.layout.hashedKey ? `${q(plan.sk)} NOT IN (SELECT ${q(plan.sk)} FROM ${t.hist})` : `${q(plan.sk)} > ${maxKey}`;
  const added = Number((await ctx.query(`SELECT count(*) AS n FROM ${t.fin} WHERE ${newVersion}`))[0].n);
  if (ctx.staging) {
    await writeStagedFiles(
      ctx,
      `SELECT ${out} FROM ${ctx.relation} WHERE ${q(plan.sk)} NOT IN (SELECT ${q(plan.sk)} FROM ${t.fin})\nUNION ALL\nSELECT ${out} FROM ${t.fin}\nORDER BY ${q(plan.sk)}`,
    );
    return { rows, rowsTotal: before + added, watermark, fileSet: 'replace' };
  }
  await ctx.run(`DELETE FROM ${ctx.relation} WHERE ${q(plan.sk)} IN (SELECT ${q(plan.sk)} FROM ${t.fin})`);
  await ctx.run(`INSERT INTO ${ctx.relation} (${out}) SELECT ${out} FROM ${t.fin} ORDER BY ${q(plan.sk)}`);
  return { rows, rowsTotal: before + added, watermark };
}

function planFor(ctx: BuildContext, columns: readonly string[]): Plan {
  const { node } = ctx;
  const cfg = node.config;
  const fail = (message: string) => new ExecutionError(`${node.name}: ${message}`, { node: node.unique_id, location: { file: node.original_file_path } });
  const layout = layoutOf(node);
  const sk = layout.sk;
  const deletes = cfg.hard_deletes ?? 'ignore';
  const reserved = addedColumns(layout, deletes);
  const clash = columns.filter((c) => reserved.includes(c));
  if (clash.length > 0) throw fail(`the SELECT returns ${clash.join(', ')}, which scd2 adds itself; rename ${clash.length === 1 ? 'it' : 'them'}`);
  const need = (what: string, names: readonly string[]) => {
    const missing = names.filter((c) => !columns.includes(c));
    if (missing.length > 0) throw fail(`${what} ${missing.join(', ')} ${missing.length === 1 ? 'is not a column' : 'are not columns'} of the SELECT (it returns ${columns.join(', ')})`);
  };
  const keys = cfg.unique_key ?? [];
  need('unique_key', keys);
  const strategy = cfg.strategy ?? (cfg.updated_at ? 'timestamp' : 'check');
  if (strategy === 'timestamp') need('updated_at', [cfg.updated_at!]);
  if (cfg.valid_from_column) need('valid_from_column', [cfg.valid_from_column]);
  const bookkeeping = new Set([...keys, cfg.valid_from_column, cfg.updated_at].filter((c): c is string => c !== undefined));
  const tracked =
    strategy === 'timestamp' ? [cfg.updated_at!] : cfg.check_cols === undefined || cfg.check_cols === 'all' ? columns.filter((c) => !bookkeeping.has(c)) : [...cfg.check_cols];
  if (strategy === 'check') need('check_cols', tracked);
  const effectiveColumn = cfg.valid_from_column ?? (strategy === 'timestamp' ? cfg.updated_at : undefined);
  const effective = effectiveColumn ? q(effectiveColumn) : runStart(ctx);
  return { keys, columns, tracked, effective, effectiveColumn, day: (cfg.granularity ?? 'day') === 'day', sk, deletes, layout };
}

/** The run's start as a TIMESTAMP literal (UTC). */
function runStart(ctx: BuildContext): string {
  return `TIMESTAMP ${quoteLiteral(ctx.runStartedAt.toISOString().replace('T', ' ').replace('Z', ''))}`;
}

/**
 * NULL keys or effective times, and two different rows for one key at one effective time, are
 * errors. Returns whether any key has more than one row (rep is not empty).
 */
async function checkSource(ctx: BuildContext, plan: Plan, t: Tables): Promise<boolean> {
  const { node } = ctx;
  const fail = (message: string) =>
    new ExecutionError(`${node.name}: ${message}; nothing was committed`, { node: node.unique_id, location: { file: node.original_file_path } });
  const keyText = plan.keys.length === 1 ? `unique_key ${plan.keys[0]}` : `unique_key (${plan.keys.join(', ')})`;
  const { effectiveColumn } = plan;
  // One scan counts both kinds of NULL.
  const [counts] = await ctx.query(
    `SELECT count(*) FILTER (WHERE ${plan.keys.map((k) => `${q(k)} IS NULL`).join(' OR ')}) AS keys, ` +
      `${effectiveColumn ? `count(*) FILTER (WHERE ${q(effectiveColumn)} IS NULL)` : '0'} AS times FROM ${t.src}`,
  );
  const nulls = Number(counts.keys);
  if (nulls > 0) throw fail(`${nulls} ${nulls === 1 ? 'row has' : 'rows have'} a NULL in ${keyText}`);
  const n = Number(counts.times);
  if (n > 0) throw fail(`${n} ${n === 1 ? 'row has' : 'rows have'} no ${effectiveColumn}, so when ${n === 1 ? 'it takes' : 'they take'} effect is unknown`);
  // Two rows at one key and time are two rows of one key: grouping by the key alone (cheaper than
  // by key and time, and than counting distinct rows) finds every key the checks below need to see.
  const keys = plan.keys.map(q).join(', ');
  const repeated = (await ctx.run(`CREATE OR REPLACE TEMP TABLE ${t.rep} AS\nSELECT ${keys} FROM ${t.src} GROUP BY ${keys} HAVING count(*) > 1`)).rowsAffected > 0;
  const values = plan.columns.filter((c) => !plan.keys.includes(c) && c !== effectiveColumn);
  if (values.length === 0 || !repeated) return repeated;
  const match = plan.keys.map((k) => `r.${q(k)} = s.${q(k)}`).join(' AND ');
  const conflicts = await ctx.query(
    `SELECT ${keys}, CAST(${plan.effective} AS VARCHAR) AS __smelter_at, count(*) OVER () AS __smelter_keys FROM ${t.src} AS s\n` +
      `WHERE EXISTS (SELECT 1 FROM ${t.rep} AS r WHERE ${match})\n` +
      `GROUP BY ALL HAVING count(DISTINCT struct_pack(${values.map((c) => `${q(c)} := ${q(c)}`).join(', ')})) > 1\n` +
      `ORDER BY ALL LIMIT 1`,
  );
  if (conflicts.length > 0) {
    const [row] = conflicts;
    const which = plan.keys.map((k) => `${k} = ${row[k] === null ? 'NULL' : quoteLiteral(String(row[k]))}`).join(', ');
    const more = Number(row.__smelter_keys) - 1;
    throw fail(
      `${which} has different rows taking effect at the same time (${String(row.__smelter_at)})${more > 0 ? `, and ${more} more ${more === 1 ? 'key' : 'keys'} too` : ''}: which one is right is unknown`,
    );
  }
  return repeated;
}

async function existingColumns(ctx: BuildContext): Promise<string[]> {
  return (await ctx.query(`DESCRIBE ${ctx.relation}`)).map((r) => String(r.column_name));
}

/** The columns scd2 adds, in the layout's order. */
function addedColumns(layout: Layout, deletes: Plan['deletes']): string[] {
  const deleted = deletes === 'new_record' ? [layout.isDeleted] : [];
  if (layout.hashedKey) return [layout.sk, ...(layout.updatedAt ? [layout.updatedAt] : []), layout.validFrom, layout.validTo, ...deleted];
  return [layout.sk, layout.validFrom, layout.validTo, ...(layout.isCurrent ? [layout.isCurrent] : []), ...deleted];
}

function outputColumns(plan: Plan): string[] {
  // smelter's key leads; a dbt snapshot's bookkeeping follows the SELECT's columns, as dbt writes it.
  const added = addedColumns(plan.layout, plan.deletes);
  return plan.layout.hashedKey ? [...plan.columns, ...added] : [added[0], ...plan.columns, ...added.slice(1)];
}

/** Whether a committed version (alias `h`) is the current one. */
function isCurrentSql(layout: Layout, alias: string): string {
  if (layout.isCurrent) return `${alias}.${q(layout.isCurrent)}`;
  const end = `${alias}.${q(layout.validTo)}`;
  return layout.currentValidTo === undefined ? `${end} IS NULL` : `${end} IS NOT DISTINCT FROM ${layout.currentValidTo}`;
}

/** scd2 keeps history as it was written: a SELECT whose columns changed is refused, not reconciled. */
function checkColumnsUnchanged(ctx: BuildContext, plan: Plan, existing: readonly string[]): void {
  const expected = outputColumns(plan);
  const added = expected.filter((c) => !existing.includes(c));
  const missing = existing.filter((c) => !expected.includes(c));
  if (added.length + missing.length === 0) return;
  const change = [added.length ? `new ${added.join(', ')}` : '', missing.length ? `missing ${missing.join(', ')}` : ''].filter(Boolean).join('; ');
  throw new ExecutionError(
    `${ctx.node.name}: the columns changed (${change}); an scd2 model keeps its history as it is, so nothing was written`,
    {
      node: ctx.node.unique_id,
      location: { file: ctx.node.original_file_path },
      hint: 'add the column to the table yourself (ALTER TABLE ... ADD COLUMN), or rebuild with --full-refresh --force (history the source no longer holds is lost)',
    },
  );
}

/**
 * pts: every point in time of the touched keys. Kinds, by precedence at one key and time:
 * 3 a new row, 2 a deletion recorded as a version (new_record), 1 a committed version, 0 a gap
 * (after an invalidated version: it ends the version before it and is not written).
 */
async function buildPoints(ctx: BuildContext, plan: Plan, t: Tables, inc: string, incremental: boolean): Promise<void> {
  const match = (a: string, b: string) => plan.keys.map((k) => `${a}.${q(k)} = ${b}.${q(k)}`).join(' AND ');
  const cols = plan.columns.map(q).join(', ');
  const keys = plan.keys.map(q).join(', ');
  const noKey = plan.layout.hashedKey ? 'NULL::VARCHAR' : 'NULL::BIGINT';
  const newRows = (from: string) => `SELECT ${noKey} AS ${q(plan.sk)}, ${cols}, __smelter_t, 3 AS __smelter_kind, false AS __smelter_deleted FROM ${from} AS s`;
  if (!incremental) {
    await ctx.run(`CREATE OR REPLACE TEMP TABLE ${t.pts} AS\n${newRows(inc)}`);
    return;
  }
  const deleted = plan.deletes === 'new_record' ? `coalesce(h.${q(plan.layout.isDeleted)}, false)` : 'false';
  const { validFrom, validTo } = plan.layout;
  if (plan.deletes !== 'ignore') {
    await ctx.run(
      `CREATE OR REPLACE TEMP TABLE ${t.gone} AS\nSELECT h.* FROM ${ctx.relation} AS h WHERE ${isCurrentSql(plan.layout, 'h')} AND NOT ${deleted} AND NOT EXISTS (SELECT 1 FROM ${inc} AS s WHERE ${match('s', 'h')})`,
    );
  }
  // A new row equal to the committed version at the same time changes nothing.
  const sameTracked = plan.tracked.map((c) => `h.${q(c)} IS NOT DISTINCT FROM s.${q(c)}`).join(' AND ');
  await ctx.run(
    `CREATE OR REPLACE TEMP TABLE ${t.chg} AS\nSELECT * FROM ${inc} AS s\n` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${ctx.relation} AS h WHERE ${match('h', 's')} AND h.${q(validFrom)} = s.__smelter_t AND ${sameTracked} AND NOT ${deleted})`,
  );
  const touched = [`EXISTS (SELECT 1 FROM ${t.chg} AS s WHERE ${match('s', 'h')})`, ...(plan.deletes !== 'ignore' ? [`EXISTS (SELECT 1 FROM ${t.gone} AS g WHERE ${match('g', 'h')})`] : [])];
  await ctx.run(`CREATE OR REPLACE TEMP TABLE ${t.hist} AS\nSELECT h.* FROM ${ctx.relation} AS h WHERE ${touched.join(' OR ')}`);

  const dayAfter = (x: string) => (plan.day ? `CAST(${x} + INTERVAL 1 DAY AS DATE)` : `${x} + INTERVAL 1 MICROSECOND`);
  const runUnit = plan.day ? `CAST(${runStart(ctx)} AS DATE)` : runStart(ctx);
  const gapAfter = (x: string) => (plan.day ? `CAST(${x} + INTERVAL 1 DAY AS DATE)` : x);
  const parts = [
    `SELECT ${q(plan.sk)}, ${cols}, ${q(validFrom)} AS __smelter_t, 1 AS __smelter_kind, ${deleted} AS __smelter_deleted FROM ${t.hist} AS h`,
    // The last version of a key that is not current was invalidated: a gap follows it.
    `SELECT ${keys}, ${gapAfter(q(validTo))} AS __smelter_t, 0 AS __smelter_kind, false AS __smelter_deleted FROM ${t.hist} AS h\n` +
      `QUALIFY row_number() OVER (PARTITION BY ${keys} ORDER BY ${q(validFrom)} DESC) = 1 AND NOT ${isCurrentSql(plan.layout, 'h')}`,
    newRows(t.chg),
  ];
  if (plan.deletes !== 'ignore') {
    // A vanished key ends on the run's day (never before its current version's first day).
    const at = `greatest(${runUnit}, ${dayAfter(`h.${q(validFrom)}`)})`;
    parts.push(
      plan.deletes === 'new_record'
        ? `SELECT ${noKey} AS ${q(plan.sk)}, ${plan.columns.map((c) => `h.${q(c)}`).join(', ')}, ${at} AS __smelter_t, 2 AS __smelter_kind, true AS __smelter_deleted FROM ${t.gone} AS h`
        : `SELECT ${plan.keys.map((k) => `h.${q(k)}`).join(', ')}, ${at} AS __smelter_t, 0 AS __smelter_kind, false AS __smelter_deleted FROM ${t.gone} AS h`,
    );
  }
  await ctx.run(`CREATE OR REPLACE TEMP TABLE ${t.pts} AS\n${parts.join('\nUNION ALL BY NAME\n')}`);
}

/**
 * fin: the touched keys' versions. At one key and time the point of highest kind wins (a new row
 * there keeps the committed version's key: an update in place); a new row or deletion equal to the
 * point before it is dropped; each version ends where the next point begins (the day before, by
 * day); new versions are numbered after `maxKey` in key and time order.
 */
function finalVersions(plan: Plan, t: Tables, maxKey: number): string {
  const keys = plan.keys.map(q).join(', ');
  const sk = q(plan.sk);
  const cols = plan.columns.map(q).join(', ');
  const byKey = `PARTITION BY ${keys} ORDER BY __smelter_t`;
  const equalToPrevious = [
    ...plan.tracked.map((c) => `${q(c)} IS NOT DISTINCT FROM lag(${q(c)}) OVER (${byKey})`),
    `__smelter_deleted IS NOT DISTINCT FROM lag(__smelter_deleted) OVER (${byKey})`,
    `lag(__smelter_kind) OVER (${byKey}) > 0`,
  ].join(' AND ');
  const { layout } = plan;
  const high = layout.hashedKey ? (layout.currentValidTo ?? 'NULL') : plan.day ? `DATE '9999-12-31'` : `TIMESTAMP '9999-12-31 00:00:00'`;
  const dayBefore = (x: string) => (plan.day ? `CAST(${x} - INTERVAL 1 DAY AS DATE)` : x);
  // dbt's dbt_scd_id: a hash of the natural key and the version's start, the same on every run.
  const key = layout.hashedKey
    ? `md5(concat_ws('|', ${[...plan.keys.map((k) => `CAST(${q(k)} AS VARCHAR)`), 'CAST(__smelter_t AS VARCHAR)'].join(', ')}))`
    : `coalesce(${sk}, ${maxKey} + row_number() OVER (PARTITION BY ${sk} IS NULL ORDER BY ${keys}, __smelter_t))`;
  const current = layout.isCurrent ? `,\n  __smelter_next IS NULL AS ${q(layout.isCurrent)}` : '';
  const updated = layout.updatedAt ? `,\n  __smelter_t AS ${q(layout.updatedAt)}` : '';
  return (
    `WITH resolved AS (\n` +
    `  SELECT * EXCLUDE (${sk}), coalesce(${sk}, max(CASE WHEN __smelter_kind = 1 THEN ${sk} END) OVER (PARTITION BY ${keys}, __smelter_t)) AS ${sk}\n` +
    `  FROM ${t.pts}\n` +
    `  QUALIFY row_number() OVER (PARTITION BY ${keys}, __smelter_t ORDER BY __smelter_kind DESC) = 1\n` +
    `), flagged AS (\n` +
    `  SELECT *, __smelter_kind >= 2 AND coalesce(${equalToPrevious}, false) AS __smelter_redundant FROM resolved\n` +
    `), dated AS (\n` +
    `  SELECT *, lead(__smelter_t) OVER (${byKey}) AS __smelter_next FROM flagged WHERE NOT __smelter_redundant\n` +
    `)\n` +
    `SELECT\n` +
    `  ${key} AS ${sk},\n` +
    `  ${cols}${updated},\n` +
    `  __smelter_t AS ${q(layout.validFrom)},\n` +
    `  coalesce(${dayBefore('__smelter_next')}, ${high}) AS ${q(layout.validTo)}` +
    current +
    (plan.deletes === 'new_record' ? `,\n  __smelter_deleted AS ${q(layout.isDeleted)}` : '') +
    `\nFROM dated WHERE __smelter_kind > 0`
  );
}
