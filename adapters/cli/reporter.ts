import type { NodeResult, RunEvent, RunResult } from '../../runtime/index.js';

/** Where the CLI writes; injectable so tests can capture. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
  /** Replace the live progress line (a terminal only): `''` clears it. */
  status(text: string): void;
  /** Set when stderr is a terminal: the live progress line is shown there. */
  readonly tty: boolean;
}

/**
 * A reader that stops early (`smelter ls | head -1`, a closed terminal) is not an error of ours:
 * the command goes on to its real end and exit code, and output to the closed stream is dropped.
 */
const closed = { stdout: false, stderr: false };
for (const name of ['stdout', 'stderr'] as const) {
  process[name].on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed[name] = true;
  });
}

/** A terminal that reports no size (0, as under `script`) gets a conventional width. */
const terminalWidth = () => (process.stderr.columns && process.stderr.columns > 20 ? process.stderr.columns : 120);

export const processOutput: Output = {
  out: (line) => void (closed.stdout || process.stdout.write(`${line}\n`)),
  err: (line) => void (closed.stderr || process.stderr.write(`${line}\n`)),
  status: (text) => void (closed.stderr || process.stderr.write(`\r\x1b[K${text.slice(0, terminalWidth() - 1)}`)),
  tty: Boolean(process.stderr.isTTY),
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const STATUS_WORD: Record<NodeResult['status'], string> = { success: 'OK', error: 'ERROR', skipped: 'SKIP', pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** `3 of 7 OK table gold.fact ... [1,250 rows in 0.42s]`; a test: `2 of 5 FAIL 3 unique_dim_x_id ... [FAIL 3 in 0.01s]` */
export function formatNodeLine(result: NodeResult, index: number, total: number): string {
  if (result.resource_type === 'test' || result.resource_type === 'unit_test') return formatTestLine(result, index, total);
  const head = `${index} of ${total} ${STATUS_WORD[result.status]} ${result.kind} ${result.relation}`;
  const dots = ' '.padEnd(Math.max(1, 60 - head.length), '.');
  const time = `${result.seconds.toFixed(2)}s`;
  let tail: string;
  if (result.status === 'skipped') tail = '[SKIP]';
  else if (result.status === 'error') tail = `[ERROR in ${time}]`;
  else if (result.rows !== undefined) tail = `[${groupThousands(result.rows)} ${result.rows === 1 ? 'row' : 'rows'} in ${time}]`;
  else tail = `[OK in ${time}]`;
  return `${head}${dots} ${tail}`;
}

function formatTestLine(result: NodeResult, index: number, total: number): string {
  const counted = result.status === 'fail' || result.status === 'warn' ? ` ${groupThousands(result.failures ?? 0)}` : '';
  const head = `${index} of ${total} ${STATUS_WORD[result.status]}${counted} ${result.name}`;
  const dots = ' '.padEnd(Math.max(1, 60 - head.length), '.');
  const tail = result.status === 'skipped' ? '[SKIP]' : `[${STATUS_WORD[result.status]}${counted} in ${result.seconds.toFixed(2)}s]`;
  return `${head}${dots} ${tail}`;
}

/** Counts and failures after a run. */
export function formatSummary(run: RunResult, what: string): string[] {
  const count = (s: NodeResult['status']) => run.results.filter((r) => r.status === s).length;
  const isTest = (r: NodeResult) => r.resource_type === 'test' || r.resource_type === 'unit_test';
  const tested = run.results.some(isTest);
  const built = run.results.some((r) => !isTest(r));
  const counts = [
    ...(built || !tested ? [`${count('success')} OK`] : []),
    ...(tested ? [`${count('pass')} PASS`, `${count('warn')} WARN`, `${count('fail')} FAIL`] : []),
    `${count('error')} ERROR`,
    `${count('skipped')} SKIP`,
  ];
  const lines = [
    `Finished ${run.results.length} ${what}${run.results.length === 1 ? '' : 's'} in ${run.elapsed_seconds.toFixed(2)}s: ${counts.join(', ')}${run.interrupted ? ' (interrupted)' : ''}`,
  ];
  if (run.error) lines.push(`  error: ${run.error.format()}`);
  for (const r of run.results) if (r.status === 'error' || r.status === 'fail' || r.status === 'warn') lines.push(`  ${r.status === 'warn' ? 'warning: ' : ''}${r.name}: ${r.message ?? 'failed'}`);
  return lines;
}

export interface JsonLogLine {
  ts: string;
  level: 'info' | 'warn' | 'error';
  event: string;
  node?: string;
  status?: string;
  seconds?: number;
  rows?: number | null;
  message?: string;
}

export function jsonLine(line: Omit<JsonLogLine, 'ts'>): string {
  return JSON.stringify({ ts: new Date().toISOString(), ...line });
}

/** Turns run events into text lines (with a live progress line on a terminal) or JSON lines. */
export function createRunReporter(output: Output, format: 'text' | 'json', what: string): (event: RunEvent) => void {
  let progressShown = false;
  let total = 0;
  let done = 0;
  const showProgress = (running: readonly string[]) => {
    if (!output.tty || format !== 'text' || running.length === 0) return;
    const names = running.map((id) => id.split('.').pop()).join(', ');
    output.status(`[${done}/${total}] running: ${names}`);
    progressShown = true;
  };
  return (event) => {
    if (format === 'json') {
      switch (event.type) {
        case 'run_start':
          output.out(jsonLine({ level: 'info', event: 'run_start', message: `${plural(event.total, what)}, ${plural(event.threads, 'thread')}` }));
          break;
        case 'node_start':
          output.out(jsonLine({ level: 'info', event: 'node_start', node: event.unique_id }));
          break;
        case 'node_finish': {
          const r = event.result;
          output.out(
            jsonLine({
              level: r.status === 'error' || r.status === 'fail' ? 'error' : r.status === 'warn' ? 'warn' : 'info',
              event: 'node_finish',
              node: r.unique_id,
              status: r.status,
              seconds: Number(r.seconds.toFixed(3)),
              rows: r.rows ?? null,
              message: r.message,
            }),
          );
          break;
        }
        case 'hook_finish':
          output.out(jsonLine({ level: event.status === 'error' ? 'error' : 'info', event: 'hook', node: event.hook, status: event.status, seconds: Number(event.seconds.toFixed(3)), message: event.message }));
          break;
        case 'run_finish': {
          const ok = event.result.results.filter((r) => r.status === 'success' || r.status === 'pass').length;
          output.out(
            jsonLine({
              level: event.result.results.some((r) => r.status === 'error' || r.status === 'fail') || event.result.error ? 'error' : 'info',
              event: 'run_finish',
              status: event.result.interrupted ? 'interrupted' : 'done',
              seconds: Number(event.result.elapsed_seconds.toFixed(3)),
              message: `${ok} of ${event.result.results.length} OK`,
            }),
          );
          break;
        }
      }
      return;
    }
    switch (event.type) {
      case 'run_start':
        total = event.total;
        if (event.total === 0) {
          output.out(`Nothing to do: no ${what}s selected`);
          break;
        }
        output.out(`Running ${plural(event.total, what)} with ${plural(event.threads, 'thread')}`);
        break;
      case 'node_start':
        showProgress(event.running);
        break;
      case 'node_finish':
        done = event.index;
        if (progressShown) output.status('');
        progressShown = false;
        output.out(formatNodeLine(event.result, event.index, event.total));
        showProgress(event.running);
        break;
      case 'hook_finish':
        output.out(`${event.status === 'success' ? 'OK' : 'ERROR'} hook ${event.hook} [${event.seconds.toFixed(2)}s]`);
        break;
      case 'run_finish':
        if (progressShown) output.status('');
        progressShown = false;
        if (event.result.results.length === 0 && !event.result.error) break;
        for (const line of formatSummary(event.result, what)) output.out(line);
        break;
    }
  };
}

/** 1234567 → "1,234,567". Not toLocaleString: its first call loads ICU's locale data (~15 ms). */
export function groupThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
