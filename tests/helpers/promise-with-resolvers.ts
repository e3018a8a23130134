// Promise.withResolvers on Node 20, for aws-local-stepfunctions: shared with the benchmarks (built with them into dist/bench/).
import '../../bench/promise-with-resolvers.js';
