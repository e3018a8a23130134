import { main } from '../../adapters/cli/main.js';

/**
 * `smelter ...args --project-dir dir` run in this process (the CLI's own `main`, its output
 * captured): the same code path and messages as the binary, without a process start per call.
 */
export async function smelterInProcess(dir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--project-dir', dir], { out: (l) => out.push(l), err: (l) => err.push(l), status: () => {}, tty: false });
  return { code, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
}
