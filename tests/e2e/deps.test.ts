/**
 * `smelter deps` on real parts: local packages, git packages cloned from a bare repository made
 * here (tags, a branch, a commit, a subdirectory), and hub packages from a package hub served on
 * 127.0.0.1 by this file (the JSON index and tarballs built with `tar`). Exact output lines, exact
 * errors, the files installed and package-lock.yml. No network beyond loopback.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { smelterInProcess as smelter } from '../helpers/cli-in-process.js';
import { readPackagesFile } from '../../runtime/packages/packages-file.js';
import { findMissingPackages } from '../../runtime/packages/installed-check.js';
import { compareVersions, highestSatisfying, parseRange, parseVersion } from '../../runtime/packages/semver.js';

const scratch = mkdtempSync(join(tmpdir(), 'smelter-deps-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function writeFiles(dir: string, files: Readonly<Record<string, string>>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

let projects = 0;
/** A root project named `shop` with these files (packages.yml among them). */
function project(files: Readonly<Record<string, string>>): string {
  return writeFiles(join(scratch, `project-${++projects}`), { 'dbt_project.yml': 'name: shop\n', ...files });
}

const read = (path: string) => readFileSync(path, 'utf8');
const outLines = (text: string) => text.split('\n').filter((l) => l !== '');

// ---------------------------------------------------------------------------------------------
// git: a bare repository with tags v1.0 and v2.0, a branch `next`, and a package in a subfolder.

const GIT = ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', '-c', 'advice.detachedHead=false'];
const git = (cwd: string, ...args: string[]) => execFileSync('git', [...GIT, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
let bare: string;
const commits: Record<string, string> = {};

beforeAll(() => {
  bare = join(scratch, 'git-utils.git');
  git(scratch, 'init', '--quiet', '--bare', bare);
  const work = join(scratch, 'git-work');
  git(scratch, 'init', '--quiet', work);
  const commit = (label: string, files: Record<string, string>) => {
    writeFiles(work, files);
    git(work, 'add', '-A');
    git(work, 'commit', '--quiet', '-m', label);
    commits[label] = git(work, 'rev-parse', 'HEAD');
  };
  commit('one', {
    'dbt_project.yml': 'name: git_utils\n',
    'macros/version.sql': '{% macro git_utils_version() %}1.0{% endmacro %}\n',
    'extras/dbt_project.yml': 'name: git_extras\n',
    'extras/macros/extra.sql': '-- extras at one\n',
  });
  git(work, 'tag', 'v1.0');
  commit('two', { 'macros/version.sql': '{% macro git_utils_version() %}2.0{% endmacro %}\n', 'extras/macros/extra.sql': '-- extras at two\n' });
  git(work, 'tag', 'v2.0');
  git(work, 'checkout', '--quiet', '-b', 'next');
  commit('three', { 'macros/version.sql': '{% macro git_utils_version() %}next{% endmacro %}\n' });
  git(work, 'checkout', '--quiet', 'main');
  git(work, 'push', '--quiet', bare, 'main', 'next', '--tags');
});

// ---------------------------------------------------------------------------------------------
// The hub: /api/v1/<org>/<name>.json and /tarballs/<org>-<name>-<version>.tar.gz.

interface HubRelease {
  readonly files: Record<string, string>;
}
const hubPackages: Record<string, Record<string, HubRelease>> = {};
const tarballs = new Map<string, Buffer>();
const requests: string[] = [];
let hub: Server;
let hubUrl: string;

/** Publish a release: a tarball whose files sit in one top folder, as GitHub's archives do. */
function publish(pkg: string, version: string, files: Record<string, string>): void {
  const top = `${pkg.replace('/', '-')}-${createHash('sha1').update(version).digest('hex').slice(0, 7)}`;
  const src = mkdtempSync(join(scratch, 'tar-src-'));
  writeFiles(join(src, top), files);
  const archive = join(src, 'out.tar.gz');
  execFileSync('tar', ['-czf', archive, '-C', src, top]);
  tarballs.set(`/tarballs/${pkg.replace('/', '-')}-${version}.tar.gz`, readFileSync(archive));
  (hubPackages[pkg] ??= {})[version] = { files };
}

function hubIndex(pkg: string): unknown {
  const [namespace, name] = pkg.split('/');
  const versions = Object.fromEntries(
    Object.keys(hubPackages[pkg]).map((version) => {
      const path = `/tarballs/${pkg.replace('/', '-')}-${version}.tar.gz`;
      // acme/tampered's index lists a SHA-1 its tarball does not have.
      const sha1 = pkg === 'acme/tampered' ? '0'.repeat(40) : createHash('sha1').update(tarballs.get(path)!).digest('hex');
      return [version, { id: `${pkg}/${version}`, name, version, packages: [], downloads: { tarball: `${hubUrl}${path.slice(1)}`, format: 'tgz', sha1 } }];
    }),
  );
  return { name, namespace, versions };
}

const savedHubUrl = process.env.DBT_PACKAGE_HUB_URL;
beforeAll(async () => {
  hub = createServer((req, res) => {
    const url = req.url ?? '';
    requests.push(url);
    const index = /^\/api\/v1\/([\w.-]+\/[\w.-]+)\.json$/.exec(url);
    if (index && hubPackages[index[1]]) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(hubIndex(index[1])));
    } else if (tarballs.has(url)) {
      res.end(tarballs.get(url));
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise<void>((resolvePromise) => hub.listen(0, '127.0.0.1', resolvePromise));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}/`;
  process.env.DBT_PACKAGE_HUB_URL = hubUrl;
  const util = (version: string, extra: Record<string, string> = {}) => ({
    'dbt_project.yml': 'name: acme_util\n',
    'macros/version.sql': `{% macro acme_util_version() %}${version}{% endmacro %}\n`,
    ...extra,
  });
  publish('acme/util', '1.0.0', util('1.0.0'));
  publish('acme/util', '1.2.0', util('1.2.0'));
  publish('acme/util', '2.0.0', util('2.0.0'));
  publish('acme/util', '2.1.0-b1', util('2.1.0-b1'));
  publish('acme/base', '1.0.0', { 'dbt_project.yml': 'name: acme_base\n', 'macros/base.sql': '-- base 1.0.0\n' });
  publish('acme/base', '1.1.0', { 'dbt_project.yml': 'name: acme_base\n', 'macros/base.sql': '-- base 1.1.0\n' });
  // acme/metrics requires acme/base below 1.1.0 (transitively, through its own packages.yml).
  publish('acme/metrics', '0.3.0', {
    'dbt_project.yml': 'name: acme_metrics\n',
    'packages.yml': 'packages:\n  - package: acme/base\n    version: [">=1.0.0", "<1.1.0"]\n',
  });
  publish('acme/nameless', '1.0.0', { 'README.md': 'no project here\n' });
  publish('acme/tampered', '1.0.0', { 'dbt_project.yml': 'name: acme_tampered\n' });
});
afterAll(async () => {
  if (savedHubUrl === undefined) delete process.env.DBT_PACKAGE_HUB_URL;
  else process.env.DBT_PACKAGE_HUB_URL = savedHubUrl;
  await new Promise((resolvePromise) => hub.close(resolvePromise));
});
beforeEach(() => {
  requests.length = 0;
});

const versionIn = (dir: string, pkg: string, file = 'macros/version.sql') => read(join(dir, 'dbt_packages', pkg, file));

// ---------------------------------------------------------------------------------------------

describe('smelter deps: local packages', () => {
  it('links dbt_packages/<name> to the folder, named by its dbt_project.yml, and writes package-lock.yml', async () => {
    const root = join(scratch, 'local-root');
    writeFiles(join(root, 'libs', 'my-helpers'), { 'dbt_project.yml': 'name: helpers\n', 'macros/h.sql': '-- helper\n' });
    const dir = writeFiles(join(root, 'proj'), { 'dbt_project.yml': 'name: shop\n', 'packages.yml': 'packages:\n  - local: ../libs/my-helpers\n' });
    const result = await smelter(dir, 'deps');
    expect(result.stderr).toBe('');
    expect(outLines(result.stdout)).toEqual(['Installed helpers (local ../libs/my-helpers)', 'Installed 1 package into dbt_packages/; wrote package-lock.yml']);
    expect(result.code).toBe(0);
    const link = join(dir, 'dbt_packages', 'helpers');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../../libs/my-helpers');
    expect(realpathSync(link)).toBe(realpathSync(join(root, 'libs', 'my-helpers')));
    expect(read(join(link, 'macros/h.sql'))).toBe('-- helper\n');
    const hash = readPackagesFile(dir)!.sha1Hash;
    expect(read(join(dir, 'package-lock.yml'))).toBe(`packages:\n  - name: helpers\n    local: ../libs/my-helpers\nsha1_hash: ${hash}\n`);
  });

  it('--log-format json: one JSON object per line; scratch folders of a killed install are removed', async () => {
    writeFiles(join(scratch, 'json-lib'), { 'dbt_project.yml': 'name: json_lib\n' });
    const dir = project({
      'packages.yml': 'packages:\n  - local: ../json-lib\n',
      '.dbt_packages.staging-Ab12Cd/half/dbt_project.yml': 'name: half\n',
      '.dbt_packages.work-Xy34Zw/git-1/README': 'a clone\n',
    });
    const result = await smelter(dir, 'deps', '--log-format', 'json');
    expect(result.code).toBe(0);
    expect(outLines(result.stdout).map((line) => ({ ...JSON.parse(line), ts: undefined }))).toEqual([
      { ts: undefined, level: 'info', event: 'package_installed', message: 'Installed json_lib (local ../json-lib)' },
      { ts: undefined, level: 'info', event: 'deps_finish', message: 'Installed 1 package into dbt_packages/; wrote package-lock.yml' },
    ]);
    expect(readdirSync(dir).sort()).toEqual(['dbt_packages', 'dbt_project.yml', 'package-lock.yml', 'packages.yml']);
  });

  it('reads dependencies.yml when there is no packages.yml', async () => {
    writeFiles(join(scratch, 'dep-lib'), { 'dbt_project.yml': 'name: dep_lib\n' });
    const dir = project({ 'dependencies.yml': 'packages:\n  - local: ../dep-lib\n' });
    const result = await smelter(dir, 'deps');
    expect(outLines(result.stdout)).toEqual(['Installed dep_lib (local ../dep-lib)', 'Installed 1 package into dbt_packages/; wrote package-lock.yml']);
    expect(result.code).toBe(0);
  });

  it('a missing project folder is an error', async () => {
    expect(await smelter(join(scratch, 'no-such-project'), 'deps')).toEqual({ code: 2, stdout: '', stderr: `error: no project folder ${join(scratch, 'no-such-project')}\n` });
  });

  it("package-lock.yml's hash follows the list, not the order of its entries or keys", () => {
    const hashOf = (text: string) => readPackagesFile(project({ 'packages.yml': text }))!.sha1Hash;
    const one = hashOf('packages:\n  - package: acme/util\n    version: "1.0.0"\n  - local: ../x\n');
    expect(hashOf('packages:\n  - local: ../x\n  - version: "1.0.0"\n    package: acme/util\n')).toBe(one);
    expect(hashOf('packages:\n  - package: acme/util\n    version: "1.0.1"\n  - local: ../x\n')).not.toBe(one);
    expect(one).toMatch(/^[0-9a-f]{40}$/);
  });

  it('says so when the project lists no packages, and touches nothing', async () => {
    const dir = project({});
    const result = await smelter(dir, 'deps');
    expect(result).toEqual({ code: 0, stdout: 'No packages.yml or dependencies.yml: no packages to install\n', stderr: '' });
    expect(existsSync(join(dir, 'dbt_packages'))).toBe(false);
    expect(existsSync(join(dir, 'package-lock.yml'))).toBe(false);
    expect(readPackagesFile(dir)).toBeUndefined();
  });
});

describe('smelter deps: git packages', () => {
  const gitProject = (revision: string, extra = '') => project({ 'packages.yml': `packages:\n  - git: "${bare}"\n    revision: ${revision}\n${extra}` });

  it('installs a tag, a branch and a commit, without .git, and pins the commit in the lock', async () => {
    const byTag = gitProject('v1.0');
    const tag = await smelter(byTag, 'deps');
    expect(outLines(tag.stdout)).toEqual([`Installed git_utils v1.0 (git ${bare}, commit ${commits.one.slice(0, 12)})`, 'Installed 1 package into dbt_packages/; wrote package-lock.yml']);
    expect(tag.code).toBe(0);
    expect(versionIn(byTag, 'git_utils')).toBe('{% macro git_utils_version() %}1.0{% endmacro %}\n');
    expect(existsSync(join(byTag, 'dbt_packages', 'git_utils', '.git'))).toBe(false);
    expect(read(join(byTag, 'package-lock.yml'))).toBe(
      `packages:\n  - name: git_utils\n    git: ${bare}\n    revision: ${commits.one}\nsha1_hash: ${readPackagesFile(byTag)!.sha1Hash}\n`,
    );

    const byBranch = gitProject('next');
    expect((await smelter(byBranch, 'deps')).code).toBe(0);
    expect(versionIn(byBranch, 'git_utils')).toBe('{% macro git_utils_version() %}next{% endmacro %}\n');

    const byCommit = gitProject(commits.two);
    const commit = await smelter(byCommit, 'deps');
    expect(outLines(commit.stdout)[0]).toBe(`Installed git_utils ${commits.two.slice(0, 12)} (git ${bare})`);
    expect(versionIn(byCommit, 'git_utils')).toBe('{% macro git_utils_version() %}2.0{% endmacro %}\n');
  });

  it('copies only the subdirectory when one is given', async () => {
    const dir = gitProject('v2.0', '    subdirectory: extras\n');
    const result = await smelter(dir, 'deps');
    expect(outLines(result.stdout)).toEqual([
      `Installed git_extras v2.0 (git ${bare} (subdirectory extras), commit ${commits.two.slice(0, 12)})`,
      'Installed 1 package into dbt_packages/; wrote package-lock.yml',
    ]);
    expect(readdirSync(join(dir, 'dbt_packages', 'git_extras')).sort()).toEqual(['dbt_project.yml', 'macros']);
    expect(read(join(dir, 'dbt_packages', 'git_extras', 'macros', 'extra.sql'))).toBe('-- extras at two\n');
  });

  it('installs the default branch when unpinned, with a warning', async () => {
    const dir = project({ 'packages.yml': `packages:\n  - git: "${bare}"\n` });
    const result = await smelter(dir, 'deps');
    expect(result.stderr).toBe(`warning: git ${bare} is not pinned to a revision: its default branch is installed (add revision:, or warn-unpinned: false)\n`);
    expect(outLines(result.stdout)[0]).toBe(`Installed git_utils default branch (git ${bare}, commit ${commits.two.slice(0, 12)})`);
    expect(result.code).toBe(0);
  });

  it('refuses a revision that does not exist, naming the line of revision:, and leaves dbt_packages as it was', async () => {
    const dir = gitProject('v9.9');
    writeFiles(dir, { 'dbt_packages/kept/dbt_project.yml': 'name: kept\n' });
    const result = await smelter(dir, 'deps');
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: packages.yml:3:5: revision 'v9.9' does not exist in ${bare} (no tag, branch or commit of that name)\n`,
    });
    expect(readdirSync(join(dir, 'dbt_packages'))).toEqual(['kept']);
    expect(readdirSync(dir).sort()).toEqual(['dbt_packages', 'dbt_project.yml', 'packages.yml']);
  });

  it('refuses a repository that cannot be cloned', async () => {
    const missing = join(scratch, 'no-such-repo.git');
    const dir = project({ 'packages.yml': `packages:\n  - git: "${missing}"\n    revision: v1.0\n` });
    const result = await smelter(dir, 'deps');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: packages\\.yml:2:5: git clone ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed: fatal: repository '.*' does not exist\\n$`));
  });
});

describe('smelter deps: hub packages', () => {
  const hubProject = (version: string, extra = '') => project({ 'packages.yml': `packages:\n  - package: acme/util\n    version: ${version}\n${extra}` });

  it('installs the highest version in every range, from DBT_PACKAGE_HUB_URL', async () => {
    const dir = hubProject('[">=1.0.0", "<2.0.0"]');
    const result = await smelter(dir, 'deps');
    expect(result.stderr).toBe('');
    expect(outLines(result.stdout)).toEqual(['Installed acme_util 1.2.0 (hub acme/util)', 'Installed 1 package into dbt_packages/; wrote package-lock.yml']);
    expect(result.code).toBe(0);
    expect(versionIn(dir, 'acme_util')).toBe('{% macro acme_util_version() %}1.2.0{% endmacro %}\n');
    expect(readdirSync(join(dir, 'dbt_packages', 'acme_util')).sort()).toEqual(['dbt_project.yml', 'macros']);
    expect(requests).toEqual(['/api/v1/acme/util.json', '/tarballs/acme-util-1.2.0.tar.gz']);
    expect(read(join(dir, 'package-lock.yml'))).toBe(
      `packages:\n  - name: acme_util\n    package: acme/util\n    version: 1.2.0\nsha1_hash: ${readPackagesFile(dir)!.sha1Hash}\n`,
    );
  });

  it('takes an exact version, and leaves prereleases out unless install-prerelease: true', async () => {
    const exact = hubProject('"1.0.0"');
    expect((await smelter(exact, 'deps')).code).toBe(0);
    expect(versionIn(exact, 'acme_util')).toContain('1.0.0');

    const released = hubProject('">=2.0.0"');
    expect(outLines((await smelter(released, 'deps')).stdout)[0]).toBe('Installed acme_util 2.0.0 (hub acme/util)');

    const prerelease = hubProject('">=2.0.0"', '    install-prerelease: true\n');
    expect(outLines((await smelter(prerelease, 'deps')).stdout)[0]).toBe('Installed acme_util 2.1.0-b1 (hub acme/util)');
  });

  it('refuses a range no version matches, naming the line of version:', async () => {
    const dir = hubProject('[">=3.0.0"]');
    expect(await smelter(dir, 'deps')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: packages.yml:3:5: no version of acme/util matches >=3.0.0 (the hub lists 1.0.0, 1.2.0, 2.0.0, 2.1.0-b1; prereleases only with install-prerelease: true)\n',
    });
    expect(existsSync(join(dir, 'dbt_packages'))).toBe(false);
    expect(existsSync(join(dir, 'package-lock.yml'))).toBe(false);
  });

  it('takes DBT_PACKAGE_HUB_URL without a trailing slash, and says when the hub cannot be reached', async () => {
    const dir = hubProject('"1.0.0"');
    process.env.DBT_PACKAGE_HUB_URL = hubUrl.slice(0, -1);
    try {
      expect(outLines((await smelter(dir, 'deps')).stdout)[0]).toBe('Installed acme_util 1.0.0 (hub acme/util)');
      // A port that was just free: nothing listens there.
      const closed = createServer();
      await new Promise<void>((resolvePromise) => closed.listen(0, '127.0.0.1', resolvePromise));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolvePromise) => closed.close(resolvePromise));
      process.env.DBT_PACKAGE_HUB_URL = `http://127.0.0.1:${port}/`;
      expect(await smelter(dir, 'deps', '--upgrade')).toEqual({
        code: 1,
        stdout: '',
        stderr: `error: packages.yml:2:5: could not reach the package hub for acme/util: http://127.0.0.1:${port}/api/v1/acme/util.json: connect ECONNREFUSED 127.0.0.1:${port}\n`,
      });
      expect(versionIn(dir, 'acme_util')).toContain('1.0.0');
    } finally {
      process.env.DBT_PACKAGE_HUB_URL = hubUrl;
    }
  });

  it('refuses a package the hub does not have', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - package: acme/utill\n    version: "1.0.0"\n' });
    expect(await smelter(dir, 'deps')).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: packages.yml:2:5: acme/utill is not on the package hub (${hubUrl}api/v1/acme/utill.json: not found)\n`,
    });
  });

  it('refuses a tarball whose SHA-1 is not the one the hub lists', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - package: acme/tampered\n    version: "1.0.0"\n' });
    const actual = createHash('sha1').update(tarballs.get('/tarballs/acme-tampered-1.0.0.tar.gz')!).digest('hex');
    expect(await smelter(dir, 'deps')).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: packages.yml:2:5: the tarball of acme/tampered 1.0.0 is not the one the hub lists (SHA-1 ${actual}, expected ${'0'.repeat(40)})\n`,
    });
  });

  it('a failure after other packages were fetched leaves dbt_packages/ and the lock as they were, and no scratch folders', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - package: acme/util\n    version: "1.0.0"\n' });
    expect((await smelter(dir, 'deps')).code).toBe(0);
    const lock = read(join(dir, 'package-lock.yml'));
    writeFiles(dir, { 'packages.yml': 'packages:\n  - package: acme/util\n    version: "2.0.0"\n  - package: acme/nameless\n    version: "1.0.0"\n' });
    const failed = await smelter(dir, 'deps');
    expect(failed.stderr).toBe('error: packages.yml:4:5: hub acme/nameless 1.0.0 has no dbt_project.yml\n');
    expect(requests).toContain('/tarballs/acme-util-2.0.0.tar.gz');
    expect(versionIn(dir, 'acme_util')).toContain('1.0.0');
    expect(readdirSync(join(dir, 'dbt_packages'))).toEqual(['acme_util']);
    expect(read(join(dir, 'package-lock.yml'))).toBe(lock);
    expect(readdirSync(dir).sort()).toEqual(['dbt_packages', 'dbt_project.yml', 'package-lock.yml', 'packages.yml']);
  });

  it('refuses a package without dbt_project.yml', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - package: acme/nameless\n    version: "1.0.0"\n' });
    expect(await smelter(dir, 'deps')).toEqual({ code: 1, stdout: '', stderr: 'error: packages.yml:2:5: hub acme/nameless 1.0.0 has no dbt_project.yml\n' });
  });
});

describe('smelter deps: transitive packages and conflicts', () => {
  it("installs what a package's own packages.yml lists", async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - package: acme/metrics\n    version: "0.3.0"\n' });
    const result = await smelter(dir, 'deps');
    expect(outLines(result.stdout)).toEqual([
      'Installed acme_metrics 0.3.0 (hub acme/metrics)',
      'Installed acme_base 1.0.0 (hub acme/base)',
      'Installed 2 packages into dbt_packages/; wrote package-lock.yml',
    ]);
    expect(result.code).toBe(0);
    expect(read(join(dir, 'dbt_packages', 'acme_base', 'macros', 'base.sql'))).toBe('-- base 1.0.0\n');
    expect(read(join(dir, 'package-lock.yml'))).toBe(
      [
        'packages:',
        '  - name: acme_metrics',
        '    package: acme/metrics',
        '    version: 0.3.0',
        '  - name: acme_base',
        '    package: acme/base',
        '    version: 1.0.0',
        `sha1_hash: ${readPackagesFile(dir)!.sha1Hash}`,
        '',
      ].join('\n'),
    );
  });

  it("resolves a package's own local: paths against the root project, as dbt does", async () => {
    writeFiles(join(scratch, 'inner-lib'), { 'dbt_project.yml': 'name: inner_lib\n' });
    writeFiles(join(scratch, 'nest', 'outer'), { 'dbt_project.yml': 'name: outer\n', 'packages.yml': 'packages:\n  - local: ../inner-lib\n' });
    const dir = project({ 'packages.yml': 'packages:\n  - local: ../nest/outer\n' });
    const result = await smelter(dir, 'deps');
    expect(outLines(result.stdout)).toEqual([
      'Installed outer (local ../nest/outer)',
      'Installed inner_lib (local ../inner-lib)',
      'Installed 2 packages into dbt_packages/; wrote package-lock.yml',
    ]);
    expect(realpathSync(join(dir, 'dbt_packages', 'inner_lib'))).toBe(realpathSync(join(scratch, 'inner-lib')));
  });

  it('picks one version every requirer allows', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - package: acme/base\n    version: ">=1.0.0"\n  - package: acme/metrics\n    version: "0.3.0"\n' });
    const result = await smelter(dir, 'deps');
    expect(outLines(result.stdout)).toEqual([
      'Installed acme_base 1.0.0 (hub acme/base)',
      'Installed acme_metrics 0.3.0 (hub acme/metrics)',
      'Installed 2 packages into dbt_packages/; wrote package-lock.yml',
    ]);
  });

  it('refuses versions that conflict, naming both requirers', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - package: acme/base\n    version: "1.1.0"\n  - package: acme/metrics\n    version: "0.3.0"\n' });
    expect(await smelter(dir, 'deps')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: packages.yml:3:5: conflicting versions of acme/base: packages.yml:2 wants 1.1.0, dbt_packages/acme_metrics/packages.yml:2 wants >=1.0.0, <1.1.0; no version satisfies both\n',
    });
    expect(existsSync(join(dir, 'dbt_packages'))).toBe(false);
  });

  it('refuses two revisions of one git package', async () => {
    writeFiles(join(scratch, 'needs-v1'), { 'dbt_project.yml': 'name: needs_v1\n', 'packages.yml': `packages:\n  - git: "${bare}"\n    revision: v1.0\n` });
    const dir = project({ 'packages.yml': `packages:\n  - git: "${bare}"\n    revision: v2.0\n  - local: ../needs-v1\n` });
    expect(await smelter(dir, 'deps')).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: packages.yml:3:5: conflicting revisions of git package ${bare}: packages.yml:2 wants v2.0, ../needs-v1/packages.yml:2 wants v1.0\n`,
    });
  });

  it('refuses two packages of one name, and a package named like the project', async () => {
    writeFiles(join(scratch, 'fake-util'), { 'dbt_project.yml': 'name: acme_util\n' });
    const clash = project({ 'packages.yml': 'packages:\n  - package: acme/util\n    version: "1.0.0"\n  - local: ../fake-util\n' });
    expect(await smelter(clash, 'deps')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: packages.yml:4:5: two packages are named acme_util: hub acme/util (packages.yml:2) and local ../fake-util (packages.yml:4)\n',
    });
    writeFiles(join(scratch, 'fake-shop'), { 'dbt_project.yml': 'name: shop\n' });
    const self = project({ 'packages.yml': 'packages:\n  - local: ../fake-shop\n' });
    expect(await smelter(self, 'deps')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: packages.yml:2:5: local ../fake-shop is named shop, as this project is: a package needs a name of its own\n',
    });
  });
});

describe('smelter deps: package-lock.yml', () => {
  it('installs the locked versions while the lock matches packages.yml; --upgrade and an edit resolve again', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - package: acme/util\n    version: [">=1.0.0", "<2.0.0"]\n' });
    expect((await smelter(dir, 'deps')).code).toBe(0);
    const lock = read(join(dir, 'package-lock.yml'));
    expect(lock).toContain('    version: 1.2.0\n');

    publish('acme/util', '1.3.0', { 'dbt_project.yml': 'name: acme_util\n', 'macros/version.sql': '{% macro acme_util_version() %}1.3.0{% endmacro %}\n' });
    try {
      const locked = await smelter(dir, 'deps');
      expect(outLines(locked.stdout)).toEqual([
        'Installing the versions pinned in package-lock.yml (it matches packages.yml)',
        'Installed acme_util 1.2.0 (hub acme/util)',
        'Installed 1 package into dbt_packages/',
      ]);
      expect(versionIn(dir, 'acme_util')).toContain('1.2.0');
      expect(read(join(dir, 'package-lock.yml'))).toBe(lock);

      const upgraded = await smelter(dir, 'deps', '--upgrade');
      expect(outLines(upgraded.stdout)).toEqual(['Installed acme_util 1.3.0 (hub acme/util)', 'Installed 1 package into dbt_packages/; wrote package-lock.yml']);
      expect(versionIn(dir, 'acme_util')).toContain('1.3.0');
      expect(read(join(dir, 'package-lock.yml'))).toBe(lock.replace('version: 1.2.0', 'version: 1.3.0'));

      // A different list: the lock no longer matches, so versions are resolved again.
      writeFiles(dir, { 'packages.yml': 'packages:\n  - package: acme/util\n    version: [">=1.0.0", "<1.3.0"]\n' });
      const edited = await smelter(dir, 'deps');
      expect(outLines(edited.stdout)[0]).toBe('Installed acme_util 1.2.0 (hub acme/util)');
      expect(read(join(dir, 'package-lock.yml'))).toContain(`sha1_hash: ${readPackagesFile(dir)!.sha1Hash}\n`);
    } finally {
      delete hubPackages['acme/util']['1.3.0'];
    }
  });

  it('installs a locked git package at its commit, whatever the tag now names', async () => {
    const dir = project({ 'packages.yml': `packages:\n  - git: "${bare}"\n    revision: next\n` });
    expect((await smelter(dir, 'deps')).code).toBe(0);
    const work = join(scratch, 'git-work');
    git(work, 'checkout', '--quiet', 'next');
    writeFiles(work, { 'macros/version.sql': '{% macro git_utils_version() %}next-2{% endmacro %}\n' });
    git(work, 'commit', '--quiet', '-am', 'four');
    git(work, 'push', '--quiet', bare, 'next');
    git(work, 'checkout', '--quiet', 'main');
    const locked = await smelter(dir, 'deps');
    expect(outLines(locked.stdout)[1]).toBe(`Installed git_utils ${commits.three.slice(0, 12)} (git ${bare})`);
    expect(versionIn(dir, 'git_utils')).toBe('{% macro git_utils_version() %}next{% endmacro %}\n');
    const upgraded = await smelter(dir, 'deps', '--upgrade');
    expect(upgraded.code).toBe(0);
    expect(versionIn(dir, 'git_utils')).toBe('{% macro git_utils_version() %}next-2{% endmacro %}\n');
  });
});

describe('before a run: findMissingPackages', () => {
  it('names a missing install folder, then a package of package-lock.yml that is not installed', async () => {
    writeFiles(join(scratch, 'check-lib'), { 'dbt_project.yml': 'name: check_lib\n' });
    const dir = project({ 'packages.yml': 'packages:\n  - local: ../check-lib\n' });
    expect(findMissingPackages(dir)?.format()).toBe('packages.yml: a package is listed but dbt_packages/ is missing: run smelter deps');
    expect((await smelter(dir, 'deps')).code).toBe(0);
    expect(findMissingPackages(dir)).toBeUndefined();
    rmSync(join(dir, 'dbt_packages', 'check_lib'));
    expect(findMissingPackages(dir)?.format()).toBe('package-lock.yml:2:5: check_lib is in package-lock.yml but dbt_packages/check_lib is missing: run smelter deps');
    expect(findMissingPackages(project({}))).toBeUndefined();
    // A run need not have the environment deps had: env_var() is not read for the check.
    const templated = project({ 'packages.yml': "packages:\n  - git: \"{{ env_var('SMELTER_DEPS_UNSET') }}\"\n" });
    expect(findMissingPackages(templated)?.format()).toBe('packages.yml: a package is listed but dbt_packages/ is missing: run smelter deps');
  });

  it("installs into dbt_project.yml's packages-install-path", async () => {
    writeFiles(join(scratch, 'vendored'), { 'dbt_project.yml': 'name: vendored\n' });
    const dir = project({ 'dbt_project.yml': 'name: shop\npackages-install-path: vendor/pkgs\n', 'packages.yml': 'packages:\n  - local: ../vendored\n' });
    const result = await smelter(dir, 'deps');
    expect(outLines(result.stdout)).toEqual(['Installed vendored (local ../vendored)', 'Installed 1 package into vendor/pkgs/; wrote package-lock.yml']);
    expect(readlinkSync(join(dir, 'vendor', 'pkgs', 'vendored'))).toBe('../../../vendored');
    expect(read(join(dir, 'vendor', 'pkgs', 'vendored', 'dbt_project.yml'))).toBe('name: vendored\n');
    expect(findMissingPackages(dir)).toBeUndefined();
    expect(readdirSync(join(dir, 'vendor'))).toEqual(['pkgs']);
  });
});

describe('versions and ranges', () => {
  const pick = (available: string[], ranges: string[], prerelease = false) =>
    highestSatisfying(
      available.map((v) => parseVersion(v)!),
      ranges.map((r) => parseRange(r)!),
      prerelease,
    )?.text;
  it('orders prereleases before their release, numerically where numeric', () => {
    expect(['1.0.0', '1.0.0-rc.10', '1.0.0-rc.2', '1.0.0-b1', '0.9.9'].map((v) => parseVersion(v)!).sort(compareVersions).map((v) => v.text)).toEqual([
      '0.9.9',
      '1.0.0-b1',
      '1.0.0-rc.2',
      '1.0.0-rc.10',
      '1.0.0',
    ]);
  });
  it('takes the highest version inside every range; a prerelease only when allowed or named exactly', () => {
    const all = ['0.9.0', '1.0.0', '1.5.2', '2.0.0-b1', '2.0.0'];
    expect(pick(all, ['>=1.0.0', '<2.0.0'])).toBe('1.5.2');
    expect(pick(all, ['>1.5.2'])).toBe('2.0.0');
    expect(pick(all, ['<=1.0.0'])).toBe('1.0.0');
    expect(pick(all, ['<2.0.0'], true)).toBe('2.0.0-b1');
    expect(pick(all, ['<2.0.0'])).toBe('1.5.2');
    expect(pick(all, ['2.0.0-b1'])).toBe('2.0.0-b1');
    expect(pick(all, ['=0.9.0'])).toBe('0.9.0');
    expect(pick(all, ['>=3.0.0'])).toBeUndefined();
    expect(parseRange('~1.0')).toBeUndefined();
  });
});

describe('smelter deps: a malformed packages file (exit 2)', () => {
  const cases: [string, string, string][] = [
    ['an unknown key, with did-you-mean', `packages:\n  - git: "x"\n    revison: v1\n`, "error: packages.yml:3:5: unknown key 'revison' in a git package (did you mean revision?)"],
    ['an unknown top-level key', 'pakages: []\n', "error: packages.yml:1:1: unknown key 'pakages' (did you mean packages?)"],
    ['an entry with no source', 'packages:\n  - version: "1.0.0"\n', 'error: packages.yml:2:5: a package needs one of local:, git: or package:'],
    ['a hub package without a version', 'packages:\n  - package: acme/util\n', 'error: packages.yml:2:5: hub package acme/util needs a version: (a version like 1.4.1, a range like ">=1.0.0", or a list of ranges)'],
    ['a version that is not one', 'packages:\n  - package: acme/util\n    version: "~1.0"\n', `error: packages.yml:3:5: '~1.0' is not a version or range (write 1.4.1, ">=1.0.0" or "<2.0.0")`],
    ['an unquoted number as a version', 'packages:\n  - package: acme/util\n    version: 1.0\n', 'error: packages.yml:3:5: version must be a string or a list of strings, got 1 (quote it: "1")'],
    ['a tarball package', 'packages:\n  - tarball: https://example.com/x.tgz\n    name: x\n', 'error: packages.yml:2:5: tarball packages are not supported by smelter deps (use a hub package, git or local)'],
    ['a missing local path', 'packages:\n  - local: ../nowhere\n', 'error: packages.yml:2:5: local package ../nowhere is not a folder (a local: path is relative to the root project folder, wherever it is written)'],
    ['a template other than env_var()', 'packages:\n  - git: "{{ var(\'url\') }}"\n', "error: packages.yml:2:5: only {{ env_var('NAME') }} and {{ env_var('NAME', 'default') }} may appear in packages.yml"],
  ];
  it.each(cases)('%s', async (_what, packagesYml, stderr) => {
    const dir = project({ 'packages.yml': packagesYml });
    expect(await smelter(dir, 'deps')).toEqual({ code: 2, stdout: '', stderr: `${stderr}\n` });
    expect(existsSync(join(dir, 'dbt_packages'))).toBe(false);
  });

  it('refuses packages listed in both packages.yml and dependencies.yml', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - local: ../a\n', 'dependencies.yml': '# the newer name\npackages:\n  - local: ../b\n' });
    expect(await smelter(dir, 'deps')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: dependencies.yml:2:1: packages are listed in both packages.yml and dependencies.yml: keep one list\n',
    });
  });

  it('clones a relative git path from the project folder', async () => {
    const dir = project({ 'packages.yml': 'packages:\n  - git: ../git-utils.git\n    revision: v1.0\n' });
    const result = await smelter(dir, 'deps');
    expect(outLines(result.stdout)[0]).toBe(`Installed git_utils v1.0 (git ../git-utils.git, commit ${commits.one.slice(0, 12)})`);
  });

  it('renders env_var() in packages.yml and keeps the call, not the value, in the lock', async () => {
    process.env.SMELTER_DEPS_TEST_REPO = bare;
    try {
      const dir = project({ 'packages.yml': "packages:\n  - git: \"{{ env_var('SMELTER_DEPS_TEST_REPO') }}\"\n    revision: v1.0\n" });
      const result = await smelter(dir, 'deps');
      expect(outLines(result.stdout)[0]).toBe(`Installed git_utils v1.0 (git ${bare}, commit ${commits.one.slice(0, 12)})`);
      expect(read(join(dir, 'package-lock.yml'))).toContain("    git: \"{{ env_var('SMELTER_DEPS_TEST_REPO') }}\"\n");
    } finally {
      delete process.env.SMELTER_DEPS_TEST_REPO;
    }
  });
});
