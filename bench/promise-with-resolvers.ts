/**
 * aws-local-stepfunctions uses Node 22's Promise.withResolvers (ENVIRONMENT.md); on Node 20 it is
 * defined here, before that module loads. Tests and benchmarks only: the runtime does not need it.
 */
const P = Promise as unknown as { withResolvers?: () => unknown };
P.withResolvers ??= () => {
  let resolve!: (value: unknown) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};
