/**
 * Bundles the docs site's browser app (runtime/docs/app) into dist/docs-app/app.js and app.css,
 * which runtime/docs/site-html.ts inlines into target/index.html. Part of `npm run build`.
 *
 * The layout worker is bundled too and carried inside app.js as a string. platform `browser`: a `node:` import anywhere in what the app reaches (the selector, the graph,
 * the errors) fails the build instead of failing in the page.
 */
import { build, type BuildOptions } from 'esbuild';
import { resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './repo-root.js';

export const DOCS_APP_SOURCE = join(ROOT, 'runtime', 'docs', 'app');
export const DOCS_APP_OUT = join(ROOT, 'dist', 'docs-app');

export async function buildDocsApp(outDir: string = DOCS_APP_OUT): Promise<{ js: string; css: string }> {
  const js = join(outDir, 'app.js');
  const css = join(outDir, 'app.css');
  const common: BuildOptions = { bundle: true, format: 'iife', platform: 'browser', target: ['chrome110', 'firefox115', 'safari16'], minify: true, legalComments: 'none', logLevel: 'warning' };
  // The layout worker first: the app carries it as a string and starts it from a blob URL.
  const worker = await build({ ...common, entryPoints: [join(DOCS_APP_SOURCE, 'layout-worker.ts')], write: false });
  await build({
    ...common,
    entryPoints: [join(DOCS_APP_SOURCE, 'main.ts')],
    outfile: js,
    define: { LAYOUT_WORKER_SOURCE: JSON.stringify(worker.outputFiles![0].text) },
  });
  await build({ entryPoints: [join(DOCS_APP_SOURCE, 'styles.css')], outfile: css, bundle: true, minify: true, logLevel: 'warning' });
  return { js, css };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildDocsApp().then(
    ({ js, css }) => process.stdout.write(`docs app: ${js}, ${css}\n`),
    (error: unknown) => {
      process.stderr.write(`build-docs-app: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
