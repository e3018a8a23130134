/**
 * `npm run package:lambda [-- --project-dir DIR] [--out FILE]`: the Lambda deployment package
 * (SPEC §9). dist/lambda/ holds index.js (the handler and smelter, bundled by esbuild), DuckDB's
 * native binding for linux x64, `{"type":"commonjs"}` and the project's files; dist/lambda.zip is
 * that folder zipped. The handler is `index.handler`; the project is the function's root.
 */
import { build, type Plugin } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipFolder } from './zip-folder.js';

/** The repository root: the nearest folder above this file with smelter's package.json (from dist/ or from the sources). */
const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !readFileSync(join(dir, 'package.json'), 'utf8').includes('"name": "smelter"')) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find smelter\'s package.json above this script');
    dir = up;
  }
  return dir;
})();
const PROJECT_PARTS = ['project.yml', 'models', 'macros', 'seeds', 'data_tests'];
const BINDING = '@duckdb/node-bindings-linux-x64';
/** Lambda's limit for a zip uploaded directly. */
const MAX_ZIP_BYTES = 50 * 1024 * 1024;

/**
 * smelter loads DuckDB and Nunjucks with `createRequire(import.meta.url)` (faster start for the
 * ES-module CLI). In the CommonJS bundle those become plain `require` calls, which esbuild then
 * bundles; only DuckDB's native binding stays a file of its own.
 */
const plainRequire: Plugin = {
  name: 'plain-require',
  setup(b) {
    b.onLoad({ filter: /runtime[\\/](engine[\\/]duckdb-engine|template[\\/](strict-compiler|template-engine))\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8')
        .replace(/^const require = createRequire\(import\.meta\.url\);$/m, '')
        .replace(/^const requireModule = createRequire\(import\.meta\.url\);$/m, '')
        .replace(/requireModule\(/g, 'require(')
        .replace(/createRequire\(import\.meta\.url\)\(/g, 'require(');
      return { contents: text, loader: 'ts' };
    });
  },
};

export async function packageLambda(options: { projectDir: string; out: string }): Promise<{ folder: string; zip: string; bytes: number }> {
  const folder = options.out.replace(/\.zip$/, '');
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'adapters', 'lambda', 'handler.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: join(folder, 'index.js'),
    external: ['@duckdb/node-bindings-*'],
    plugins: [plainRequire],
    logLevel: 'error',
    legalComments: 'none',
  });
  writeFileSync(join(folder, 'package.json'), '{"type":"commonjs"}\n');
  const binding = join(ROOT, 'node_modules', BINDING);
  if (!existsSync(binding)) throw new Error(`${BINDING} is not installed: run npm ci on linux x64`);
  cpSync(binding, join(folder, 'node_modules', BINDING), { recursive: true });
  for (const part of PROJECT_PARTS) {
    const from = join(options.projectDir, part);
    if (existsSync(from)) cpSync(from, join(folder, part), { recursive: true });
  }
  const { bytes } = zipFolder(folder, options.out);
  if (bytes > MAX_ZIP_BYTES) throw new Error(`${options.out} is ${(bytes / 1048576).toFixed(1)} MB, over Lambda's 50 MB for a direct upload`);
  return { folder, zip: options.out, bytes };
}

async function main(argv: readonly string[]): Promise<number> {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const unknown = argv.filter((a, i) => a.startsWith('--') && !['--project-dir', '--out'].includes(a) && !['--project-dir', '--out'].includes(argv[i - 1]));
  if (unknown.length > 0) {
    process.stderr.write(`package-lambda: unknown option ${unknown.join(' ')} (options: --project-dir DIR, --out FILE; arm64 is not available here)\n`);
    return 2;
  }
  const projectDir = resolve(value('--project-dir') ?? ROOT);
  const out = resolve(value('--out') ?? join(ROOT, 'dist', 'lambda.zip'));
  const { zip, bytes } = await packageLambda({ projectDir, out });
  process.stdout.write(`wrote ${zip} (${(bytes / 1048576).toFixed(1)} MB)\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
