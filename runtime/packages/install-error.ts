import { SmelterError, type ErrorCode, type SmelterErrorOptions } from '../errors.js';

/**
 * A package that could not be fetched or installed (a git revision that does not exist, no hub
 * version in range, a package without dbt_project.yml, two packages of one name). Exit code 1, as
 * for a failed node: the packages file is well formed, what it asks for could not be had. A
 * malformed packages file is a ProjectError (exit 2).
 */
export class PackageInstallError extends SmelterError {
  readonly code: ErrorCode = 'project';
  readonly exitCode = 1;
  constructor(message: string, options: SmelterErrorOptions = {}) {
    super(message, options);
    this.name = 'PackageInstallError';
  }
}
