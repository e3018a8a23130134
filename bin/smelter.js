#!/usr/bin/env node
// The published entry: runs the compiled CLI so start-up never pays for TypeScript.
import { main } from '../dist/adapters/cli/main.js';

// A reader that stops early (`smelter ls | head -1`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
