import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openProject, type ParsedProject } from '../../runtime/invocation.js';
import { manifestArtifact } from '../../runtime/artifacts/write-artifacts.js';
import { selectNodes } from '../../runtime/select/select.js';
import { GRAPH_RESOURCE_TYPES, graphNodeIds } from '../../runtime/docs/graph-nodes.js';
import { renderDocsSite, scriptSafeJson, writeDocsSite } from '../../runtime/docs/site-html.js';
import type { DocsSiteData } from '../../runtime/docs/site-data.js';
import { buildDocsApp } from '../../scripts/build-docs-app.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * The docs site (target/index.html) in a real headless Chromium, opened from disk as a user opens
 * it: the graph, the selector filter (the CLI's selectNodes, bundled), node pages, column lineage,
 * the undeclared-dependency mark, no console errors and no request leaving the file. Screenshots
 * land in tests/browser/artifacts/ (gitignored).
 */

const ROOT = join(import.meta.dirname, '../..');
const ARTIFACTS = join(import.meta.dirname, 'artifacts');
const CHROMIUM = '/usr/bin/chromium';
const GOLD = 'model.congress_gold';
const SOURCE = 'source.congress_gold.silver';

let browser: Browser;
let pageOpen: Page | undefined;
/** What the page reported that it should not have: console errors, uncaught errors, requests beyond the file. */
let problems: string[] = [];
let workDir: string;

beforeAll(async () => {
  // The bundle from the sources in this checkout, not whatever an earlier build left in dist/.
  await buildDocsApp();
  mkdirSync(ARTIFACTS, { recursive: true });
  workDir = mkdtempSync(join(tmpdir(), 'smelter-docs-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
});

afterAll(async () => {
  await browser?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function openSite(data: DocsSiteData, name: string): Promise<{ page: Page; readyMs: number; drawnMs: number; bytes: number }> {
  return openFile(writeDocsSite(join(workDir, name), data));
}

/** A site file in a new page (at `hash`, e.g. a column's page), watched for errors and requests, once it is drawn. */
async function openFile(file: string, hash = ''): Promise<{ page: Page; readyMs: number; drawnMs: number; bytes: number }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  pageOpen = page;
  problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // The file itself, and the layout worker's blob (in memory) on a large graph.
  page.on('request', (r) => {
    if (r.url() !== pathToFileURL(file).href && !r.url().startsWith('blob:')) problems.push(`request: ${r.url()}`);
  });
  const started = performance.now();
  await page.goto(pathToFileURL(file).href + hash);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
  const readyMs = performance.now() - started;
  await page.waitForSelector('body[data-graph="drawn"]', { state: 'attached' });
  const drawnMs = performance.now() - started;
  return { page, readyMs, drawnMs, bytes: statSync(file).size };
}

afterEach(async () => {
  const seen = problems;
  await pageOpen?.close();
  pageOpen = undefined;
  problems = [];
  expect(seen).toEqual([]);
});

/** The ids of the nodes the graph draws, sorted. */
async function drawnIds(p: Page): Promise<string[]> {
  return (await p.locator('svg.graph g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id') ?? ''))).sort();
}

async function applyFilter(p: Page, text: string): Promise<void> {
  await p.fill('#filter', text);
  await p.press('#filter', 'Enter');
  await p.waitForFunction((t) => document.body.dataset.filter === t, text.trim());
}

/** catalog.json as the declared YAML columns give it (the real catalog comes from the database). */
function declaredCatalog(p: ParsedProject): unknown {
  const entry = (id: string) => {
    const node = p.manifest.nodes[id];
    const columns = Object.values(node.columns).filter((c) => c.data_type !== undefined);
    return {
      metadata: { type: 'BASE TABLE', schema: 'relation' in node ? node.relation.schema : '', name: 'relation' in node ? node.relation.identifier : node.name, comment: null },
      columns: Object.fromEntries(columns.map((c, i) => [c.name, { type: c.data_type, index: i + 1, name: c.name, comment: null }])),
      stats: {},
    };
  };
  const ids = graphNodeIds(p.manifest);
  return {
    nodes: Object.fromEntries(ids.filter((id) => !id.startsWith('source.')).map((id) => [id, entry(id)])),
    sources: Object.fromEntries(ids.filter((id) => id.startsWith('source.')).map((id) => [id, entry(id)])),
  };
}

/** The Gold project's site data, with column lineage, a run, state and an undeclared read added by hand. */
function goldSiteData(): { p: ParsedProject; data: DocsSiteData } {
  const p = openProject({ projectDir: ROOT, env: {} });
  const artifact = manifestArtifact(p.manifest, 'docs-test', new Date('2026-12-01T00:00:00Z')) as { nodes: Record<string, Record<string, unknown>> };
  artifact.nodes[`${GOLD}.fact_ptr_transactions`].column_lineage = {
    amount_midpoint: [
      { node: `${SOURCE}.transactions`, column: 'amount_low' },
      { node: `${SOURCE}.transactions`, column: 'amount_high' },
    ],
    member_key: [{ node: `${GOLD}.dim_member`, column: 'member_key' }],
  };
  artifact.nodes[`${GOLD}.agg_trending_stocks`].column_lineage = {
    buy_volume: [{ node: `${GOLD}.fact_ptr_transactions`, column: 'amount_midpoint' }],
    sell_volume: [{ node: `${GOLD}.fact_ptr_transactions`, column: 'amount_midpoint' }],
  };
  artifact.nodes[`${GOLD}.fact_ptr_transactions`].compiled_code = 'select 1 as compiled_marker';
  const data: DocsSiteData = {
    manifest: p.manifest,
    artifact,
    catalog: declaredCatalog(p),
    runResults: {
      metadata: { generated_at: '2026-12-01T00:00:00Z' },
      results: [
        { unique_id: `${GOLD}.fact_ptr_transactions`, status: 'success', execution_time: 1.25, adapter_response: { rows_affected: 412 }, message: 'OK 412', failures: null },
        { unique_id: `test.congress_gold.unique_dim_member_member_key`, status: 'pass', execution_time: 0.02, adapter_response: {}, message: null, failures: 0 },
      ],
    },
    state: {
      // A watermark that would end the data's <script> element were it not escaped.
      [`${GOLD}.fact_ptr_transactions`]: { watermark: { doc_id: 20024567, note: '</script><!-- -->' }, rows: 50412, version: 7, committed_at: '2026-12-01T00:00:00Z' },
    },
    undeclared: {
      [`${GOLD}.agg_trending_stocks`]: [{ relation: 'gold.dim_asset', node: `${GOLD}.dim_asset`, suggestion: "{{ ref('dim_asset') }}" }],
    },
    generatedAt: '2026-12-01T00:00:00Z',
  };
  return { p, data };
}

describe('docs site on the Gold project', () => {
  it('draws every model and source of the project, each laid out inside the graph', async () => {
    const { p, data } = goldSiteData();
    const { page } = await openSite(data, 'gold-graph');
    // What the graph draws: models (ephemeral and snapshots included), seeds, sources; not tests.
    expect(GRAPH_RESOURCE_TYPES).toEqual(['model', 'seed', 'source']);
    expect(await drawnIds(page)).toEqual([
      `${GOLD}.agg_trending_stocks`,
      `${GOLD}.dim_asset`,
      `${GOLD}.dim_date`,
      `${GOLD}.dim_member`,
      `${GOLD}.fact_ptr_transactions`,
      `${SOURCE}.members`,
      `${SOURCE}.transactions`,
    ]);
    expect(await drawnIds(page)).toEqual(graphNodeIds(p.manifest));
    // One edge per dependency between drawn nodes.
    const edges = (await page.locator('svg.graph path.edge').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-from')} -> ${e.getAttribute('data-to')}`))).sort();
    const expected = graphNodeIds(p.manifest).flatMap((id) => p.dag.outNeighbors(id).filter((c) => graphNodeIds(p.manifest).includes(c)).map((c) => `${id} -> ${c}`)).sort();
    expect(edges).toEqual(expected);
    expect(edges.length).toBeGreaterThan(0);
    // Nodes do not overlap: dagre placed them.
    const boxes = await page.locator('svg.graph g.node rect').evaluateAll((els) => els.map((e) => (e as SVGGraphicsElement).getBoundingClientRect().toJSON() as DOMRect));
    for (const [i, a] of boxes.entries()) for (const b of boxes.slice(i + 1)) expect(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'gold-graph.png') });
  });

  it('filters with the CLI selector: +fact_ptr_transactions leaves exactly its ancestors', async () => {
    const { p, data } = goldSiteData();
    const { page } = await openSite(data, 'gold-filter');
    // `/` anywhere focuses the filter box.
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('filter');
    await applyFilter(page, '+fact_ptr_transactions');
    const cli = [...selectNodes(p.manifest, p.dag, { select: ['+fact_ptr_transactions'], exclude: [], resourceTypes: GRAPH_RESOURCE_TYPES }).selected].sort();
    expect(await drawnIds(page)).toEqual(cli);
    expect(cli).toEqual([`${GOLD}.dim_asset`, `${GOLD}.dim_date`, `${GOLD}.dim_member`, `${GOLD}.fact_ptr_transactions`, `${SOURCE}.members`, `${SOURCE}.transactions`]);
    expect(await page.textContent('#filter-status')).toBe('6 nodes · selector');
    await page.screenshot({ path: join(ARTIFACTS, 'gold-filter.png') });

    // Descendants, and a name search when a plain word selects nothing.
    await applyFilter(page, 'dim_member+');
    expect(await drawnIds(page)).toEqual([`${GOLD}.agg_trending_stocks`, `${GOLD}.dim_member`, `${GOLD}.fact_ptr_transactions`]);
    await applyFilter(page, 'dim');
    expect(await drawnIds(page)).toEqual([`${GOLD}.dim_asset`, `${GOLD}.dim_date`, `${GOLD}.dim_member`]);
    expect(await page.textContent('#filter-status')).toBe('3 nodes · name contains “dim”');
    // A malformed expression: the selector's own message, nothing drawn, no page error.
    await applyFilter(page, 'foo:bar');
    expect(await drawnIds(page)).toEqual([]);
    expect(await page.textContent('#filter-status')).toBe("unknown selector method 'foo' in 'foo:bar'");
    // A selection of one node: Enter opens its page.
    await applyFilter(page, 'dim_date');
    await page.waitForSelector(`#panel .panel-body[data-node="${GOLD}.dim_date"]`);
    // Escape clears the filter.
    await page.press('#filter', 'Escape');
    await page.waitForFunction(() => document.body.dataset.filter === '');
    expect(await drawnIds(page)).toEqual(graphNodeIds(p.manifest));
  });

  it("shows a model's page: columns with types, descriptions and tests; state; last run; SQL", async () => {
    const { data } = goldSiteData();
    const { page } = await openSite(data, 'gold-model');
    await page.click(`svg.graph g.node[data-id="${GOLD}.dim_member"]`);
    await page.waitForSelector(`#panel .panel-body[data-node="${GOLD}.dim_member"]`);
    expect(await page.textContent('#panel h2')).toBe('dim_member');
    const rows = await page.locator('#panel table.columns tbody tr').evaluateAll((trs) =>
      trs.map((tr) => {
        const [name, type, description] = [...tr.querySelectorAll('td')].map((td) => td.textContent);
        return { name, type, description, tests: [...tr.querySelectorAll('.test-badge')].map((b) => b.textContent) };
      }),
    );
    // The catalog's columns first (its order), then those only declared; ⇄ marks a column with lineage.
    expect(rows).toEqual([
      { name: 'member_key ⇄', type: 'BIGINT', description: 'Surrogate key of one version; never reused', tests: ['unique · pass', 'not_null'] },
      { name: 'bioguide_id', type: 'VARCHAR', description: "The member's Congressional Bioguide id", tests: ['not_null'] },
      { name: 'valid_from', type: 'DATE', description: 'First day the version is in force', tests: [] },
      { name: 'valid_to', type: 'DATE', description: 'Last day the version is in force (9999-12-31: current)', tests: [] },
      { name: 'party', type: '', description: '', tests: ['accepted_values(values: ["Democrat","Republican","Independent"])'] },
      { name: 'is_current', type: '', description: 'True for the version in force now', tests: [] },
    ]);
    expect(await page.locator('#panel .code-raw code').textContent()).toBe(data.manifest.nodes[`${GOLD}.dim_member`].resource_type === 'model' ? (data.manifest.nodes[`${GOLD}.dim_member`] as { raw_code: string }).raw_code : '');
    await page.screenshot({ path: join(ARTIFACTS, 'gold-dim-member.png') });

    // The fact: model-level test and unit test, state (the watermark that holds `</script>` intact), last run, compiled SQL.
    await page.evaluate((id) => (location.hash = `#node/${encodeURIComponent(id)}`), `${GOLD}.fact_ptr_transactions`);
    await page.waitForSelector(`#panel .panel-body[data-node="${GOLD}.fact_ptr_transactions"]`);
    expect(await page.locator('#panel .node-tests li').allTextContents()).toEqual([
      'unique_combination_of_columns(combination_of_columns: ["doc_id","line_number"])',
      'fact_amounts_keys_and_notification_delay unit test',
    ]);
    const facts = async (section: string) => page.locator(`#panel .section-${section} dl.facts > *`).allTextContents();
    expect(await facts('state')).toEqual(['Committed watermark', JSON.stringify({ doc_id: 20024567, note: '</script><!-- -->' }, null, 2), 'Rows', '50412', 'Version', '7', 'Committed at', '2026-12-01T00:00:00Z']);
    expect(await facts('last-run')).toEqual(['Status', 'success', 'Time', '1.25 s', 'Rows affected', '412', 'Message', 'OK 412']);
    expect(await page.locator('#panel .code-compiled code').textContent()).toBe('select 1 as compiled_marker');
    // Keyboard: Escape closes the panel.
    await page.locator('#panel h2').focus();
    await page.keyboard.press('Escape');
    await page.waitForSelector('#panel', { state: 'hidden' });
  });

  it("shows a column's lineage upstream and downstream (downstream inverted from the nodes' column_lineage)", async () => {
    const { data } = goldSiteData();
    const { page } = await openSite(data, 'gold-lineage');
    await page.click(`svg.graph g.node[data-id="${GOLD}.fact_ptr_transactions"]`);
    await page.click('#panel tr[data-column="amount_midpoint"] a');
    await page.waitForSelector('#panel [data-column-lineage]');
    expect(await page.textContent('#panel h2')).toBe('fact_ptr_transactions.amount_midpoint');
    const refs = (side: string) => page.locator(`#panel .lineage-${side} li`).evaluateAll((lis) => lis.map((li) => li.getAttribute('data-ref')));
    expect(await refs('upstream')).toEqual([`${SOURCE}.transactions.amount_low`, `${SOURCE}.transactions.amount_high`]);
    expect(await refs('downstream')).toEqual([`${GOLD}.agg_trending_stocks.buy_volume`, `${GOLD}.agg_trending_stocks.sell_volume`]);
    // The graph highlights the nodes the lineage reaches.
    const related = await page.locator('svg.graph g.node.related').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')).sort());
    expect(related).toEqual([`${GOLD}.agg_trending_stocks`, `${GOLD}.fact_ptr_transactions`, `${SOURCE}.transactions`]);
    await page.screenshot({ path: join(ARTIFACTS, 'gold-lineage.png') });

    // Two steps up from a downstream column, through the fact.
    await page.click(`#panel .lineage-downstream li[data-ref="${GOLD}.agg_trending_stocks.buy_volume"] > a.column-link`);
    await page.waitForFunction(() => document.querySelector('#panel h2')?.textContent === 'agg_trending_stocks.buy_volume');
    expect(await refs('upstream')).toEqual([`${GOLD}.fact_ptr_transactions.amount_midpoint`, `${SOURCE}.transactions.amount_low`, `${SOURCE}.transactions.amount_high`]);
    expect(await page.locator('#panel .lineage-downstream p').textContent()).toBe('no column is computed from it');
  });

  it('marks models with undeclared dependencies, on the graph and on their page', async () => {
    const { data } = goldSiteData();
    const { page } = await openSite(data, 'gold-undeclared');
    expect(await page.locator('svg.graph g.node.undeclared').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))).toEqual([`${GOLD}.agg_trending_stocks`]);
    await page.focus(`svg.graph g.node[data-id="${GOLD}.agg_trending_stocks"]`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#panel .section-undeclared');
    expect(await page.locator('#panel .section-undeclared li').textContent()).toBe("gold.dim_asset is dim_asset — write {{ ref('dim_asset') }}");
  });
});

describe('the site `smelter docs generate` writes for the Gold project', () => {
  it("traces agg_trending_stocks.total_volume back to the Silver amount columns, from the generated lineage", async () => {
    // A copy of the project, never built: lineage comes from DuckDB's parser and the declared columns.
    const dir = join(workDir, 'gold-generated');
    mkdirSync(dir, { recursive: true });
    for (const entry of ['project.yml', 'models', 'macros']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    const generated = spawnSync(process.execPath, [join(ROOT, 'bin', 'smelter.js'), 'docs', 'generate', '--project-dir', dir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(generated.stderr).toBe('');
    expect(generated.status).toBe(0);
    const { page } = await openFile(join(dir, 'target', 'index.html'), `#column/${GOLD}.agg_trending_stocks/total_volume`);
    await page.waitForSelector('#panel [data-column-lineage]');
    expect(await page.textContent('#panel h2')).toBe('agg_trending_stocks.total_volume');
    const upstream = await page.locator('#panel .lineage-upstream li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-ref')));
    expect(upstream).toEqual([`${GOLD}.fact_ptr_transactions.amount_midpoint`, `${SOURCE}.transactions.amount_high`, `${SOURCE}.transactions.amount_low`]);
    await page.screenshot({ path: join(ARTIFACTS, 'gold-generated-lineage.png') });
  });
});

describe('the HTML file', () => {
  it('is one file: data escaped in its JSON script, the app and styles inline, nothing fetched', () => {
    expect(scriptSafeJson({ sql: '</script><!-- x' })).toBe('{"sql":"\\u003c/script>\\u003c!-- x"}');
    expect(JSON.parse(scriptSafeJson({ sql: '</script><!-- x' }))).toEqual({ sql: '</script><!-- x' });
    const { data } = goldSiteData();
    const html = renderDocsSite(data);
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html).not.toMatch(/<script[^>]+src=|<link |https?:\/\/(?!schemas\.getdbt\.com|www\.w3\.org)/);
    expect(html).toContain(readFileSync(join(ROOT, 'dist/docs-app/app.css'), 'utf8'));
  });
});

describe('a 1,000-model project', () => {
  /** 20 layers of 50 models; each refs 1 to 3 models of the layer before; every tenth is ephemeral; layer 0 is tagged daily. */
  function syntheticProject(): ParsedProject {
    const files: Record<string, string> = { 'project.yml': "name: big\ntargets:\n  dev: { database: ':memory:' }\n" };
    const name = (layer: number, i: number) => `m_${String(layer).padStart(2, '0')}_${String(i).padStart(2, '0')}`;
    for (let layer = 0; layer < 20; layer++) {
      for (let i = 0; i < 50; i++) {
        const parents = layer === 0 ? [] : [...new Set([i, (i * 7 + layer) % 50, (i * 13 + 3 * layer) % 50].slice(0, 1 + ((i + layer) % 3)))].map((j) => name(layer - 1, j));
        const config = layer === 0 ? "{{ config(tags=['daily']) }}\n" : i % 10 === 0 ? "{{ config(materialized='ephemeral') }}\n" : '';
        files[`models/${name(layer, i)}.sql`] = `${config}select ${i} as id${parents.map((p, k) => `, (select count(*) from {{ ref('${p}') }}) as c${k}`).join('')}`;
      }
    }
    return openProject({ projectDir: writeTempProject(files), env: {} });
  }

  it('is interactive within seconds (time reported, not asserted) and filters with tag: and + as the CLI does', async () => {
    const p = syntheticProject();
    expect(graphNodeIds(p.manifest)).toHaveLength(1000);
    const data: DocsSiteData = { manifest: p.manifest, artifact: manifestArtifact(p.manifest, 'big', new Date()), catalog: {}, generatedAt: new Date().toISOString() };
    const { page, readyMs, drawnMs, bytes } = await openSite(data, 'big');
    expect(await page.locator('svg.graph g.node').count()).toBe(1000);
    const filterStart = performance.now();
    await applyFilter(page, 'tag:daily');
    const filterMs = performance.now() - filterStart;
    const cli = (select: string) => [...selectNodes(p.manifest, p.dag, { select: [select], exclude: [], resourceTypes: GRAPH_RESOURCE_TYPES }).selected].sort();
    expect(await drawnIds(page)).toEqual(cli('tag:daily'));
    expect(cli('tag:daily')).toHaveLength(50);
    await applyFilter(page, '+m_19_07');
    expect(await drawnIds(page)).toEqual(cli('+m_19_07'));
    await page.screenshot({ path: join(ARTIFACTS, 'synthetic-1000.png') });
    const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, Math.round(m.startTime)])));
    console.log(
      `docs site, 1,000 models (index.html ${(bytes / 1048576).toFixed(1)} MB), from navigation start: interactive (filter, list, panels answer) ${readyMs.toFixed(0)} ms, graph drawn ${drawnMs.toFixed(0)} ms ` +
        `(in-page marks: data read ${marks['docs:data']} ms, interactive ${marks['docs:interactive']} ms, graph drawn ${marks['docs:graph-drawn']} ms); tag:daily filter applied in ${filterMs.toFixed(0)} ms`,
    );
  });
});
