import type { SmelterError } from '../../runtime/errors.js';
import type { CliArgs } from './args.js';
import { jsonLine, type Output } from './reporter.js';

/** One user error, as text lines on stderr or one JSON line. */
export function printError(error: SmelterError, output: Output, args?: CliArgs): void {
  if (args?.logFormat === 'json') {
    output.out(jsonLine({ level: 'error', event: 'error', node: error.node, message: error.format() }));
  } else {
    for (const line of error.format().split('\n')) output.err(`error: ${line}`);
  }
  if (args?.debug && error.stack) output.err(error.stack);
}
