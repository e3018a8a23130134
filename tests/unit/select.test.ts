import { describe, expect, it } from 'vitest';
import { UsageError } from '../../runtime/errors.js';
import { buildDag } from '../../runtime/graph/dag.js';
import type {
  MacroDef,
  Manifest,
  ManifestNode,
  ModelConfig,
  ModelNode,
  SeedNode,
  SourceNode,
  TestNode,
  UnitTestNode,
} from '../../runtime/manifest/types.js';
import { globMatch } from '../../runtime/select/glob.js';
import { selectNodes } from '../../runtime/select/select.js';
import type { SelectionOptions, StateManifest } from '../../runtime/select/select.js';
import { parseSelector } from '../../runtime/select/selector.js';
import { loadProject } from '../../runtime/project/load-project.js';
import { parseProject } from '../../runtime/parse/parse-project.js';
import { manifestArtifact } from '../../runtime/artifacts/write-artifacts.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PROJECT = 'congress_gold';

function model(
  folder: string,
  name: string,
  options: {
    parents?: string[];
    macros?: string[];
    tags?: string[];
    config?: Partial<ModelConfig>;
    checksum?: string;
  } = {},
): ModelNode {
  const tags = options.tags ?? [];
  const folders = folder.split('/').slice(1);
  return {
    unique_id: `model.${PROJECT}.${name}`,
    name,
    package_name: PROJECT,
    original_file_path: `${folder}/${name}.sql`,
    path: [...folders, `${name}.sql`].join('/'),
    fqn: [PROJECT, ...folders, name],
    tags,
    description: '',
    columns: {},
    resource_type: 'model',
    raw_code: `select 1 as ${name}`,
    checksum: options.checksum ?? `sum-${name}`,
    config: {
      materialized: 'view',
      schema: 'main',
      alias: name,
      tags,
      enabled: true,
      meta: {},
      docs: {},
      pre_hook: [],
      post_hook: [],
      full_refresh: null,
      external: false,
      ...options.config,
    },
    relation: { schema: 'main', identifier: name },
    refs: [],
    sources: [],
    depends_on: { nodes: options.parents ?? [], macros: options.macros ?? [] },
    parsed_by_render: false,
  };
}

function seed(name: string): SeedNode {
  return {
    unique_id: `seed.${PROJECT}.${name}`,
    name,
    package_name: PROJECT,
    original_file_path: `seeds/${name}.csv`,
    path: `${name}.csv`,
    fqn: [PROJECT, name],
    tags: [],
    description: '',
    columns: {},
    resource_type: 'seed',
    checksum: `sum-${name}`,
    config: { schema: 'main', alias: name, tags: [], enabled: true, column_types: {}, pre_hook: [], post_hook: [], delimiter: ',' },
    relation: { schema: 'main', identifier: name },
    depends_on: { nodes: [], macros: [] },
  };
}

function source(sourceName: string, name: string, tags: string[] = []): SourceNode {
  return {
    unique_id: `source.${PROJECT}.${sourceName}.${name}`,
    name,
    package_name: PROJECT,
    original_file_path: 'models/staging/sources.yml',
    path: 'staging/sources.yml',
    fqn: [PROJECT, 'staging', sourceName, name],
    tags,
    description: '',
    columns: {},
    resource_type: 'source',
    source_name: sourceName,
    external_location: `data/${sourceName}/${name}/*.parquet`,
    relation: { schema: sourceName, identifier: name },
    config: { enabled: true, tags },
    depends_on: { nodes: [], macros: [] },
  };
}

function macro(name: string, checksum: string, calls: string[] = []): MacroDef {
  return {
    unique_id: `macro.${PROJECT}.${name}`,
    name,
    original_file_path: `macros/${name}.sql`,
    line: 1,
    checksum,
    depends_on: { macros: calls.map((m) => `macro.${PROJECT}.${m}`) },
  };
}

function manifestOf(nodes: ManifestNode[], macros: MacroDef[] = []): Manifest {
  return {
    project_name: PROJECT,
    nodes: Object.fromEntries(nodes.map((n) => [n.unique_id, n])),
    disabled: {},
    macros: Object.fromEntries(macros.map((m) => [m.unique_id, m])),
    diagnostics: [],
  };
}

const M = `model.${PROJECT}.`;
const SRC_TX = `source.${PROJECT}.silver.transactions`;
const SRC_MEM = `source.${PROJECT}.silver.members`;
const HOLIDAYS = `seed.${PROJECT}.holidays`;

/*
 * silver.transactions -> stg_transactions -> fct_transactions -> agg_trending
 * silver.members      -> stg_members      -> fct_transactions
 *                                         -> dim_member
 * holidays (seed)     -> dim_date         -> agg_trending
 */
const NODES: ManifestNode[] = [
  source('silver', 'transactions', ['silver']),
  source('silver', 'members'),
  seed('holidays'),
  model('models/staging', 'stg_transactions', { parents: [SRC_TX], tags: ['staging'] }),
  model('models/staging', 'stg_members', { parents: [SRC_MEM], tags: ['staging', 'members'] }),
  model('models/gold', 'fct_transactions', {
    parents: [`${M}stg_transactions`, `${M}stg_members`],
    tags: ['gold', 'nightly'],
    config: { materialized: 'incremental', incremental_strategy: 'delete+insert', unique_key: ['id'], external: true },
  }),
  model('models/gold', 'dim_member', {
    parents: [`${M}stg_members`],
    macros: [`macro.${PROJECT}.clean_name`],
    tags: ['gold'],
    config: { materialized: 'scd2', meta: { owner: 'ana' } },
  }),
  model('models/gold', 'dim_date', { parents: [HOLIDAYS], tags: ['gold'], config: { materialized: 'table' } }),
  model('models/gold/marts', 'agg_trending', {
    parents: [`${M}fct_transactions`, `${M}dim_date`],
    tags: ['gold', 'nightly'],
    config: { materialized: 'table' },
  }),
];
const MACROS = [macro('clean_name', 'm1', ['trim_all']), macro('trim_all', 'm2'), macro('unused', 'm3')];
const MANIFEST = manifestOf(NODES, MACROS);
const DAG = buildDag(MANIFEST);
const ALL = Object.keys(MANIFEST.nodes).sort();

function run(select: string[], more: Partial<SelectionOptions> = {}, manifest = MANIFEST) {
  const result = selectNodes(manifest, manifest === MANIFEST ? DAG : buildDag(manifest), {
    select,
    exclude: [],
    ...more,
  });
  return { ids: [...result.selected].sort(), warnings: result.warnings };
}

/** Sorted unique_ids selected by `select` (no warnings expected). */
function ids(...select: string[]): string[] {
  const result = run(select);
  expect(result.warnings).toEqual([]);
  return result.ids;
}

const models = (...names: string[]) => names.map((n) => `${M}${n}`).sort();

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('selectNodes: methods', () => {
  it('selects every node when select is empty', () => {
    expect(ids()).toEqual(ALL);
    expect(run(['  ']).ids).toEqual(ALL);
  });

  it('matches a bare name', () => {
    expect(ids('dim_member')).toEqual(models('dim_member'));
  });

  it('matches wildcards on names', () => {
    expect(ids('dim_*')).toEqual(models('dim_date', 'dim_member'));
    expect(ids('stg_?embers')).toEqual(models('stg_members'));
    expect(ids('[fa]*')).toEqual(models('agg_trending', 'fct_transactions'));
    // Single-part wildcards also test the project and first folder, as dbt's fqn method does.
    expect(ids('[!fadscg]*')).toEqual([HOLIDAYS, SRC_MEM, SRC_TX].sort());
  });

  it('matches an fqn folder, a full fqn and the project name', () => {
    expect(ids('gold')).toEqual(models('agg_trending', 'dim_date', 'dim_member', 'fct_transactions'));
    expect(ids('gold.marts')).toEqual(models('agg_trending'));
    expect(ids('congress_gold.gold.dim_member')).toEqual(models('dim_member'));
    expect(ids('gold.dim_member')).toEqual(models('dim_member'));
    expect(ids('gold.*')).toEqual(models('agg_trending', 'dim_date', 'dim_member', 'fct_transactions'));
    expect(ids('gold.dim_*')).toEqual(models('dim_date', 'dim_member'));
    expect(ids('congress_gold')).toEqual(ALL);
    expect(ids('fqn:staging.silver')).toEqual([SRC_MEM, SRC_TX]);
  });

  it('matches path: folders and files, and bare paths', () => {
    const gold = models('agg_trending', 'dim_date', 'dim_member', 'fct_transactions');
    expect(ids('path:models/gold')).toEqual(gold);
    expect(ids('path:models/gold/')).toEqual(gold);
    expect(ids('path:./models/gold')).toEqual(gold);
    expect(ids('path:models/gold/dim_date.sql')).toEqual(models('dim_date'));
    expect(ids('path:models/staging')).toEqual([...models('stg_members', 'stg_transactions'), SRC_MEM, SRC_TX].sort());
    expect(ids('models/gold/marts')).toEqual(models('agg_trending'));
    expect(ids('models/gold/dim_member.sql')).toEqual(models('dim_member'));
    expect(ids('seeds/holidays.csv')).toEqual([HOLIDAYS]);
    expect(ids('path:models/*/dim_*.sql')).toEqual(models('dim_date', 'dim_member'));
    expect(ids('path:models/*')).toEqual(ALL.filter((id) => id !== HOLIDAYS));
    expect(ids('path:models/**/agg_*.sql')).toEqual(models('agg_trending'));
  });

  it('does not let a folder prefix match a longer folder name', () => {
    expect(run(['path:models/gol']).ids).toEqual([]);
  });

  it('matches file: with or without extension, and bare file names', () => {
    expect(ids('file:dim_date.sql')).toEqual(models('dim_date'));
    expect(ids('file:dim_date')).toEqual(models('dim_date'));
    expect(ids('file:sources')).toEqual([SRC_MEM, SRC_TX]);
    expect(ids('dim_member.sql')).toEqual(models('dim_member'));
    expect(ids('holidays.csv')).toEqual([HOLIDAYS]);
  });

  it('matches tag:', () => {
    expect(ids('tag:nightly')).toEqual(models('agg_trending', 'fct_transactions'));
    expect(ids('tag:silver')).toEqual([SRC_TX]);
    expect(ids('tag:stag*')).toEqual(models('stg_members', 'stg_transactions'));
  });

  it('matches source:x and source:x.y', () => {
    expect(ids('source:silver')).toEqual([SRC_MEM, SRC_TX]);
    expect(ids('source:silver.transactions')).toEqual([SRC_TX]);
    expect(ids('source:congress_gold.silver.members')).toEqual([SRC_MEM]);
    expect(ids('source:silver.mem*')).toEqual([SRC_MEM]);
  });

  it('matches resource_type:, package: and test_type:', () => {
    expect(ids('resource_type:seed')).toEqual([HOLIDAYS]);
    expect(ids('resource_type:source')).toEqual([SRC_MEM, SRC_TX]);
    expect(ids('package:congress_gold')).toEqual(ALL);
    expect(ids('package:this')).toEqual(ALL);
    expect(run(['test_type:data']).ids).toEqual([]);
  });

  it('matches config.<key>: scalars, lists, booleans, nested keys', () => {
    expect(ids('config.materialized:incremental')).toEqual(models('fct_transactions'));
    expect(ids('config.materialized:table')).toEqual(models('agg_trending', 'dim_date'));
    expect(ids('config.materialized:*cr*')).toEqual(models('fct_transactions'));
    expect(ids('config.incremental_strategy:delete+insert')).toEqual(models('fct_transactions'));
    expect(ids('config.tags:members')).toEqual(models('stg_members'));
    expect(ids('config.unique_key:id')).toEqual(models('fct_transactions'));
    expect(ids('config.external:true')).toEqual(models('fct_transactions'));
    expect(ids('config.external:True')).toEqual(models('fct_transactions'));
    expect(ids('config.external:false')).toEqual(
      models('agg_trending', 'dim_date', 'dim_member', 'stg_members', 'stg_transactions'),
    );
    expect(ids('config.meta.owner:ana')).toEqual(models('dim_member'));
    expect(run(['config.meta:ana']).ids).toEqual([]);
  });
});

describe('selectNodes: graph operators', () => {
  it('+x selects all ancestors', () => {
    expect(ids('+fct_transactions')).toEqual(
      [...models('fct_transactions', 'stg_members', 'stg_transactions'), SRC_MEM, SRC_TX].sort(),
    );
  });

  it('x+ selects all descendants', () => {
    expect(ids('stg_members+')).toEqual(models('agg_trending', 'dim_member', 'fct_transactions', 'stg_members'));
  });

  it('N+x and x+N limit the generations', () => {
    expect(ids('1+fct_transactions')).toEqual(models('fct_transactions', 'stg_members', 'stg_transactions'));
    expect(ids('2+agg_trending')).toEqual(
      [...models('agg_trending', 'dim_date', 'fct_transactions', 'stg_members', 'stg_transactions'), HOLIDAYS].sort(),
    );
    expect(ids('stg_members+1')).toEqual(models('dim_member', 'fct_transactions', 'stg_members'));
    expect(ids('0+dim_date+0')).toEqual(models('dim_date'));
  });

  it('+x+ is ancestors and descendants, not ancestors of descendants', () => {
    expect(ids('+dim_date+')).toEqual([...models('agg_trending', 'dim_date'), HOLIDAYS].sort());
  });

  it('@x selects x, its descendants and all their ancestors', () => {
    expect(ids('@stg_transactions')).toEqual(ALL.filter((id) => id !== `${M}dim_member`));
  });

  it('applies operators to every node an atom matches', () => {
    expect(ids('tag:staging+1')).toEqual(
      models('dim_member', 'fct_transactions', 'stg_members', 'stg_transactions'),
    );
  });

  it('walks through nodes of dropped resource types', () => {
    expect(run(['holidays+'], { resourceTypes: ['model'] }).ids).toEqual(models('agg_trending', 'dim_date'));
    expect(run(['+stg_members'], { resourceTypes: ['model', 'seed'] }).ids).toEqual(models('stg_members'));
    expect(run([], { resourceTypes: ['seed'] }).ids).toEqual([HOLIDAYS]);
  });
});

describe('selectNodes: set operations', () => {
  it('unions space-separated expressions and multiple elements', () => {
    expect(ids('dim_date dim_member')).toEqual(models('dim_date', 'dim_member'));
    expect(ids('dim_date', 'holidays  source:silver.members')).toEqual(
      [...models('dim_date'), HOLIDAYS, SRC_MEM].sort(),
    );
  });

  it('intersects comma-separated atoms', () => {
    expect(ids('tag:gold,config.materialized:table')).toEqual(models('agg_trending', 'dim_date'));
    expect(ids('+agg_trending,resource_type:model,tag:nightly')).toEqual(models('agg_trending', 'fct_transactions'));
  });

  it('removes excluded nodes', () => {
    expect(run(['gold'], { exclude: ['dim_member', 'tag:nightly'] }).ids).toEqual(models('dim_date'));
    expect(run([], { exclude: ['resource_type:source resource_type:seed'] }).ids).toEqual(
      models('agg_trending', 'dim_date', 'dim_member', 'fct_transactions', 'stg_members', 'stg_transactions'),
    );
  });

  it('warns once per expression that matches nothing, and goes on', () => {
    const result = run(['dim_date nope tag:gold,tag:staging'], { exclude: ['gone', 'dim_member'] });
    expect(result.ids).toEqual(models('dim_date'));
    expect(result.warnings).toEqual([
      "The selection criterion 'nope' does not match any enabled nodes",
      "The selection criterion 'tag:gold,tag:staging' does not match any enabled nodes",
      "The selection criterion 'gone' does not match any enabled nodes",
    ]);
  });

  it('does not select disabled nodes', () => {
    const off = model('models/gold', 'old_model');
    const manifest = { ...MANIFEST, disabled: { [off.unique_id]: off } };
    expect(run(['old_model'], {}, manifest).warnings).toEqual([
      "The selection criterion 'old_model' does not match any enabled nodes",
    ]);
  });
});

/** A data test on `parents` (the first is the model it is declared on). */
function dataTest(name: string, parents: string[]): TestNode {
  return {
    unique_id: `test.${PROJECT}.${name}`,
    name,
    package_name: PROJECT,
    original_file_path: 'models/properties.yml',
    path: 'properties.yml',
    fqn: [PROJECT, name],
    tags: [],
    description: '',
    columns: {},
    resource_type: 'test',
    test_type: 'generic',
    attached_node: parents[0],
    alias: name,
    refs: [],
    sources: [],
    checksum: `sum-${name}`,
    config: { enabled: true, tags: [], severity: 'error', warn_if: '!= 0', error_if: '!= 0', store_failures: false, meta: {} },
    depends_on: { nodes: parents, macros: [] },
  };
}

function unitTest(name: string, tested: string): UnitTestNode {
  return {
    unique_id: `unit_test.${PROJECT}.${name}`,
    name,
    package_name: PROJECT,
    original_file_path: 'models/unit_tests.yml',
    path: 'unit_tests.yml',
    fqn: [PROJECT, name],
    tags: [],
    description: '',
    columns: {},
    resource_type: 'unit_test',
    model: tested,
    given: [],
    expect: [],
    overrides: { vars: {} },
    config: { enabled: true, tags: [] },
    checksum: `sum-${name}`,
    depends_on: { nodes: [], macros: [] },
  };
}

describe('selectNodes: indirect selection', () => {
  /*
   * silver.members -> stg -> dim -> fact
   *                          stg -> other
   * tests: not_null_stg (stg), unique_fact (fact), relationships_fact_dim (fact, dim),
   *        relationships_other_dim (other, dim), source_not_null (silver.members), unit test fact_math (fact)
   */
  const T = `test.${PROJECT}.`;
  const nodes: ManifestNode[] = [
    source('silver', 'members'),
    model('models', 'stg', { parents: [SRC_MEM] }),
    model('models', 'dim', { parents: [`${M}stg`] }),
    model('models', 'fact', { parents: [`${M}dim`] }),
    model('models', 'other', { parents: [`${M}stg`] }),
    dataTest('not_null_stg', [`${M}stg`]),
    dataTest('unique_fact', [`${M}fact`]),
    dataTest('relationships_fact_dim', [`${M}fact`, `${M}dim`]),
    dataTest('relationships_other_dim', [`${M}other`, `${M}dim`]),
    dataTest('source_not_null', [SRC_MEM]),
    unitTest('fact_math', `${M}fact`),
  ];
  const manifest = manifestOf(nodes);
  const dag = buildDag(manifest);
  const select = (mode: SelectionOptions['indirectSelection'], select: string[], exclude: string[] = []) =>
    [...selectNodes(manifest, dag, { select, exclude, ...(mode ? { indirectSelection: mode } : {}) }).selected].sort();
  const UNIT = `unit_test.${PROJECT}.fact_math`;

  it('eager (the default): a test goes with any of its parents', () => {
    expect(select(undefined, ['fact'])).toEqual([`${M}fact`, `${T}relationships_fact_dim`, `${T}unique_fact`, UNIT]);
    expect(select('eager', ['fact'])).toEqual(select(undefined, ['fact']));
    expect(select('eager', ['dim'])).toEqual([`${M}dim`, `${T}relationships_fact_dim`, `${T}relationships_other_dim`]);
  });

  it('cautious: only when all its parents are selected', () => {
    expect(select('cautious', ['fact'])).toEqual([`${M}fact`, `${T}unique_fact`, UNIT]);
    expect(select('cautious', ['dim'])).toEqual([`${M}dim`]);
    expect(select('cautious', ['dim fact'])).toEqual([`${M}dim`, `${M}fact`, `${T}relationships_fact_dim`, `${T}unique_fact`, UNIT]);
    expect(select('cautious', ['+other'])).toEqual([`${M}other`, `${M}stg`, SRC_MEM, `${T}not_null_stg`, `${T}source_not_null`]);
    expect(select('cautious', ['other dim'])).toEqual([`${M}dim`, `${M}other`, `${T}relationships_other_dim`]);
  });

  it('buildable: when all its parents are selected or ancestors of selected nodes', () => {
    // dim is an ancestor of fact; it is not one of other's, nor of dim itself.
    expect(select('buildable', ['fact'])).toEqual([`${M}fact`, `${T}relationships_fact_dim`, `${T}unique_fact`, UNIT]);
    expect(select('buildable', ['other'])).toEqual([`${M}other`]);
    expect(select('buildable', ['dim'])).toEqual([`${M}dim`]);
    // The test of the source stg reads is not downstream of stg: as in dbt, it stays out.
    expect(select('buildable', ['stg'])).toEqual([`${M}stg`, `${T}not_null_stg`]);
  });

  it('empty: only tests selected directly', () => {
    expect(select('empty', ['fact'])).toEqual([`${M}fact`]);
    expect(select('empty', ['+fact'])).toEqual([`${M}dim`, `${M}fact`, `${M}stg`, SRC_MEM]);
    expect(select('empty', ['fact relationships_other_dim'])).toEqual([`${M}fact`, `${T}relationships_other_dim`]);
    expect(select('empty', ['resource_type:unit_test'])).toEqual([UNIT]);
  });

  it('--exclude removes the tests of excluded nodes in every mode', () => {
    for (const mode of ['eager', 'cautious', 'buildable', 'empty'] as const) {
      expect(select(mode, ['dim fact'], ['dim'])).toEqual(mode === 'empty' ? [`${M}fact`] : [`${M}fact`, `${T}unique_fact`, UNIT]);
      expect(select(mode, ['fact relationships_fact_dim'], ['dim'])).toEqual(mode === 'empty' ? [`${M}fact`] : [`${M}fact`, `${T}unique_fact`, UNIT]);
    }
  });
});

describe('selectNodes: state', () => {
  /** An earlier manifest.json as the artifact writer produces it, from `manifest`. */
  function stateOf(manifest: Manifest): StateManifest {
    return JSON.parse(
      JSON.stringify({
        nodes: Object.fromEntries(
          Object.values(manifest.nodes).map((n) => [
            n.unique_id,
            {
              ...n,
              checksum: 'checksum' in n ? { name: 'sha256', checksum: n.checksum } : undefined,
            },
          ]),
        ),
        macros: Object.fromEntries(
          Object.values(manifest.macros).map((m) => [
            m.unique_id,
            { ...m, checksum: { name: 'sha256', checksum: m.checksum } },
          ]),
        ),
      }),
    ) as StateManifest;
  }

  const replace = (manifest: Manifest, node: ManifestNode): Manifest => ({
    ...manifest,
    nodes: { ...manifest.nodes, [node.unique_id]: node },
  });
  const get = (name: string) => MANIFEST.nodes[`${M}${name}`] as ModelNode;

  const state = stateOf(MANIFEST);
  let current = replace(MANIFEST, { ...get('dim_date'), checksum: 'changed' });
  current = replace(current, {
    ...get('stg_members'),
    config: { ...get('stg_members').config, materialized: 'table' },
  });
  current = replace(current, model('models/gold', 'new_model', { parents: [`${M}dim_date`] }));
  current = {
    ...current,
    macros: { ...current.macros, [`macro.${PROJECT}.trim_all`]: macro('trim_all', 'changed') },
  };
  const srcChanged = { ...(current.nodes[SRC_TX] as SourceNode), external_location: 's3://elsewhere/*.parquet' };
  current = replace(current, srcChanged);

  const stateRun = (select: string[], more: Partial<SelectionOptions> = {}) =>
    run(select, { stateManifest: state, ...more }, current);

  it('selects nothing modified against an identical manifest', () => {
    expect(run(['state:modified'], { stateManifest: state }).ids).toEqual([]);
    expect(run(['state:new'], { stateManifest: state }).ids).toEqual([]);
    expect(run(['state:unmodified'], { stateManifest: state }).ids).toEqual(ALL);
  });

  it('state:modified: changed body, config, macro (through a called macro), source, or new', () => {
    expect(stateRun(['state:modified']).ids).toEqual(
      [...models('dim_date', 'dim_member', 'new_model', 'stg_members'), SRC_TX].sort(),
    );
  });

  it('state:modified.body, .configs, .macros, state:new and state:old', () => {
    expect(stateRun(['state:modified.body']).ids).toEqual([...models('dim_date', 'new_model'), SRC_TX].sort());
    expect(stateRun(['state:modified.configs']).ids).toEqual(models('new_model', 'stg_members'));
    expect(stateRun(['state:modified.macros']).ids).toEqual(models('dim_member'));
    expect(stateRun(['state:new']).ids).toEqual(models('new_model'));
    expect(stateRun(['state:old']).ids.length).toBe(ALL.length);
  });

  it('combines with graph operators and other methods', () => {
    expect(stateRun(['state:modified+,resource_type:model'], {}).ids).toEqual(
      models(
        'agg_trending',
        'dim_date',
        'dim_member',
        'fct_transactions',
        'new_model',
        'stg_members',
        'stg_transactions',
      ),
    );
    expect(stateRun(['state:modified'], { exclude: ['state:new'], resourceTypes: ['model'] }).ids).toEqual(
      models('dim_date', 'dim_member', 'stg_members'),
    );
  });

  it('accepts bare-string checksums and ignores config key order', () => {
    const plain: StateManifest = {
      nodes: Object.fromEntries(
        Object.values(MANIFEST.nodes).map((n) => [
          n.unique_id,
          {
            checksum: 'checksum' in n ? n.checksum : undefined,
            config: Object.fromEntries(Object.entries(n.config).reverse()),
            external_location: n.resource_type === 'source' ? n.external_location : undefined,
          },
        ]),
      ),
      macros: Object.fromEntries(Object.values(MANIFEST.macros).map((m) => [m.unique_id, { checksum: m.checksum }])),
    };
    expect(run(['state:modified'], { stateManifest: plain }).ids).toEqual([]);
  });

  it('treats a macro missing from the old manifest as modified', () => {
    expect(run(['state:modified.macros'], { stateManifest: { nodes: state.nodes } }).ids).toEqual(models('dim_member'));
  });

  it('needs a state manifest', () => {
    const error = usageError(() => run(['tag:gold', 'state:modified']));
    expect(error.message).toBe('state:modified needs --state DIR with a manifest.json');
    expect(usageError(() => run([], { exclude: ['state:new'] })).message).toBe(
      'state:new needs --state DIR with a manifest.json',
    );
  });
});

describe('selectors: errors', () => {
  it('rejects an unknown method with a hint', () => {
    const error = usageError(() => run(['tagg:x']));
    expect(error.message).toBe("unknown selector method 'tagg' in 'tagg:x'");
    expect(error.code).toBe('selector');
    expect(error.hint).toBe('did you mean tag?');
    expect(usageError(() => run(['confg.materialized:table'])).hint).toBe('did you mean config?');
    expect(usageError(() => run([], { exclude: ['dim_date', 'sorce:silver'] })).message).toBe(
      "unknown selector method 'sorce' in 'sorce:silver'",
    );
  });

  it.each([
    ['+', "invalid selector '+': missing a node name or method:value"],
    ['1+', "invalid selector '1+': missing a node name or method:value"],
    ['@', "invalid selector '@': missing a node name or method:value"],
    ['x++', "invalid selector 'x++': graph operators may appear once before and once after the criterion"],
    ['++x', "invalid selector '++x': graph operators may appear once before and once after the criterion"],
    ['@+x', "invalid selector '@+x': '@' and a '+' prefix are incompatible"],
    ['@x+', "invalid selector '@x+': '@' and a '+' suffix are incompatible"],
    ['tag:', "invalid selector 'tag:': missing a value after 'tag:'"],
    ['config.materialized:', "invalid selector 'config.materialized:': missing a value after 'config.materialized:'"],
    [':x', "invalid selector ':x': missing a method before ':'"],
    ['config:table', "invalid selector 'config:table': config needs a key, as in 'config.materialized:table'"],
    ['tag.x:y', "invalid selector 'tag.x:y': method 'tag' takes no '.x'"],
    ['state:modifed', "invalid selector 'state:modifed': unknown state 'modifed'"],
    ['resource_type:modle', "invalid selector 'resource_type:modle': unknown resource type 'modle'"],
    [
      'source:a.b.c.d',
      "invalid selector 'source:a.b.c.d': expected source:SOURCE, source:SOURCE.TABLE or source:PACKAGE.SOURCE.TABLE",
    ],
    ['tag:a,,tag:b', "invalid selector 'tag:a,,tag:b': empty part in an intersection"],
    ['tag:a,', "invalid selector 'tag:a,': empty part in an intersection"],
  ])('rejects %s', (expression, message) => {
    const error = usageError(() => run(['dim_date', expression]));
    expect(error.message).toBe(message);
    expect(error.code).toBe('selector');
  });

  it('hints at the closest state and resource type', () => {
    expect(usageError(() => run(['state:modifed'])).hint).toBe('did you mean modified?');
    expect(usageError(() => run(['resource_type:modle'])).hint).toBe('did you mean model?');
  });
});

describe('parseSelector', () => {
  it('builds the AST with operators and methods', () => {
    expect(parseSelector('2+tag:gold+1 @x,config.meta.owner:ana')).toEqual({
      kind: 'union',
      parts: [
        {
          kind: 'intersection',
          text: '2+tag:gold+1',
          parts: [
            { kind: 'atom', method: 'tag', value: 'gold', parents: 2, children: 1, at: false, text: '2+tag:gold+1' },
          ],
        },
        {
          kind: 'intersection',
          text: '@x,config.meta.owner:ana',
          parts: [
            { kind: 'atom', method: 'fqn', value: 'x', parents: undefined, children: undefined, at: true, text: '@x' },
            {
              kind: 'atom',
              method: 'config',
              key: ['meta', 'owner'],
              value: 'ana',
              parents: undefined,
              children: undefined,
              at: false,
              text: 'config.meta.owner:ana',
            },
          ],
        },
      ],
    });
  });

  it('picks the default method from the value', () => {
    const method = (text: string) => parseSelector(text).parts[0].parts[0].method;
    expect(method('+gold+')).toBe('fqn');
    expect(method('models/gold')).toBe('path');
    expect(method('dim_date.sql')).toBe('file');
    expect(parseSelector('+x+').parts[0].parts[0]).toMatchObject({ parents: Infinity, children: Infinity });
  });
});

describe('glob', () => {
  it('matches like fnmatch, anchored', () => {
    expect(globMatch('dim_date', 'dim_*')).toBe(true);
    expect(globMatch('xdim_date', 'dim_*')).toBe(false);
    expect(globMatch('a.b', 'a?b')).toBe(true);
    expect(globMatch('a+b', 'a+b')).toBe(true);
    expect(globMatch('[x', '[x')).toBe(true);
    expect(globMatch(']', '[]]')).toBe(true);
    expect(globMatch('b', '[!a]')).toBe(true);
    expect(globMatch('b', '[z-a]')).toBe(false);
  });

  it('keeps wildcards inside one folder in path mode', () => {
    expect(globMatch('models/gold/x.sql', 'models/*.sql', { path: true })).toBe(false);
    expect(globMatch('models/gold/x.sql', 'models/**/x.sql', { path: true })).toBe(true);
    expect(globMatch('models/x.sql', 'models/**/x.sql', { path: true })).toBe(true);
  });
});

describe('selectNodes: scale', () => {
  it('selects many names among 10,000 nodes without scanning per name', () => {
    const many: ManifestNode[] = [];
    for (let i = 0; i < 10_000; i++) {
      many.push(model(`models/f${i % 50}`, `m${i}`, { parents: i > 0 ? [`${M}m${i - 1}`] : [] }));
    }
    const manifest = manifestOf(many);
    const dag = buildDag(manifest);
    const names = Array.from({ length: 2_000 }, (_, i) => `m${i * 5}`).join(' ');
    const started = performance.now();
    const result = selectNodes(manifest, dag, { select: [names, '+m9999'], exclude: ['f3'] });
    const elapsed = performance.now() - started;
    expect(result.selected.size).toBe(10_000 - 200);
    // Generous: the quadratic version takes seconds; this keeps only a gross regression from passing.
    expect(elapsed).toBeLessThan(2_000);
  });
});

describe('selectNodes: state against the manifest.json smelter writes', () => {
  // The earlier manifest as target/manifest.json holds it: unit tests under `unit_tests`, sources
  // under `sources`, the rest under `nodes`.
  const files = (expected: string) => ({
    'project.yml': 'name: p\ntargets:\n  dev: { database: target/dev.duckdb }\n',
    'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n',
    'models/a.sql': "select id from {{ source('raw', 'orders') }}",
    'models/b.sql': "select id * 2 as twice from {{ ref('a') }}",
    'models/schema.yml': 'version: 2\nmodels:\n  - name: a\n    columns:\n      - { name: id, data_tests: [unique] }\n',
    'models/unit.yml': `version: 2\nunit_tests:\n  - name: doubles\n    model: b\n    given:\n      - input: ref('a')\n        rows: [{ id: 1 }]\n    expect:\n      rows: [{ twice: ${expected} }]\n`,
  });
  const parsed = (dir: string) => parseProject(loadProject(dir, { env: {} }), { env: {} });
  const earlier = (dir: string): StateManifest => {
    const { manifest } = parsed(dir);
    return JSON.parse(JSON.stringify(manifestArtifact(manifest, 'prod-run', new Date(0)))) as StateManifest;
  };
  const selected = (dir: string, select: string, stateManifest: StateManifest) => {
    const { manifest, dag } = parsed(dir);
    return [...selectNodes(manifest, dag, { select: [select], exclude: [], stateManifest }).selected].sort();
  };

  it('an unchanged project selects nothing, unit tests included', () => {
    const dir = writeTempProject(files('2'));
    const state = earlier(dir);
    expect(Object.keys((state as { unit_tests?: object }).unit_tests ?? {})).toEqual(['unit_test.p.b.doubles']);
    expect(selected(dir, 'state:modified+', state)).toEqual([]);
    expect(selected(dir, 'state:new', state)).toEqual([]);
  });

  it('a changed unit test selects only itself', () => {
    const dir = writeTempProject(files('2'));
    const state = earlier(dir);
    writeFileSync(join(dir, 'models/unit.yml'), files('3')['models/unit.yml']);
    expect(selected(dir, 'state:modified+', state)).toEqual(['unit_test.p.b.doubles']);
    expect(selected(dir, 'state:new', state)).toEqual([]);
  });
});
