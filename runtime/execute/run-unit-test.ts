import { CompileError, ExecutionError, InterruptedError, SmelterError } from '../errors.js';
import type { Engine, EngineConnection, Row } from '../engine/engine.js';
import type { ModelNode, SeedNode, SourceNode, UnitTestNode } from '../manifest/types.js';
import { quoteIdentifier as q, quoteLiteral, renderRelation } from '../render/relation.js';
import { renderModel, renderSource, type RenderEnvironment } from '../render/render-model.js';
import type { NodeResult } from './results.js';

/**
 * One unit test (SPEC §6): the model's SQL, rendered with each input standing for its given rows,
 * run in a scratch in-memory database — the project's data is only read for column types — and
 * its rows compared with the expected ones (as multisets, on the expected columns).
 */
export async function runUnitTest(
  test: UnitTestNode,
  target: EngineConnection,
  openScratch: () => Promise<Engine>,
  renv: RenderEnvironment,
  signal: AbortSignal,
): Promise<NodeResult> {
  const t0 = performance.now();
  const started = new Date().toISOString();
  const base = { unique_id: test.unique_id, name: test.name, resource_type: 'unit_test' as const, kind: 'unit_test', relation: test.name, timing: [] };
  const model = renv.manifest.nodes[test.model] as ModelNode;
  const fail = (message: string) => new ExecutionError(`unit test ${test.name}: ${message}`, { node: test.unique_id, location: { file: test.original_file_path, line: test.line } });
  let scratch: Engine | undefined;
  try {
    if (signal.aborted) throw new InterruptedError();
    scratch = await openScratch();
    const db = await scratch.connect();
    try {
      const tables = new Map<string, string>();
      for (const [i, given] of test.given.entries()) {
        const node = given.node ? renv.manifest.nodes[given.node] : model;
        const table = `given_${i}`;
        const columns = await columnTypes(node as ModelNode | SeedNode | SourceNode, given.input, given.rows, target, renv, fail);
        await createTable(db, table, columns, given.rows);
        tables.set(given.node ?? 'this', table);
      }
      const sql = renderModel(model, {
        ...renv,
        project: { ...renv.project, varValues: { ...renv.project.varValues, ...test.overrides.vars } },
        env: { ...renv.env, ...test.overrides.env_vars },
        relationOf: (n) =>
          n.unique_id === model.unique_id
            ? tables.has('this')
              ? q(tables.get('this')!)
              : renderRelation(n.relation)
            : q(tables.get(n.unique_id) ?? missingInput(n.name)),
        sourceRelationOf: (n) => q(tables.get(n.unique_id) ?? missingInput(`${n.source_name}.${n.name}`)),
        isIncremental: () => test.overrides.is_incremental ?? false,
        watermark: (m) => {
          if (!tables.has('this')) throw fail('the model calls watermark(): give rows for this');
          return `(SELECT max(${q(m.config.watermark ?? '')}) FROM ${q(tables.get('this')!)})`;
        },
      });
      await db.run(`CREATE TABLE actual AS\n${sql.trim().replace(/;+$/, '')}`);
      const actualTypes = new Map((await db.query('DESCRIBE actual')).map((r) => [String(r.column_name), String(r.column_type)]));
      const expectColumns = [...new Set(test.expect.flatMap((r) => Object.keys(r)))];
      const unknown = expectColumns.filter((c) => !actualTypes.has(c));
      if (unknown.length > 0) throw fail(`expect names ${unknown.join(', ')}, which ${model.name} does not return (it returns ${[...actualTypes.keys()].join(', ')})`);
      const compared = expectColumns.length > 0 ? expectColumns : [...actualTypes.keys()];
      await createTable(db, 'expected', compared.map((c) => [c, actualTypes.get(c)!] as const), test.expect);
      const list = compared.map(q).join(', ');
      const extra = await db.query(`SELECT ${list} FROM actual EXCEPT ALL SELECT ${list} FROM expected`);
      const missing = await db.query(`SELECT ${list} FROM expected EXCEPT ALL SELECT ${list} FROM actual`);
      const seconds = (performance.now() - t0) / 1000;
      const timing = [{ name: 'execute' as const, started_at: started, completed_at: new Date().toISOString() }];
      if (extra.length === 0 && missing.length === 0) return { ...base, status: 'pass', failures: 0, seconds, timing };
      const show = async (table: string) => (await db.query(`SELECT ${list} FROM ${table} ORDER BY ALL LIMIT 20`)).map((r) => JSON.stringify(r)).join('\n    ');
      return {
        ...base,
        status: 'fail',
        failures: extra.length + missing.length,
        seconds,
        timing,
        message: `${missing.length} expected ${missing.length === 1 ? 'row' : 'rows'} missing, ${extra.length} unexpected\n  expected:\n    ${await show('expected')}\n  actual:\n    ${await show('actual')}`,
      };
    } finally {
      db.close();
    }
  } catch (error) {
    const smelterError = signal.aborted
      ? new InterruptedError('interrupted', { node: test.unique_id })
      : error instanceof SmelterError
        ? error
        : fail(String((error as Error).message ?? error).split('\n')[0]);
    return { ...base, status: 'error', seconds: (performance.now() - t0) / 1000, message: smelterError.format(), error: smelterError };
  } finally {
    scratch?.close();
  }
}

function missingInput(name: string): never {
  throw new CompileError(`${name} has no given rows in this unit test`);
}

/**
 * The given input's columns and types: its declared data_types, else the existing relation's
 * types; a column with neither is an error naming it. Columns the relation has but the rows do not
 * mention are kept (as NULL), so the model sees the input's whole shape.
 */
async function columnTypes(
  node: ModelNode | SeedNode | SourceNode,
  input: string,
  rows: ReadonlyArray<Record<string, unknown>>,
  target: EngineConnection,
  renv: RenderEnvironment,
  fail: (message: string) => Error,
): Promise<Array<readonly [string, string]>> {
  const relation = node.resource_type === 'source' ? renderSource(node, renv.project.config.dir) : renderRelation(node.relation);
  let described: Row[] = [];
  try {
    described = await target.query(`DESCRIBE ${relation}`);
  } catch {
    // Not built (or no files) yet: only declared types can help.
  }
  const existing = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
  const declared = new Map(Object.values(node.columns).filter((c) => c.data_type).map((c) => [c.name, c.data_type!]));
  const names = [...new Set([...existing.keys(), ...declared.keys(), ...rows.flatMap((r) => Object.keys(r))])];
  const used = new Set(rows.flatMap((r) => Object.keys(r)));
  const columns: Array<readonly [string, string]> = [];
  for (const name of names) {
    const type = declared.get(name) ?? existing.get(name);
    if (type === undefined) {
      if (!used.has(name)) continue;
      throw fail(`given ${input}: the type of column ${name} is unknown: declare its data_type in the properties of ${node.name}, or build ${node.name} first`);
    }
    columns.push([name, type]);
  }
  return columns;
}

async function createTable(db: EngineConnection, table: string, columns: ReadonlyArray<readonly [string, string]>, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  await db.run(`CREATE TABLE ${q(table)} (${columns.map(([c, t]) => `${q(c)} ${t}`).join(', ')})`);
  if (rows.length === 0) return;
  const values = rows.map((row) => `(${columns.map(([c, t]) => `CAST(${literal(row[c])} AS ${t})`).join(', ')})`);
  await db.run(`INSERT INTO ${q(table)} VALUES ${values.join(', ')}`);
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  return quoteLiteral(String(value));
}
