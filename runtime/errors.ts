import { capBytes } from './util/bounded-text.js';

/**
 * Typed errors. Every error a user can cause is a SmelterError: it carries a stable code, the exit
 * code of SPEC §8, and where it happened (file:line:col) when there is a place to point at.
 */

export interface SourceLocation {
  /** Path relative to the project directory. */
  readonly file: string;
  /** 1-based. */
  readonly line?: number;
  /** 1-based. */
  readonly column?: number;
}

export type ErrorCode =
  | 'project'
  | 'yaml'
  | 'config'
  | 'compile'
  | 'template'
  | 'ref'
  | 'cycle'
  | 'duplicate'
  | 'selector'
  | 'vars'
  | 'usage'
  | 'execution'
  | 'locked'
  | 'state'
  | 'audit'
  | 'storage'
  | 'interrupted';

export interface SmelterErrorOptions {
  readonly location?: SourceLocation;
  readonly hint?: string;
  /** unique_id of the node the error belongs to. */
  readonly node?: string;
  readonly cause?: unknown;
}

export abstract class SmelterError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly exitCode: number;
  readonly location?: SourceLocation;
  readonly hint?: string;
  readonly node?: string;

  constructor(message: string, options: SmelterErrorOptions = {}) {
    // Bounded here, once for every error: a message may quote input of any size (SPEC §10).
    super(capBytes(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.location = options.location;
    this.hint = options.hint;
    this.node = options.node;
  }

  /** One line (plus hint) as a user sees it: `models/a.sql:3:7: message (did you mean b?)`; bounded. */
  format(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    const hint = this.hint ? ` (${this.hint})` : '';
    return capBytes(`${where}${this.message}${hint}`);
  }
}

export function formatLocation(loc: SourceLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) s += `:${loc.column}`;
  return s;
}

/** Invalid project files, configuration or vars: the project cannot be loaded or parsed. */
export class ProjectError extends SmelterError {
  readonly code: ErrorCode;
  readonly exitCode = 2;
  constructor(message: string, options: SmelterErrorOptions & { code?: ErrorCode } = {}) {
    super(message, options);
    this.name = 'ProjectError';
    this.code = options.code ?? 'project';
  }
}

/** A template that cannot be rendered (undefined names, bad calls, syntax). */
export class CompileError extends SmelterError {
  readonly code: ErrorCode;
  readonly exitCode = 2;
  constructor(message: string, options: SmelterErrorOptions & { code?: ErrorCode } = {}) {
    super(message, options);
    this.name = 'CompileError';
    this.code = options.code ?? 'compile';
  }
}

/** Bad command-line usage or a malformed selector. */
export class UsageError extends SmelterError {
  readonly code: ErrorCode;
  readonly exitCode = 2;
  constructor(message: string, options: SmelterErrorOptions & { code?: ErrorCode } = {}) {
    super(message, options);
    this.name = 'UsageError';
    this.code = options.code ?? 'usage';
  }
}

/** A statement failed in the database while building a node. */
export class ExecutionError extends SmelterError {
  readonly code = 'execution' as const;
  readonly exitCode = 1;
  constructor(message: string, options: SmelterErrorOptions = {}) {
    super(message, options);
    this.name = 'ExecutionError';
  }
}

/** `build`: a model's tests failed on its new contents, so it was not published (its data and state are as before). */
export class AuditError extends SmelterError {
  readonly code = 'audit' as const;
  readonly exitCode = 1;
  constructor(message: string, options: SmelterErrorOptions = {}) {
    super(message, options);
    this.name = 'AuditError';
  }
}

/**
 * State could not be read or published (a stale writer, a store fault). `transient` faults
 * (throttling, 5xx, dropped connections) may pass on a retry, as StorageError's. Nothing was committed.
 */
export class StateError extends SmelterError {
  readonly code = 'state' as const;
  readonly exitCode = 1;
  readonly transient: boolean;
  constructor(message: string, options: SmelterErrorOptions & { transient?: boolean } = {}) {
    super(message, options);
    this.name = 'StateError';
    this.transient = options.transient ?? false;
  }
}

/**
 * Object storage (S3) failed after the SDK's own retries, or a stored file is not what its commit
 * recorded. `transient` faults (throttling, 5xx, dropped connections) may succeed on a retry; the
 * Lambda adapter reports them as `Transient`. Nothing was committed.
 */
export class StorageError extends SmelterError {
  readonly code = 'storage' as const;
  readonly exitCode = 1;
  readonly transient: boolean;
  constructor(message: string, options: SmelterErrorOptions & { transient?: boolean } = {}) {
    super(message, options);
    this.name = 'StorageError';
    this.transient = options.transient ?? false;
  }
}

/** The target database is held by another process. */
export class LockedError extends SmelterError {
  readonly code = 'locked' as const;
  readonly exitCode = 3;
  constructor(message: string, options: SmelterErrorOptions = {}) {
    super(message, options);
    this.name = 'LockedError';
  }
}

/** The run was interrupted (Ctrl-C, a deadline). */
export class InterruptedError extends SmelterError {
  readonly code = 'interrupted' as const;
  readonly exitCode = 130;
  constructor(message = 'interrupted', options: SmelterErrorOptions = {}) {
    super(message, options);
    this.name = 'InterruptedError';
  }
}

/** Several errors found in one pass (parse collects diagnostics rather than stopping at the first). */
export class DiagnosticsError extends SmelterError {
  readonly code: ErrorCode;
  readonly exitCode = 2;
  readonly errors: readonly SmelterError[];
  constructor(errors: readonly SmelterError[]) {
    super(errors.map((e) => e.format()).join('\n'));
    this.name = errors[0]?.name ?? 'ProjectError';
    this.code = errors[0]?.code ?? 'project';
    this.errors = errors;
  }
  override format(): string {
    return capBytes(this.errors.map((e) => e.format()).join('\n'));
  }
}

/** Rebuild an error from a parse diagnostic (the Manifest keeps them as plain data). */
export function errorFromDiagnostic(d: {
  code: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  hint?: string;
  node?: string;
}): SmelterError {
  const options = {
    code: d.code as ErrorCode,
    location: d.file === undefined ? undefined : { file: d.file, line: d.line, column: d.column },
    hint: d.hint,
    node: d.node,
  };
  return ['template', 'ref', 'compile'].includes(d.code) ? new CompileError(d.message, options) : new ProjectError(d.message, options);
}
