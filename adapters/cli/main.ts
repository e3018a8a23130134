import { SmelterError } from '../../runtime/errors.js';
import { parseArgs, helpText, type CliArgs } from './args.js';
import { printError } from './print-error.js';
import { processOutput, type Output } from './reporter.js';

const VERSION = '0.1.0';

/** The `smelter` command: argv in, exit code out. Parsing and printing only. */
// The AWS SDK warns on Node 20 that its releases after January 2027 will need Node 22. smelter pins
// its SDK version, so the warning says nothing to a user, yet it would print on every run that
// keeps state in DynamoDB. A user who sets the variable keeps their choice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export async function main(argv: readonly string[], output: Output = processOutput): Promise<number> {
  let args: CliArgs | undefined;
  try {
    args = parseArgs(argv);
    if (args.version) {
      output.out(`smelter ${VERSION}`);
      return 0;
    }
    if (args.help) {
      output.out(helpText());
      return 0;
    }
    if (args.command === undefined) {
      output.err(helpText());
      return 2;
    }
    // The commands load only now: --help, --version and usage errors answer without the runtime.
    const { runCommand } = await import('./commands.js');
    return await runCommand(args, output);
  } catch (error) {
    return reportError(error, output, args);
  }
}

function reportError(error: unknown, output: Output, args?: CliArgs): number {
  if (error instanceof SmelterError) {
    printError(error, output, args);
    return error.exitCode;
  }
  // Not a user error: a bug in smelter. Show what we know; the stack only with --debug.
  const e = error as Error;
  output.err(`internal error: ${e?.message ?? String(error)}`);
  if (args?.debug && e?.stack) output.err(e.stack);
  else output.err('run again with --debug for a stack trace');
  return 1;
}
