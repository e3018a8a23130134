/**
 * The docs site on a generated 1,000-model project (bench/generate-project.ts): the wall time of
 * `smelter docs generate` beside `smelter compile` of the same project (the ratio is what docs
 * adds: the catalog, DuckDB's parse of every model for column lineage, the site), then the
 * generated target/index.html opened from disk in headless Chromium: the time until the page
 * answers (filter, lists, panels) and until the whole graph is drawn. Each figure is the median of
 * three. The project is built first, so the catalog describes real relations.
 *
 * Run with `npm run build && node dist/bench/docs-bench.js [--models N]`; needs /usr/bin/chromium.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { generateProject } from './generate-project.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'smelter.js');
const flag = process.argv.indexOf('--models');
const MODELS = flag > 0 ? Number(process.argv[flag + 1]) : 1000;
const DIR = join(ROOT, 'bench', 'out', `docs-${MODELS}`);

function timed(args: readonly string[]): number {
  const start = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', DIR], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`smelter ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return (performance.now() - start) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

rmSync(DIR, { recursive: true, force: true });
mkdirSync(DIR, { recursive: true });
generateProject(DIR, { models: MODELS, seed: 42 });
timed(['run', '--threads', '2']);

const compile = median([0, 1, 2].map(() => timed(['compile'])));
const docs = median([0, 1, 2].map(() => timed(['docs', 'generate'])));
const site = join(DIR, 'target', 'index.html');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
const ready: number[] = [];
const drawn: number[] = [];
try {
  for (let i = 0; i < 3; i++) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const start = performance.now();
    await page.goto(pathToFileURL(site).href);
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 120_000 });
    ready.push((performance.now() - start) / 1000);
    await page.waitForSelector('body[data-graph="drawn"]', { state: 'attached', timeout: 120_000 });
    drawn.push((performance.now() - start) / 1000);
    await page.close();
  }
} finally {
  await browser.close();
}

const figures = {
  models: MODELS,
  machine: `${cpus().length} cores, load ${loadavg()[0].toFixed(2)}`,
  compile_s: compile,
  docs_generate_s: docs,
  docs_over_compile: docs / compile,
  site_bytes: statSync(site).size,
  page_ready_s: median(ready),
  graph_drawn_s: median(drawn),
};
writeFileSync(join(ROOT, 'bench', 'out', `docs-${MODELS}.json`), `${JSON.stringify(figures, null, 2)}\n`);
console.log(`| figure | ${MODELS} models |`);
console.log('| --- | ---: |');
console.log(`| \`smelter compile\` | ${compile.toFixed(2)} s |`);
console.log(`| \`smelter docs generate\` (catalog, lineage, site) | ${docs.toFixed(2)} s |`);
console.log(`| docs generate / compile | ${(docs / compile).toFixed(1)}× |`);
console.log(`| target/index.html | ${(figures.site_bytes / 1e6).toFixed(1)} MB |`);
console.log(`| Chromium: page answers (filter, lists, panels) | ${median(ready).toFixed(2)} s |`);
console.log(`| Chromium: whole graph drawn | ${median(drawn).toFixed(2)} s |`);
console.log(`(${figures.machine})`);
