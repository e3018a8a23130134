import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    // Most suites wait on DuckDB, child processes and local servers rather than on the CPU: two
    // files at once on a 2-core machine (vitest's default there is one).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The AWS SDK warns on Node 20 that releases after January 2027 need Node 22; the SDK is pinned,
    // so the warning says nothing here (the CLI turns it off the same way).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
