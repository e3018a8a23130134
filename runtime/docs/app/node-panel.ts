/**
 * A node's page: what it is, its columns (types from the catalog, descriptions, tests), config,
 * state, the last run's result, its SQL, and the relations it reads without declaring them.
 * Every section is skipped when its data is missing rather than shown empty.
 */
import type { ManifestNode } from '../../manifest/types.js';
import type { SiteData } from './data.js';
import { displayValue, h } from './dom.js';
import { columnHref, nodeHref } from './routes.js';

export function nodePanel(data: SiteData, id: string): HTMLElement {
  const node = data.node(id);
  if (node === undefined) return h('section', { class: 'panel-body' }, h('h2', {}, 'Not found'), h('p', {}, `No node ${id} in this project.`));
  const artifact = data.artifactNode(id);
  const materialized = node.resource_type === 'model' ? (node.snapshot ? 'snapshot' : node.config.materialized) : undefined;
  return h(
    'section',
    { class: 'panel-body', 'data-node': id },
    h('p', { class: 'kind' }, node.resource_type, materialized ? ` · ${materialized}` : '', ...node.tags.map((t) => h('span', { class: 'tag' }, t))),
    h('h2', { id: 'panel-title', tabindex: -1 }, data.label(id)),
    h('p', { class: 'muted mono' }, id, ' · ', node.original_file_path),
    undeclaredSection(data, id),
    section('Description', (artifact?.description ?? node.description) ? h('p', { class: 'description' }, artifact?.description ?? node.description) : h('p', { class: 'muted' }, 'No description.')),
    columnsSection(data, node),
    nodeTestsSection(data, id),
    neighboursSection(data, id),
    stateSection(data, id),
    runSection(data, id),
    codeSection('SQL', artifact?.raw_code ?? (node.resource_type === 'model' ? node.raw_code : undefined), 'raw'),
    codeSection('Compiled SQL', artifact?.compiled_code, 'compiled'),
    configSection(artifact?.config ?? (node as { config?: unknown }).config),
  );
}

function section(title: string, ...body: Array<Node | null>): HTMLElement {
  return h('section', { class: `section section-${title.toLowerCase().replace(/[^a-z]+/g, '-')}` }, h('h3', {}, title), ...body);
}

function undeclaredSection(data: SiteData, id: string): HTMLElement | null {
  const reads = data.undeclared(id);
  if (reads.length === 0) return null;
  return h(
    'section',
    { class: 'section warning section-undeclared', role: 'note' },
    h('h3', {}, '⚠ Undeclared dependencies'),
    h('p', {}, 'This model reads relations it does not declare with ref() or source(): the graph and selection do not know it depends on them.'),
    h(
      'ul',
      {},
      ...reads.map((r) => h('li', {}, h('code', {}, r.relation), ' is ', link(data, r.node), ' — write ', h('code', {}, r.suggestion))),
    ),
  );
}

function columnsSection(data: SiteData, node: ManifestNode): HTMLElement {
  const id = node.unique_id;
  const declared = data.artifactNode(id)?.columns ?? node.columns;
  const catalog = data.catalogColumns(id);
  // The catalog's order (the table's), then columns only declared in YAML.
  const names = [
    ...Object.values(catalog)
      .sort((a, b) => (a.index ?? 0) - (b.index ?? 0))
      .map((c) => c.name ?? ''),
    ...Object.keys(declared),
  ].filter((name, i, all) => name !== '' && all.findIndex((n) => n.toLowerCase() === name.toLowerCase()) === i);
  if (names.length === 0) return section('Columns', h('p', { class: 'muted' }, 'No columns known: none declared and no catalog.'));
  const tests = data.tests(id).filter((t) => t.resource_type === 'test' && t.column_name !== undefined);
  const rows = names.map((name) => {
    const decl = declared[name] ?? Object.values(declared).find((c) => c.name?.toLowerCase() === name.toLowerCase());
    const type = catalog[name]?.type ?? decl?.data_type ?? '';
    const columnTests = tests.filter((t) => t.resource_type === 'test' && t.column_name?.toLowerCase() === name.toLowerCase());
    const lineage = data.lineage.upstream({ node: id, column: name }).length + data.lineage.downstream({ node: id, column: name }).length;
    return h(
      'tr',
      { 'data-column': name },
      h('td', { class: 'mono' }, h('a', { href: columnHref(id, name), title: 'Column lineage' }, name), lineage > 0 ? h('span', { class: 'lineage-mark', title: 'has column lineage' }, ' ⇄') : null),
      h('td', { class: 'mono type' }, type),
      h('td', {}, decl?.description ?? catalog[name]?.comment ?? ''),
      h('td', { class: 'tests' }, ...columnTests.map((t) => testBadge(data, t))),
    );
  });
  return section(
    'Columns',
    h('table', { class: 'columns' }, h('thead', {}, h('tr', {}, h('th', {}, 'Column'), h('th', {}, 'Type'), h('th', {}, 'Description'), h('th', {}, 'Tests'))), h('tbody', {}, ...rows)),
  );
}

/** Tests on the whole node (not on one column) and unit tests. */
function nodeTestsSection(data: SiteData, id: string): HTMLElement | null {
  const tests = data.tests(id).filter((t) => t.resource_type === 'unit_test' || (t.resource_type === 'test' && t.column_name === undefined));
  if (tests.length === 0) return null;
  return section('Tests', h('ul', { class: 'node-tests' }, ...tests.map((t) => h('li', {}, testBadge(data, t), t.resource_type === 'unit_test' ? ' unit test' : ''))));
}

function testBadge(data: SiteData, test: ManifestNode): HTMLElement {
  const name = test.resource_type === 'test' && test.test_metadata ? testLabel(test.test_metadata.name, test.test_metadata.kwargs) : test.name;
  const status = data.result(test.unique_id)?.status;
  return h('span', { class: `test-badge${status ? ` status-${status}` : ''}`, title: `${test.unique_id}${status ? ` — last run: ${status}` : ''}`, 'data-test': test.unique_id }, name, status ? ` · ${status}` : '');
}

function testLabel(name: string, kwargs: Readonly<Record<string, unknown>>): string {
  const shown = Object.entries(kwargs).filter(([k]) => k !== 'column_name' && k !== 'model');
  if (shown.length === 0) return name;
  return `${name}(${shown.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')})`;
}

function neighboursSection(data: SiteData, id: string): HTMLElement {
  const list = (ids: string[]) => (ids.length === 0 ? h('span', { class: 'muted' }, 'none') : h('span', {}, ...ids.flatMap((p, i) => [i > 0 ? ', ' : '', link(data, p)])));
  const drawn = (ids: string[]) => ids.filter((p) => ['model', 'seed', 'source'].includes(data.node(p)?.resource_type ?? '')).sort();
  return section(
    'Dependencies',
    h('dl', { class: 'facts' }, h('dt', {}, 'Depends on'), h('dd', {}, list(drawn(data.dag.inNeighbors(id)))), h('dt', {}, 'Used by'), h('dd', {}, list(drawn(data.dag.outNeighbors(id))))),
  );
}

function stateSection(data: SiteData, id: string): HTMLElement | null {
  const state = data.state(id);
  if (state === undefined) return null;
  const facts: Array<[string, unknown]> = [
    ['Committed watermark', state.watermark],
    ['Rows', state.rows],
    ['Version', state.version],
    ['Batches', state.batches],
    ['Committed at', state.committed_at],
  ];
  return section('State', factList(facts.filter(([, v]) => v !== undefined)));
}

function runSection(data: SiteData, id: string): HTMLElement | null {
  const result = data.result(id);
  if (result === undefined) return null;
  const facts: Array<[string, unknown]> = [
    ['Status', result.status],
    ['Time', result.execution_time === undefined ? undefined : `${result.execution_time.toFixed(2)} s`],
    ['Rows affected', result.adapter_response?.rows_affected],
    ['Message', result.message ?? undefined],
    ['Failures', result.failures ?? undefined],
  ];
  return section('Last run', factList(facts.filter(([, v]) => v !== undefined)));
}

function factList(facts: Array<[string, unknown]>): HTMLElement {
  return h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, h('pre', {}, displayValue(v)))]));
}

function codeSection(title: string, code: string | undefined, kind: string): HTMLElement | null {
  if (code === undefined || code === '') return null;
  return h('details', { class: `section code code-${kind}`, open: kind === 'raw' }, h('summary', {}, title), h('pre', {}, h('code', {}, code)));
}

function configSection(config: unknown): HTMLElement | null {
  if (config === null || typeof config !== 'object') return null;
  const entries = Object.entries(config as Record<string, unknown>).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0) && !(v !== null && typeof v === 'object' && Object.keys(v).length === 0));
  return h('details', { class: 'section config' }, h('summary', {}, 'Config'), factList(entries));
}

export function link(data: SiteData, id: string): HTMLElement {
  return h('a', { href: nodeHref(id), class: 'node-link' }, data.label(id));
}
