#!/usr/bin/env node
// The published entry: runs the compiled CLI so start-up never pays for TypeScript.
import { main } from '../dist/adapters/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
