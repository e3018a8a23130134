import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageInstallError } from './install-error.js';
import type { HubPackageSpec } from './package-spec.js';
import { isRecord } from './packages-file.js';
import { parseVersion, type Version } from './semver.js';
import { extractTarball } from './tarball.js';

export const DEFAULT_HUB_URL = 'https://hub.getdbt.com/';

/** One release of a package as the hub describes it. */
interface HubRelease {
  readonly version: Version;
  readonly tarball: string;
  /** The tarball's SHA-1 when the hub gives one: a download that differs is refused. */
  readonly sha1?: string;
}

/**
 * The dbt Package Hub's JSON API: `<hub>/api/v1/<org>/<package>.json` holds `versions`, a map
 * from each version to its release, whose `downloads.tarball` is the archive's URL.
 * `DBT_PACKAGE_HUB_URL` points at another hub, as it does for dbt.
 */
export class HubClient {
  private readonly baseUrl: string;
  private readonly releases = new Map<string, Promise<HubRelease[]>>();

  constructor(env: NodeJS.ProcessEnv = process.env) {
    const url = env.DBT_PACKAGE_HUB_URL || DEFAULT_HUB_URL;
    this.baseUrl = url.endsWith('/') ? url : `${url}/`;
  }

  /** Every release of the package the hub lists (read once per run). */
  releasesOf(spec: HubPackageSpec): Promise<HubRelease[]> {
    let found = this.releases.get(spec.package);
    if (!found) {
      found = this.readIndex(spec);
      this.releases.set(spec.package, found);
    }
    return found;
  }

  private async readIndex(spec: HubPackageSpec): Promise<HubRelease[]> {
    const url = `${this.baseUrl}api/v1/${spec.package}.json`;
    const response = await get(url, spec);
    if (response.status === 404) {
      throw new PackageInstallError(`${spec.package} is not on the package hub (${url}: not found)`, { location: spec.keyLocations.package ?? spec.location });
    }
    if (!response.ok) throw new PackageInstallError(`the package hub answered ${response.status} for ${url}`, { location: spec.location });
    let index: unknown;
    try {
      index = await response.json();
    } catch {
      throw new PackageInstallError(`the package hub's answer for ${spec.package} is not JSON (${url})`, { location: spec.location });
    }
    const versions = isRecord(index) && isRecord(index.versions) ? index.versions : undefined;
    if (versions === undefined) throw new PackageInstallError(`the package hub's answer for ${spec.package} has no versions (${url})`, { location: spec.location });
    const releases: HubRelease[] = [];
    for (const [text, release] of Object.entries(versions)) {
      const version = parseVersion(text);
      const downloads = isRecord(release) && isRecord(release.downloads) ? release.downloads : undefined;
      if (version === undefined || typeof downloads?.tarball !== 'string') continue;
      releases.push({ version, tarball: new URL(downloads.tarball, url).href, sha1: typeof downloads.sha1 === 'string' ? downloads.sha1 : undefined });
    }
    return releases;
  }

  /** Download and unpack one release under `workDir`; returns the package's root folder. */
  async download(spec: HubPackageSpec, release: HubRelease, workDir: string): Promise<string> {
    const response = await get(release.tarball, spec);
    if (!response.ok) {
      throw new PackageInstallError(`downloading ${spec.package} ${release.version.text} failed: ${response.status} from ${release.tarball}`, { location: spec.location });
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    const sha1 = createHash('sha1').update(bytes).digest('hex');
    if (release.sha1 !== undefined && release.sha1.toLowerCase() !== sha1) {
      throw new PackageInstallError(`the tarball of ${spec.package} ${release.version.text} is not the one the hub lists (SHA-1 ${sha1}, expected ${release.sha1})`, {
        location: spec.location,
      });
    }
    const archive = join(mkdtempSync(join(workDir, 'hub-')), 'package.tar.gz');
    writeFileSync(archive, bytes);
    const extracted = await extractTarball(archive, workDir);
    if ('problem' in extracted) {
      throw new PackageInstallError(`the tarball of ${spec.package} ${release.version.text} ${extracted.problem}`, { location: spec.location });
    }
    return extracted.root;
  }
}

async function get(url: string, spec: HubPackageSpec): Promise<Response> {
  try {
    return await fetch(url, { redirect: 'follow' });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    throw new PackageInstallError(`could not reach the package hub for ${spec.package}: ${url}: ${cause}`, { location: spec.location });
  }
}

export type { HubRelease };
