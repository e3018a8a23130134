/**
 * Bundles the `smelter` command (adapters/cli/main.ts) into dist/cli/, which bin/smelter.js runs.
 * Part of `npm run build`.
 *
 * Why a bundle: Node's ES module loader resolves, reads and links every file on its own, and the
 * CLI reaches a few hundred (the runtime, graphology, the YAML parser's ~80 files). One file per
 * entry costs a fraction of that at every start: `smelter --help`, each CI step and each command.
 * Code splitting keeps what main.ts imports dynamically (the commands, DuckDB's engine, the AWS
 * adapters) in chunks loaded only when a command needs them, so `--help` still loads no runtime.
 *
 * Left outside the bundle, resolved from node_modules when first needed: DuckDB (a native binding),
 * Nunjucks (CommonJS, loaded with createRequire only by projects whose templates need it), the AWS
 * SDK (only for S3 or DynamoDB targets) and esbuild.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './repo-root.js';

export const CLI_OUT = join(ROOT, 'dist', 'cli');

export async function buildCli(outDir: string = CLI_OUT): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  await build({
    entryPoints: { smelter: join(ROOT, 'adapters', 'cli', 'main.ts') },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunks/[name]-[hash]',
    external: ['@duckdb/*', '@aws-sdk/*', 'nunjucks', 'esbuild'],
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS packages in the bundle (yaml's dependencies reach `require('process')`) call require,
    // which an ES module has not: each output file gets its own, as Node gives a CommonJS file.
    banner: { js: "import { createRequire as __smelterCreateRequire } from 'node:module';\nconst require = __smelterCreateRequire(import.meta.url);" },
  });
  return join(outDir, 'smelter.js');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildCli().then(
    (entry) => process.stdout.write(`cli: ${entry}\n`),
    (error: unknown) => {
      process.stderr.write(`build-cli: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
