import type { TargetConfig } from './project/project-config.js';
import type { StateStore } from './state/state-store.js';
import type { FileReader } from './storage/file-reader.js';
import type { Storage } from './storage/storage.js';

/**
 * The edges a target may need beyond the local ones, handed to the runtime by the composition
 * roots (the CLI, the Lambda handler) so that the runtime never imports a cloud SDK: storage in S3,
 * state in DynamoDB, source files in S3 (adapters/). A target that needs a backend nobody handed in
 * is a ProjectError naming it. Backends configure their clients from the process environment (as
 * the AWS SDK does), not from the environment a session gives `env_var()`.
 */
export interface Backends {
  /** Storage for a `storage:` root that is not a local folder (`s3://bucket/prefix`). */
  storage?(root: string, target: TargetConfig): Promise<Storage>;
  /** The state store of a backend other than `local` (`dynamodb`). */
  stateStore?(target: TargetConfig): Promise<OpenStateStore>;
  /** Readers of source files at addresses other than local paths (`s3://...`). */
  fileReaders?(target: TargetConfig): Promise<readonly FileReader[]>;
}

/** A state store an invocation opened, and closes. */
export type OpenStateStore = StateStore & { close(): void };

/** `s3://...` and other URIs, as opposed to local paths. */
export function isRemoteAddress(address: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(address);
}
