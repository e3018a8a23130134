import { ExecutionError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import type { DatabaseAnswers, QueryTable } from '../render/query-table.js';
import { setLogSink } from '../template/jinja-compat.js';
import { TemplateUserError } from '../template/strict-compiler.js';
import { databaseMessage } from './node-results.js';

/** Renders of one node that keep asking new queries stop here: a loop that never settles is an error. */
export const MAX_RENDER_PASSES = 500;

/** Thrown through the template when a query has no answer yet; the render is then discarded. */
class AwaitingQuery extends Error {
  constructor(readonly sql: string) {
    super('the render waits for a query');
  }
}

type Answer = { readonly ok: true; readonly table: QueryTable } | { readonly ok: false; readonly message: string };

/**
 * The database bridge of one node's render: dbt's `run_query`, `statement` and adapter methods on
 * a synchronous template engine. A render pass that reaches a query without an answer records it
 * and stops; `render` runs that query on the node's connection and renders again, until a pass asks
 * nothing new. Answers are kept by SQL text for the node's whole render, so each distinct query runs
 * once per node however many passes there are — a DDL or DML statement included (the same text
 * twice in one node runs once). A refused query is an answer too: the pass that reaches it again
 * throws DuckDB's message from the template call, which names the file and line.
 * A node whose templates ask nothing renders once, as without the bridge.
 */
export class DatabaseAccess implements DatabaseAnswers {
  private readonly answers = new Map<string, Answer>();
  private pending: string | undefined;
  /** Statements run, in order (for the node's run file). */
  readonly executed: string[] = [];

  /** `connect` gives the connection on first use (compile opens the database only if a render asks). */
  constructor(private readonly connect: () => Promise<EngineConnection>) {}

  answer(sql: string): QueryTable {
    const known = this.answers.get(sql);
    if (known === undefined) {
      this.pending = sql;
      throw new AwaitingQuery(sql);
    }
    if (!known.ok) throw new TemplateUserError(`the query failed: ${known.message}`);
    return known.table;
  }

  /**
   * `render()` with every query it asks answered; `what` names the node in the loop's error. What a
   * render logs (`log`, `print`, `exceptions.warn`) is printed once, from the render that finished:
   * a render stopped at an unanswered query is done again, and would print its lines again.
   */
  async render<T>(what: string, render: () => T, signal?: AbortSignal): Promise<T> {
    for (let pass = 1; ; pass++) {
      this.pending = undefined;
      try {
        return logOnceDone(render, () => this.pending !== undefined);
      } catch (error) {
        const sql = this.pending;
        if (sql === undefined) throw error;
        if (pass >= MAX_RENDER_PASSES) {
          throw new ExecutionError(`${what} asked the database a new query in each of ${MAX_RENDER_PASSES} renders; its queries never settle`, {
            hint: 'a query whose text changes with each answer (a timestamp, a random value) cannot be answered; build its text from stable values',
          });
        }
        if (signal?.aborted) throw error;
        await this.run(sql);
      }
    }
  }

  private async run(sql: string): Promise<void> {
    const connection = await this.connect();
    this.executed.push(sql);
    try {
      this.answers.set(sql, { ok: true, table: await connection.queryTable(sql) });
    } catch (error) {
      this.answers.set(sql, { ok: false, message: databaseMessage(error) });
    }
  }
}

/**
 * Run a synchronous render with its log lines held, then print them unless `redone()` says the
 * render will run again. Safe with renders of other nodes in flight: nothing else runs while a
 * synchronous render does.
 */
function logOnceDone<T>(render: () => T, redone: () => boolean): T {
  const lines: string[] = [];
  const sink = setLogSink((line) => lines.push(line));
  try {
    return render();
  } finally {
    setLogSink(sink);
    if (!redone()) for (const line of lines) sink(line);
  }
}

/** A bridge on one connection already held (a node's, a hook's). */
export function databaseOn(connection: EngineConnection): DatabaseAccess {
  return new DatabaseAccess(async () => connection);
}
