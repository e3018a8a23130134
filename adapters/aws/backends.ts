import { ProjectError, type Backends, type FileReader, type OpenStateStore, type Storage, type TargetConfig } from '../../runtime/index.js';
import type { S3Access } from '../s3/index.js';

/**
 * The AWS backends, as the composition roots (the CLI, the Lambda handler) hand them to the
 * runtime: S3 storage and source files, DynamoDB state. The SDK modules are imported only when a
 * target asks for them, so a local project never loads the AWS SDK.
 *
 * Clients are configured from the process environment, as the SDK reads it (AWS_REGION,
 * AWS_ENDPOINT_URL_S3, credentials; SMELTER_CACHE_DIR). One S3 client and one object cache serve the process (kept across warm Lambda invocations, and
 * across runs of a Session), per cache folder and budget.
 */
export const awsBackends: Backends = {
  async storage(root, target): Promise<Storage> {
    if (!root.startsWith('s3://')) throw unsupported(root, target);
    return (await s3For(target)).storage(root);
  },
  async fileReaders(target): Promise<readonly FileReader[]> {
    return [(await s3For(target)).reader];
  },
  async stateStore(target): Promise<OpenStateStore> {
    const { DynamoDbStateStore } = await import('../dynamodb/dynamodb-state-store.js');
    return DynamoDbStateStore.open({ table: target.state.table!, leaseSeconds: target.state.lease_seconds, target: target.name });
  },
};

/** The object cache's budget when the target sets no `cache_max_bytes`: what a 4 GB /tmp comfortably holds beside DuckDB's spill. */
export const DEFAULT_CACHE_MAX_BYTES = 2 * 1024 ** 3;

const opened = new Map<string, Promise<S3Access>>();

function s3For(target: TargetConfig): Promise<S3Access> {
  const env = process.env;
  const cacheMaxBytes = target.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  const key = JSON.stringify([env.SMELTER_CACHE_DIR ?? '', cacheMaxBytes, env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? '', env.AWS_REGION ?? '']);
  let access = opened.get(key);
  if (!access) {
    access = import('../s3/index.js').then(({ openS3 }) => openS3({ env, cacheMaxBytes }));
    opened.set(key, access);
  }
  return access;
}

function unsupported(root: string, target: TargetConfig): ProjectError {
  return new ProjectError(`storage ${root} of target ${target.name}: only local folders and s3:// are supported`, { code: 'config', location: { file: 'project.yml' } });
}
