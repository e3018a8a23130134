import { execFile } from 'node:child_process';

export interface CommandFailure {
  readonly ok: false;
  /** The command's stderr (or the spawn error), first lines only: it is quoted in messages. */
  readonly message: string;
}

/**
 * Run a program without a shell (arguments are never interpreted), asynchronously so a hub served
 * by the same process keeps answering. Never prompts: git asks for no credentials.
 */
export function runCommand(program: string, args: readonly string[], cwd?: string): Promise<{ readonly ok: true; readonly stdout: string } | CommandFailure> {
  return new Promise((resolvePromise) => {
    execFile(
      program,
      [...args],
      { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'echo', LC_ALL: 'C' }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const text = String(stderr).trim() || error.message;
          resolvePromise({ ok: false, message: text.split('\n').slice(0, 3).join(' ') });
        } else {
          resolvePromise({ ok: true, stdout: String(stdout) });
        }
      },
    );
  });
}
