import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SmelterError } from '../errors.js';
import type { Engine, EngineConnection } from '../engine/engine.js';
import { DatabaseAccess } from '../execute/database-access.js';
import type { ModelNode } from '../manifest/types.js';
import { isStateful, stateKey } from '../materializations/traits.js';
import { catalogName } from '../render/project-context.js';
import { renderModel, type RenderEnvironment } from '../render/render-model.js';
import type { StateRecord } from '../state/state-record.js';
import { writeCatalog, writeManifest } from '../artifacts/write-artifacts.js';
import { openProject, openStorage, openTargetDatabase, withStateStoreOn, type InvocationOptions, type ParsedProject } from '../invocation.js';
import { buildCatalog, type Catalog } from './catalog.js';
import { writeDocsSite } from './site-html.js';
import type { DocsNodeState } from './site-data.js';
import { computeColumnLineage, undeclaredWarning, type LineageResult } from '../lineage/index.js';

export interface DocsOutcome {
  /** target/, relative to the project directory. */
  readonly targetPath: string;
  readonly catalog: Catalog;
  readonly lineage: LineageResult;
  /** Models whose SQL could not be rendered for the docs (compiled SQL is then absent), with why. */
  readonly problems: readonly SmelterError[];
  readonly warnings: readonly string[];
}

/**
 * `smelter docs generate`: the project's manifest.json (every model with its compiled SQL — the
 * non-incremental render — and column lineage), catalog.json from the target's database, and the
 * docs site. The database is only read (and its state table opened, as `state show` does); a target
 * that was never built gives an empty catalog and no database file is created: `docs generate`
 * works before the first run.
 */
export async function generateDocs(options: InvocationOptions): Promise<DocsOutcome> {
  const p = openProject(options);
  const target = p.project.config.target;
  const targetDir = join(p.project.config.dir, p.project.config.targetPath);
  const invocationId = randomUUID();
  const generatedAt = new Date();
  const built = target.databasePath !== ':memory:' && existsSync(target.databasePath);
  const engine = built ? await openTargetDatabase(target) : undefined;
  const connection = engine ? await engine.connect() : undefined;
  try {
    const states = engine ? await readStates(p, engine, options) : new Map<string, StateRecord>();
    const needsStorage = Object.values(p.manifest.nodes).some((n) => n.resource_type === 'model' && n.config.external && states.has(`${n.relation.schema}.${n.name}`));
    const storage = needsStorage ? await openStorage(p, options.backends) : undefined;
    const catalog = await buildCatalog({ manifest: p.manifest, connection, database: catalogName(target), projectDir: p.project.config.dir, states, storage });
    // The render of a full build (is_incremental() false), as `compile` renders.
    const renv: RenderEnvironment = {
      manifest: p.manifest,
      project: p.project,
      templates: p.parsed.templates,
      env: options.env ?? process.env,
      runStartedAt: generatedAt,
      invocationId,
      flags: { which: 'compile' },
    };
    const { compiledCode, problems } = await compileForDocs(p, renv, connection);
    const lineage = await lineageOf(p, renv, catalog, connection);
    const artifact = writeManifest(targetDir, p.manifest, invocationId, generatedAt, { compiledCode, columnLineage: lineage.columnLineage });
    const catalogArtifact = writeCatalog(targetDir, catalog, invocationId, generatedAt);
    writeDocsSite(targetDir, {
      manifest: p.manifest,
      artifact,
      catalog: catalogArtifact,
      runResults: lastRunResults(targetDir),
      state: stateByNode(p, states),
      undeclared: lineage.undeclared,
      generatedAt: generatedAt.toISOString(),
    });
    const catalogWarnings = (catalog.errors ?? []).map((e) => `catalog.json leaves out ${e}`);
    return { targetPath: p.project.config.targetPath, catalog, lineage, problems, warnings: [...catalogWarnings, ...lineageWarnings(p, lineage)] };
  } finally {
    connection?.close();
    engine?.close();
  }
}

/**
 * Column lineage from DuckDB's parser. It needs a connection only to parse: the target's when it
 * is built, else an in-memory database. `*` expands to the catalog's columns, or the declared ones.
 */
async function lineageOf(p: ParsedProject, renv: RenderEnvironment, catalog: Catalog, connection: EngineConnection | undefined): Promise<LineageResult> {
  const columnsOf = (id: string): readonly string[] | undefined => {
    const described = catalog.nodes[id] ?? catalog.sources[id];
    if (described) return Object.values(described.columns).sort((a, b) => a.index - b.index).map((c) => c.name);
    const node = p.manifest.nodes[id];
    const declared = node && 'columns' in node ? Object.keys(node.columns) : [];
    return declared.length > 0 ? declared : undefined;
  };
  if (connection) return computeColumnLineage({ manifest: p.manifest, renv, connection, columnsOf });
  const scratch = await openTargetDatabase({ ...p.project.config.target, databasePath: ':memory:', settings: {} });
  const parser = await scratch.connect();
  try {
    return await computeColumnLineage({ manifest: p.manifest, renv, connection: parser, columnsOf });
  } finally {
    parser.close();
    scratch.close();
  }
}

/** What the docs could not trace, and reads that bypass ref()/source(), as warnings. */
function lineageWarnings(p: ParsedProject, lineage: LineageResult): string[] {
  const warnings: string[] = [];
  for (const [id, reads] of Object.entries(lineage.undeclared)) {
    const node = p.manifest.nodes[id];
    for (const read of reads) warnings.push(undeclaredWarning(node.original_file_path, node.name, read));
  }
  for (const [id, problem] of Object.entries(lineage.problems)) warnings.push(`${p.manifest.nodes[id].original_file_path}: column lineage of ${p.manifest.nodes[id].name} is partial: ${problem}`);
  return warnings;
}

/** Each enabled model's SQL as a full build would run it (is_incremental() false). */
async function compileForDocs(p: ParsedProject, renv: RenderEnvironment, connection: EngineConnection | undefined): Promise<{ compiledCode: Record<string, string>; problems: SmelterError[] }> {
  const compiledCode: Record<string, string> = {};
  const problems: SmelterError[] = [];
  for (const node of Object.values(p.manifest.nodes)) {
    if (node.resource_type !== 'model') continue;
    try {
      if (connection) {
        const database = new DatabaseAccess(async () => connection);
        compiledCode[node.unique_id] = await database.render(node.name, () => renderModel(node, { ...renv, database }));
      } else {
        compiledCode[node.unique_id] = renderModel(node, renv);
      }
    } catch (error) {
      if (!(error instanceof SmelterError)) throw error;
      problems.push(error);
    }
  }
  return { compiledCode, problems };
}

/** The committed state records, by state key (a target without state yet has none). */
async function readStates(p: ParsedProject, engine: Engine, options: InvocationOptions): Promise<Map<string, StateRecord>> {
  if (!Object.values(p.manifest.nodes).some((n) => n.resource_type === 'model' && isStateful(n as ModelNode))) return new Map();
  const records = await withStateStoreOn(p, engine, options, (store) => store.readAll());
  return new Map(records.map((r) => [r.table_name, r]));
}

/** Each stateful model's committed state, by unique_id, as the site shows it. */
function stateByNode(p: ParsedProject, states: ReadonlyMap<string, StateRecord>): Record<string, DocsNodeState> {
  const out: Record<string, DocsNodeState> = {};
  for (const node of Object.values(p.manifest.nodes)) {
    if (node.resource_type !== 'model' || !isStateful(node)) continue;
    const record = states.get(stateKey(node));
    if (!record) continue;
    out[node.unique_id] = {
      watermark: record.last_processed_value,
      rows: record.rows_total,
      version: record.version,
      batches: record.batches,
      committed_at: record.last_processed_timestamp,
    };
  }
  return out;
}

/** target/run_results.json of the last run, when there is one. */
export function lastRunResults(targetDir: string): unknown {
  const path = join(targetDir, 'run_results.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}
