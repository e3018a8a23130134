/**
 * target/index.html: the docs site as ONE file that works opened from disk — the app's JS and CSS
 * inlined (dist/docs-app, built by scripts/build-docs-app.ts), the data embedded as JSON. No
 * fetch, no server, no network.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCS_DATA_ELEMENT_ID, type DocsSiteData } from './site-data.js';

/**
 * dist/docs-app seen from this module: compiled (dist/runtime/docs) or run from the sources
 * (runtime/docs, under vitest). Resolved when a site is rendered, not at import: a bundle without
 * `import.meta.url` (the CommonJS Lambda package) may import this module and never render.
 */
function assetDirs(): string[] {
  return [new URL('../../docs-app/', import.meta.url), new URL('../../dist/docs-app/', import.meta.url)].map((u) => fileURLToPath(u));
}

interface DocsAssets {
  readonly js: string;
  readonly css: string;
}

let cached: DocsAssets | undefined;

function docsAssets(): DocsAssets {
  if (cached !== undefined) return cached;
  const dirs = assetDirs();
  const dir = dirs.find((d) => existsSync(join(d, 'app.js')) && existsSync(join(d, 'app.css')));
  if (dir === undefined) throw new Error(`the docs app is not built (looked in ${dirs.join(', ')}): run npm run build`);
  cached = { js: readFileSync(join(dir, 'app.js'), 'utf8'), css: readFileSync(join(dir, 'app.css'), 'utf8') };
  return cached;
}

/**
 * JSON safe inside a <script> element: every `<` as `\u003c`, so neither `</script>` nor `<!--`
 * (which would switch the HTML parser's script state) can occur, whatever a model's SQL holds.
 * U+2028/U+2029 are escaped too, for older JavaScript parsers.
 */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** `</script` and `</style` in inlined code would end their element early. */
function inlineSafe(code: string, tag: 'script' | 'style'): string {
  return code.replace(new RegExp(`</(${tag})`, 'gi'), '<\\/$1');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderDocsSite(data: DocsSiteData): string {
  const { js, css } = docsAssets();
  const title = `${data.manifest.project_name} · smelter docs`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing leaves the page: no fonts, scripts or images from elsewhere. The layout worker starts from a blob.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; worker-src blob:">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${inlineSafe(css, 'style')}</style>`,
    '</head>',
    '<body>',
    '<noscript>The smelter docs site needs JavaScript.</noscript>',
    `<script type="application/json" id="${DOCS_DATA_ELEMENT_ID}">${scriptSafeJson(data)}</script>`,
    `<script>${inlineSafe(js, 'script')}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Writes `<targetDir>/index.html` (through a temporary file, as the other artifacts); returns its path. */
export function writeDocsSite(targetDir: string, data: DocsSiteData): string {
  mkdirSync(targetDir, { recursive: true });
  const path = join(targetDir, 'index.html');
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, renderDocsSite(data));
  renameSync(tmp, path);
  return path;
}
