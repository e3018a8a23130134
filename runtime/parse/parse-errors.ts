import { CompileError, ProjectError, SmelterError } from '../errors.js';
import type { Diagnostic } from '../manifest/types.js';
import { TemplateLocatedError } from '../template/strict-compiler.js';
import type { ScanResult } from './jinja-scan.js';

/** Every error and warning of a parse, in the order found: parse collects all it can, never stops at the first. */
export class ParseDiagnostics {
  /** The manifest's `diagnostics`: the same array, so what is found after the manifest is built is in it too. */
  readonly list: Diagnostic[] = [];

  /** A SmelterError is collected; anything else is a bug, and is thrown. */
  readonly report = (error: unknown): void => {
    if (!(error instanceof SmelterError)) throw error;
    this.list.push(toDiagnostic(error));
  };

  /** What dbt warns about and goes on: the parse does too. */
  readonly warn = (warning: SmelterError): void => {
    this.list.push(toDiagnostic(warning, 'warning'));
  };

  hasErrors(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }
}

/** Template errors found during parse become errors of the node, located in its file. */
export function locateNodeError(error: unknown, uniqueId: string | undefined, path: string): unknown {
  if (error instanceof TemplateLocatedError) {
    return new CompileError(error.message, {
      code: 'template',
      location: { file: error.templateFile || path, line: error.line, column: error.column },
      hint: error.hint,
      node: uniqueId,
      cause: error,
    });
  }
  return error;
}

export function toDiagnostic(error: SmelterError, severity: 'error' | 'warning' = 'error'): Diagnostic {
  return {
    severity,
    code: error.code,
    message: error.message,
    file: error.location?.file,
    line: error.location?.line,
    column: error.location?.column,
    hint: error.hint,
    node: error.node,
  };
}

/**
 * A `{% snapshot %}` block outside the snapshot folder: dbt reads snapshots only from
 * snapshot-paths, so one here would never run. One error at the block, never a silent skip.
 */
export function rejectSnapshot(path: string, scan: ScanResult): void {
  if (scan.snapshot === undefined) return;
  throw new ProjectError(`a {% snapshot ${scan.snapshot.name} %} block belongs in a snapshot folder, not here`, {
    code: 'project',
    location: { file: path, line: scan.snapshot.line, column: scan.snapshot.column },
    hint: 'move it to snapshots/ (snapshot-paths in dbt_project.yml)',
  });
}
