/**
 * `npm run package:lambda [-- --arch x64|arm64] [--project-dir DIR] [--out FILE]`: the Lambda
 * deployment package (SPEC §9). dist/lambda/ holds index.js (the handler and smelter, bundled by
 * esbuild), DuckDB's native binding for linux x64, `{"type":"commonjs"}` and the project's files;
 * dist/lambda.zip is that folder zipped. The handler is `index.handler`; the project is the
 * function's root.
 *
 * `--arch arm64` (Graviton) writes dist/lambda-arm64.zip with `@duckdb/node-bindings-linux-arm64`
 * instead. npm does not install that package on an x64 machine, so it is fetched with `npm pack`
 * (which checks the registry's integrity) at the installed x64 binding's version, and cached under
 * node_modules/.cache/smelter-lambda/. index.js is the same for both: `@duckdb/node-bindings` picks
 * `@duckdb/node-bindings-linux-${process.arch}` when the function starts.
 */
import { build, type Plugin } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipFolder } from './zip-folder.js';
import { ROOT } from './repo-root.js';

const PROJECT_PARTS = ['project.yml', 'models', 'macros', 'seeds', 'data_tests'];
/** Lambda's limit for a zip uploaded directly. */
const MAX_ZIP_BYTES = 50 * 1024 * 1024;

export type Arch = 'x64' | 'arm64';
export const ARCHES: readonly Arch[] = ['x64', 'arm64'];
/** The ELF e_machine of each architecture's binaries. */
export const ELF_MACHINE: Readonly<Record<Arch, number>> = { x64: 0x3e, arm64: 0xb7 };
/** Where fetched binding tarballs are kept, so only the first arm64 package needs the network. */
export const BINDING_CACHE = join(ROOT, 'node_modules', '.cache', 'smelter-lambda');

/** DuckDB's native binding package for Lambda's Linux (glibc) on `arch`. */
export function bindingPackage(arch: Arch): string {
  return `@duckdb/node-bindings-linux-${arch}`;
}

/** The installed x64 binding's version: the arm64 binding must be the same build of DuckDB. */
export function bindingVersion(): string {
  const manifest = join(ROOT, 'node_modules', bindingPackage('x64'), 'package.json');
  if (!existsSync(manifest)) throw new Error(`${bindingPackage('x64')} is not installed: run npm ci on linux x64`);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** The cached tarball of a binding package, if an earlier run fetched it and it is intact. */
export function cachedBinding(arch: Arch, version = bindingVersion()): string | undefined {
  const tarball = join(BINDING_CACHE, `duckdb-node-bindings-linux-${arch}-${version}.tgz`);
  if (!existsSync(tarball) || !existsSync(`${tarball}.integrity`)) return undefined;
  const expected = readFileSync(`${tarball}.integrity`, 'utf8').trim();
  return sha512(tarball) === expected ? tarball : undefined;
}

function sha512(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/**
 * The tarball of `bindingPackage(arch)@version`: from the cache, or fetched by `npm pack` (npm
 * checks it against the registry's integrity; the integrity is kept beside it to check the cached
 * copy later). Fetched into a scratch folder and renamed, so an interrupted fetch leaves nothing.
 */
export function fetchBinding(arch: Arch, version = bindingVersion()): string {
  const cached = cachedBinding(arch, version);
  if (cached) return cached;
  const spec = `${bindingPackage(arch)}@${version}`;
  mkdirSync(BINDING_CACHE, { recursive: true });
  const scratch = mkdtempSync(join(BINDING_CACHE, 'fetch-'));
  try {
    const pack = spawnSync('npm', ['pack', spec, '--pack-destination', scratch, '--json', '--ignore-scripts'], { cwd: scratch, encoding: 'utf8' });
    if (pack.error || pack.status !== 0) {
      const why = pack.error?.message ?? pack.stderr.trim().split('\n').slice(-5).join('\n');
      throw new Error(`cannot fetch ${spec} from the npm registry (npm pack ${pack.error ? 'failed' : `exited ${pack.status}`}):\n${why}`);
    }
    const [packed] = JSON.parse(pack.stdout) as { filename: string; integrity: string }[];
    const tarball = join(BINDING_CACHE, packed.filename);
    if (sha512(join(scratch, packed.filename)) !== packed.integrity) throw new Error(`${spec}: the fetched tarball does not match the registry's integrity`);
    writeFileSync(`${tarball}.integrity`, `${packed.integrity}\n`);
    renameSync(join(scratch, packed.filename), tarball);
    const again = cachedBinding(arch, version);
    if (again !== tarball) throw new Error(`${spec}: npm pack wrote ${packed.filename}, not the expected file name`);
    return tarball;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The ELF e_machine of a file, or undefined if it is not a 64-bit little-endian ELF file. */
export function elfMachine(file: string): number | undefined {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    if (readSync(fd, header, 0, 20, 0) < 20) return undefined;
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return undefined;
  return header.readUInt16LE(18);
}

/** Refuse a binding folder without duckdb.node or with a native file built for another machine. */
export function checkBinding(folder: string, arch: Arch): void {
  if (!existsSync(join(folder, 'duckdb.node'))) throw new Error(`${bindingPackage(arch)} has no duckdb.node`);
  for (const name of readdirSync(folder)) {
    if (!/\.(node|so)(\.[\d.]+)?$/.test(name)) continue;
    const machine = elfMachine(join(folder, name));
    if (machine !== ELF_MACHINE[arch]) {
      const found = machine === undefined ? 'not a 64-bit little-endian ELF file' : `ELF e_machine 0x${machine.toString(16)}`;
      throw new Error(`${bindingPackage(arch)}/${name} is ${found}, not ${arch} (0x${ELF_MACHINE[arch].toString(16)}): refusing to build the zip`);
    }
  }
}

/** Put `bindingPackage(arch)` in `target`: copied from node_modules (x64) or unpacked from the registry's tarball (arm64). */
function copyBinding(arch: Arch, target: string): void {
  const name = bindingPackage(arch);
  const version = bindingVersion();
  mkdirSync(target, { recursive: true });
  if (arch === 'x64') {
    cpSync(join(ROOT, 'node_modules', name), target, { recursive: true });
  } else {
    const tarball = fetchBinding(arch, version);
    const untar = spawnSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1', '--no-same-owner', 'package/'], { encoding: 'utf8' });
    if (untar.error || untar.status !== 0) throw new Error(`cannot unpack ${tarball}: ${untar.error?.message ?? untar.stderr.trim()}`);
  }
  const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as { name: string; version: string };
  if (manifest.name !== name || manifest.version !== version) {
    throw new Error(`the binding copied is ${manifest.name}@${manifest.version}, not ${name}@${version}`);
  }
  checkBinding(target, arch);
}

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

export async function packageLambda(options: { projectDir: string; out: string; arch?: Arch }): Promise<{ folder: string; zip: string; bytes: number }> {
  const arch = options.arch ?? 'x64';
  if (!ARCHES.includes(arch)) throw new Error(`unknown arch ${String(arch)} (x64 or arm64)`);
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
  copyBinding(arch, join(folder, 'node_modules', bindingPackage(arch)));
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
  const options = ['--arch', '--project-dir', '--out'];
  const unknown = argv.filter((a, i) => !options.includes(a) && !options.includes(argv[i - 1]));
  const missing = options.filter((o) => argv.includes(o) && (value(o) === undefined || options.includes(value(o)!)));
  if (missing.length > 0) {
    process.stderr.write(`package-lambda: ${missing.join(', ')} needs a value\n`);
    return 2;
  }
  if (unknown.length > 0) {
    process.stderr.write(`package-lambda: unknown option ${unknown.join(' ')} (options: --arch x64|arm64, --project-dir DIR, --out FILE)\n`);
    return 2;
  }
  const arch = value('--arch') ?? 'x64';
  if (!(ARCHES as readonly string[]).includes(arch)) {
    process.stderr.write(`package-lambda: --arch must be x64 or arm64, not ${arch}\n`);
    return 2;
  }
  const projectDir = resolve(value('--project-dir') ?? ROOT);
  const out = resolve(value('--out') ?? join(ROOT, 'dist', arch === 'x64' ? 'lambda.zip' : `lambda-${arch}.zip`));
  const { zip, bytes } = await packageLambda({ projectDir, out, arch: arch as Arch });
  process.stdout.write(`wrote ${zip} (${(bytes / 1048576).toFixed(1)} MB)\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
