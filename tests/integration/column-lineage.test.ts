import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openProject, runProject, type ParsedProject } from '../../runtime/invocation.js';
import { openDuckDB } from '../../runtime/engine/duckdb-engine.js';
import type { Engine, EngineConnection } from '../../runtime/engine/engine.js';
import type { RenderEnvironment } from '../../runtime/render/render-model.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { computeColumnLineage, type LineageResult } from '../../runtime/lineage/index.js';

/**
 * Column lineage on real DuckDB parses: tests/fixtures/lineage (one model per SQL shape, seeds
 * built so `*` expands over the catalog's columns) and the Gold project at the repository root.
 */

let engine: Engine;
let connection: EngineConnection;
beforeAll(async () => {
  engine = await openDuckDB(':memory:');
  connection = await engine.connect();
});
afterAll(() => {
  connection.close();
  engine.close();
});

const renvOf = (p: ParsedProject): RenderEnvironment => ({
  manifest: p.manifest,
  project: p.project,
  templates: p.parsed.templates,
  env: {},
  runStartedAt: new Date('2026-01-01T00:00:00Z'),
  invocationId: 'lineage',
});

const col = (node: string, column: string) => ({ node, column });

describe('column lineage of the lineage fixture', () => {
  let result: LineageResult;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelter-lineage-'));
    cpSync(join(import.meta.dirname, '..', 'fixtures', 'lineage'), dir, { recursive: true });
    await runProject('seed', { projectDir: dir, env: {} });
    const catalog = await openDuckDB(join(dir, 'target/dev.duckdb'));
    const reader = await catalog.connect();
    const rows = await reader.query(`select table_schema, table_name, column_name from information_schema.columns order by table_schema, table_name, ordinal_position`);
    reader.close();
    catalog.close();
    const p = openProject({ projectDir: dir, env: {} });
    const columnsOf = (id: string) => {
      const node = p.manifest.nodes[id];
      if (!node || !('relation' in node)) return undefined;
      const found = rows.filter((r) => r.table_schema === node.relation.schema && r.table_name === node.relation.identifier).map((r) => String(r.column_name));
      return found.length > 0 ? found : undefined;
    };
    result = await computeColumnLineage({ manifest: p.manifest, renv: renvOf(p), connection, columnsOf });
  });

  it('gives each model its columns and their upstream columns', () => {
    const trades = 'seed.lineage.trades';
    const members = 'seed.lineage.members';
    const stg = 'model.lineage.stg_trades';
    const counts = 'model.lineage.trade_counts';
    expect(result.problems).toEqual({});
    expect(result.columnLineage).toEqual({
      // The ephemeral model has lineage of its own; its WHERE does not count.
      'model.lineage.stg_trades': {
        trade_id: [col(trades, 'trade_id')],
        member_id: [col(trades, 'member_id')],
        ticker: [col(trades, 'ticker')],
        amount: [col(trades, 'amount')],
      },
      // Through CTEs and `*` to the ephemeral model, one hop; `* exclude` drops party; the ON keys do not count.
      'model.lineage.member_trades': {
        trade_id: [col(stg, 'trade_id')],
        member_name: [col(members, 'name')],
        ticker: [col(stg, 'ticker')],
        amount: [col(stg, 'amount')],
      },
      'model.lineage.all_trades': {
        trade_id: [col('model.lineage.member_trades', 'trade_id')],
        member_name: [col('model.lineage.member_trades', 'member_name')],
        ticker: [col('model.lineage.member_trades', 'ticker')],
        amount: [col('model.lineage.member_trades', 'amount')],
      },
      'model.lineage.labels': { label: [col(members, 'party'), col(trades, 'ticker')] },
      // row_number() reads no value; PARTITION BY and ORDER BY keys and CASE's WHEN do not count.
      'model.lineage.ranked_trades': {
        trade_id: [col(trades, 'trade_id')],
        rank_in_member: [],
        member_total: [col(trades, 'amount')],
        size_or_ticker: [col(trades, 'ticker')],
      },
      'model.lineage.trade_amounts': {
        trade_id: [col(trades, 'trade_id')],
        amount_x2: [col(trades, 'amount')],
        amount_x10: [col(trades, 'amount')],
      },
      'model.lineage.trade_counts': {
        member_id: [col(trades, 'member_id')],
        trades: [],
        volume: [col(trades, 'amount')],
      },
      // `*` over USING shows the key once, from the left; REPLACE keeps the column's place and name.
      'model.lineage.member_volume': {
        member_id: [col(members, 'member_id')],
        name: [col(members, 'name')],
        party: [col(members, 'party')],
        trades: [col(counts, 'trades')],
        volume: [col(counts, 'volume')],
      },
      // A scalar subquery's value counts; `x in (...)` is x's; EXISTS reads no value. DuckDB's name for an unaliased expression.
      'model.lineage.trade_shares': {
        trade_id: [col(trades, 'trade_id')],
        share_of_all: [col(trades, 'amount')],
        by_democrat: [col(trades, 'member_id')],
        any_members: [],
        'CAST(amount AS INTEGER)': [col(trades, 'amount')],
      },
      // Read by name without ref(): still lineage.
      'model.lineage.sneaky': {
        member_id: [col(counts, 'member_id')],
        trade_count: [col(counts, 'trades')],
      },
    });
    expect(result.outputColumns['model.lineage.member_volume']).toEqual(['member_id', 'name', 'party', 'trades', 'volume']);
  });

  it('reports a read of a model relation without ref() as undeclared', () => {
    expect(result.undeclared).toEqual({
      'model.lineage.sneaky': [{ relation: 'main.trade_counts', node: 'model.lineage.trade_counts', suggestion: "{{ ref('trade_counts') }}" }],
    });
  });
});

describe('column lineage of SQL it cannot fully analyse', () => {
  it('gives each such model a problem and its partial lineage, and the others their lineage', async () => {
    const dir = writeTempProject({
      'project.yml': 'name: odd\ntargets:\n  dev: { database: target/dev.duckdb }\n',
      'seeds/nums.csv': 'n,m\n1,2\n',
      'models/broken.sql': 'select from where',
      'models/from_function.sql': "select n, r.range as k, u.unnest as l from {{ ref('nums') }}, range(3) r, unnest([n, m]) u",
      'models/outside.sql': 'select * from elsewhere.things',
      'models/shapes.sql': [
        'with recursive steps(i, v) as (',
        "  select 1, n from {{ ref('nums') }}",
        '  union all select i + 1, v from steps where i < 3',
        ')',
        "select v from steps except select m from {{ ref('nums') }}",
        'union all by name',
        "select m as v, n as extra from {{ ref('nums') }}",
      ].join('\n'),
      'models/bare.sql': 'select v, s.v, v as V from shapes s',
      'models/bare_star.sql': 'select * from main.shapes',
    });
    const p = openProject({ projectDir: dir, env: {} });
    const result = await computeColumnLineage({
      manifest: p.manifest,
      renv: renvOf(p),
      connection,
      columnsOf: (id) => (id === 'seed.odd.nums' ? ['n', 'm'] : undefined),
    });
    const nums = 'seed.odd.nums';
    expect(result.problems).toEqual({
      'model.odd.broken': 'its SQL does not parse: syntax error at or near "where"',
      'model.odd.from_function': 'reads the table function unnest() over columns or a query: its lineage is not known',
      'model.odd.outside': '* over elsewhere.things: its columns are not known',
    });
    expect(result.columnLineage).toEqual({
      'model.odd.broken': {},
      // range() of constants reads nothing of the project; unnest() over columns hides what it reads.
      'model.odd.from_function': { n: [col(nums, 'n')], k: [], l: [] },
      'model.odd.outside': {},
      // The recursive CTE's values come from n; EXCEPT's right side only removes rows; BY NAME matches names.
      'model.odd.shapes': { v: [col(nums, 'm'), col(nums, 'n')], extra: [col(nums, 'n')] },
      // Repeated names as the built table has them.
      'model.odd.bare': { v: [col('model.odd.shapes', 'v')], v_1: [col('model.odd.shapes', 'v')], V_2: [col('model.odd.shapes', 'v')] },
      // Before shapes in the order (no ref, no edge), yet its `*` expands to shapes' columns.
      'model.odd.bare_star': { v: [col('model.odd.shapes', 'v')], extra: [col('model.odd.shapes', 'extra')] },
    });
    expect(result.undeclared).toEqual({
      'model.odd.bare': [{ relation: 'shapes', node: 'model.odd.shapes', suggestion: "{{ ref('shapes') }}" }],
      'model.odd.bare_star': [{ relation: 'main.shapes', node: 'model.odd.shapes', suggestion: "{{ ref('shapes') }}" }],
    });
  });
});

describe('column lineage of the Gold project', () => {
  it('traces agg_trending_stocks.total_volume back to the Silver amounts', async () => {
    const p = openProject({ projectDir: join(import.meta.dirname, '..', '..'), env: {} });
    // The Silver sources declare their columns; models' columns come from their own SQL.
    const columnsOf = (id: string) => {
      const names = Object.keys(p.manifest.nodes[id]?.columns ?? {});
      return names.length > 0 ? names : undefined;
    };
    const result = await computeColumnLineage({ manifest: p.manifest, renv: renvOf(p), connection, columnsOf });
    expect(result.problems).toEqual({});
    expect(result.undeclared).toEqual({});
    const gold = (name: string) => `model.congress_gold.${name}`;
    const transactions = 'source.congress_gold.silver.transactions';
    expect(result.columnLineage[gold('agg_trending_stocks')].total_volume).toEqual([col(gold('fact_ptr_transactions'), 'amount_midpoint')]);
    expect(result.columnLineage[gold('fact_ptr_transactions')].amount_midpoint).toEqual([col(transactions, 'amount_high'), col(transactions, 'amount_low')]);
    // Through the models in between, to the Silver columns only.
    expect(upstream(result, gold('agg_trending_stocks'), 'total_volume')).toEqual([col(transactions, 'amount_high'), col(transactions, 'amount_low')]);
    // scd2's surrogate key is dim_member's (the materialization adds it; YAML declares it).
    expect(result.columnLineage[gold('fact_ptr_transactions')].member_key).toEqual([col(gold('dim_member'), 'member_key')]);
    // arg_min(asset_name, (doc_id, line_number)): the key only chooses the row.
    expect(result.columnLineage[gold('dim_asset')].asset_name).toEqual([col(transactions, 'asset_name')]);
  });

  it('is exactly this for every Gold model: values only (counts, CASE conditions, keys and generated columns have none)', async () => {
    const p = openProject({ projectDir: join(import.meta.dirname, '..', '..'), env: {} });
    const columnsOf = (id: string) => {
      const names = Object.keys(p.manifest.nodes[id]?.columns ?? {});
      return names.length > 0 ? names : undefined;
    };
    const result = await computeColumnLineage({ manifest: p.manifest, renv: renvOf(p), connection, columnsOf });
    const gold = (name: string) => `model.congress_gold.${name}`;
    const transactions = 'source.congress_gold.silver.transactions';
    const members = 'source.congress_gold.silver.members';
    expect(result.columnLineage).toEqual({
      [gold('agg_trending_stocks')]: {
        ticker: [col(gold('fact_ptr_transactions'), 'ticker')],
        time_window: [],
        as_of: [col(gold('fact_ptr_transactions'), 'transaction_date')],
        total_transactions: [],
        total_volume: [col(gold('fact_ptr_transactions'), 'amount_midpoint')],
        num_buyers: [col(gold('fact_ptr_transactions'), 'bioguide_id')],
        num_sellers: [col(gold('fact_ptr_transactions'), 'bioguide_id')],
        buy_volume: [col(gold('fact_ptr_transactions'), 'amount_midpoint')],
        sell_volume: [col(gold('fact_ptr_transactions'), 'amount_midpoint')],
        net_volume: [col(gold('fact_ptr_transactions'), 'amount_midpoint')],
        dem_transactions: [],
        rep_transactions: [],
        dem_buy_volume: [col(gold('fact_ptr_transactions'), 'amount_midpoint')],
        rep_buy_volume: [col(gold('fact_ptr_transactions'), 'amount_midpoint')],
        sentiment_score: [col(gold('fact_ptr_transactions'), 'amount_midpoint')],
        first_trade_date: [col(gold('fact_ptr_transactions'), 'transaction_date')],
        last_trade_date: [col(gold('fact_ptr_transactions'), 'transaction_date')],
      },
      [gold('dim_asset')]: {
        asset_key: [],
        ticker: [col(transactions, 'ticker')],
        asset_name: [col(transactions, 'asset_name')],
        asset_type: [col(transactions, 'asset_type')],
      },
      [gold('dim_date')]: {
        date_key: [],
        date: [],
        year: [],
        quarter: [],
        month: [],
        month_name: [],
        day_of_month: [],
        day_of_week: [],
        day_name: [],
        week_of_year: [],
        is_weekend: [],
      },
      [gold('dim_member')]: {
        bioguide_id: [col(members, 'bioguide_id')],
        first_name: [col(members, 'first_name')],
        last_name: [col(members, 'last_name')],
        party: [col(members, 'party')],
        state: [col(members, 'state')],
        district: [col(members, 'district')],
        committees: [col(members, 'committees')],
        leadership_role: [col(members, 'leadership_role')],
        effective_date: [col(members, 'effective_date')],
        gold_ingest_ts: [],
      },
      [gold('fact_ptr_transactions')]: {
        transaction_key: [],
        member_key: [col(gold('dim_member'), 'member_key')],
        asset_key: [col(gold('dim_asset'), 'asset_key')],
        transaction_date_key: [col(gold('dim_date'), 'date_key')],
        amount_midpoint: [col(transactions, 'amount_high'), col(transactions, 'amount_low')],
        days_to_notification: [col(transactions, 'notification_date'), col(transactions, 'transaction_date')],
        doc_id: [col(transactions, 'doc_id')],
        line_number: [col(transactions, 'line_number')],
        filing_date: [col(transactions, 'filing_date')],
        notification_date: [col(transactions, 'notification_date')],
        transaction_date: [col(transactions, 'transaction_date')],
        bioguide_id: [col(transactions, 'bioguide_id')],
        owner: [col(transactions, 'owner')],
        ticker: [col(transactions, 'ticker')],
        asset_name: [col(transactions, 'asset_name')],
        asset_type: [col(transactions, 'asset_type')],
        transaction_type: [col(transactions, 'transaction_type')],
        amount_low: [col(transactions, 'amount_low')],
        amount_high: [col(transactions, 'amount_high')],
        silver_ingest_ts: [col(transactions, 'silver_ingest_ts')],
        gold_ingest_ts: [],
      },
    });
  });
});

/** The columns of seeds and sources a model's column comes from, through every model between. */
function upstream(result: LineageResult, node: string, column: string): Array<{ node: string; column: string }> {
  const found = new Map<string, { node: string; column: string }>();
  const visit = (n: string, c: string) => {
    const refs = result.columnLineage[n]?.[c];
    if (refs === undefined) {
      found.set(`${n}.${c}`, col(n, c));
      return;
    }
    for (const r of refs) visit(r.node, r.column);
  };
  visit(node, column);
  return [...found.values()].sort((a, b) => `${a.node}.${a.column}`.localeCompare(`${b.node}.${b.column}`));
}
