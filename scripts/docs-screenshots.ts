/**
 * The README's screenshots of the docs site: the Gold project's graph, and the lineage of
 * agg_trending_stocks.total_volume. Run after `npm start` (a built Gold project):
 * `npm run build && node bin/smelter.js docs generate && node dist/scripts/docs-screenshots.js`.
 * Writes docs/images/gold-graph.png and docs/images/gold-total-volume-lineage.png; needs /usr/bin/chromium.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { ROOT } from './repo-root.js';

const site = pathToFileURL(join(ROOT, 'target', 'index.html')).href;
const images = join(ROOT, 'docs', 'images');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(site);
  await page.waitForSelector('body[data-graph="drawn"]', { state: 'attached' });
  await page.screenshot({ path: join(images, 'gold-graph.png') });
  await page.goto(`${site}#column/model.congress_gold.agg_trending_stocks/total_volume`);
  await page.waitForSelector('#panel [data-column-lineage]');
  await page.waitForSelector('body[data-graph="drawn"]', { state: 'attached' });
  await page.screenshot({ path: join(images, 'gold-total-volume-lineage.png') });
} finally {
  await browser.close();
}
console.log(`wrote ${join(images, 'gold-graph.png')} and ${join(images, 'gold-total-volume-lineage.png')}`);
