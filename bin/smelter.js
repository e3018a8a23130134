#!/usr/bin/env node
// The published entry: runs the bundled CLI (dist/cli, made by scripts/build-cli.ts at `npm run
// build`), so start-up pays neither for TypeScript nor for resolving each module's file.
import { main } from '../dist/cli/smelter.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
