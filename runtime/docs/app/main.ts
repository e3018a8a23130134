/**
 * The docs site's entry: reads the embedded data, draws the graph and the node list, and follows
 * the filter box and the hash. On <body>: `data-ready` once the page answers input, `data-graph`
 * once the graph is drawn, `data-filter` the filter the drawn graph shows (what tests wait for).
 */
import { filterGraphNodes, type FilterResult } from '../filter-nodes.js';
import { SiteData } from './data.js';
import { h } from './dom.js';
import { GraphView } from './graph-view.js';
import { lineageNodes, lineagePanel } from './lineage-panel.js';
import { nodePanel } from './node-panel.js';
import { nodeHref, parseRoute } from './routes.js';

const FILTER_DELAY_MS = 120;

function start(): void {
  performance.mark('docs:start');
  const data = SiteData.fromPage();
  performance.mark('docs:data');
  const manifest = data.raw.manifest;
  const graph = new GraphView(data, (id) => (location.hash = nodeHref(id)));

  const filter = h('input', {
    id: 'filter',
    type: 'search',
    placeholder: 'Select: +my_model, tag:daily, path:models/x — or a name   ( / )',
    'aria-label': 'Filter nodes by selector or name',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const status = h('span', { id: 'filter-status', role: 'status', 'aria-live': 'polite' });
  const list = h('ul', { id: 'node-list' });
  const panelContent = h('div', { id: 'panel-content' });
  const panel = h('aside', { id: 'panel', 'aria-label': 'Node details', hidden: true }, h('button', { class: 'close', 'aria-label': 'Close panel', title: 'Close (Esc)', onclick: () => (location.hash = '') }, '×'), panelContent);
  const toolbar = h(
    'div',
    { class: 'toolbar' },
    h('button', { onclick: () => graph.zoom(1 / 1.25), 'aria-label': 'Zoom in', title: 'Zoom in (+)' }, '+'),
    h('button', { onclick: () => graph.zoom(1.25), 'aria-label': 'Zoom out', title: 'Zoom out (-)' }, '−'),
    h('button', { onclick: () => graph.fit(), 'aria-label': 'Fit graph', title: 'Fit (f)' }, 'Fit'),
  );
  document.body.replaceChildren(
    h(
      'header',
      { class: 'top' },
      h('h1', {}, h('a', { href: '#' }, manifest.project_name), h('span', { class: 'muted' }, ' docs')),
      filter,
      status,
      h('span', { class: 'generated muted' }, `generated ${data.raw.generatedAt}`),
    ),
    h('div', { class: 'layout' }, h('nav', { class: 'list', 'aria-label': 'Nodes' }, list), h('main', { class: 'graph-wrap' }, toolbar, graph.element, legend()), panel),
  );

  let current: FilterResult | undefined;
  const applyFilter = (text: string) => {
    const result = filterGraphNodes(manifest, data.dag, text);
    current = result;
    performance.mark('docs:filtered');
    list.replaceChildren(
      ...[...result.ids]
        .sort((a, b) => data.label(a).localeCompare(data.label(b)))
        .map((id) => {
          const node = data.node(id)!;
          return h('li', {}, h('a', { href: nodeHref(id), 'data-id': id }, h('span', { class: `dot type-${node.resource_type}` }), data.label(id), data.undeclared(id).length > 0 ? h('span', { class: 'warn', title: 'undeclared dependencies' }, ' ⚠') : null));
        }),
    );
    const what = { all: 'all nodes', selector: 'selector', name: `name contains “${text.trim()}”`, error: '' }[result.kind];
    status.textContent = result.kind === 'error' ? result.message : `${result.ids.length} node${result.ids.length === 1 ? '' : 's'} · ${what}`;
    status.classList.toggle('error', result.kind === 'error');
    // `data-filter` says which filter the graph shows: set once its nodes are drawn.
    return graph.draw(result.ids).then((drawn) => {
      if (!drawn) return;
      performance.mark('docs:drawn');
      document.body.dataset.filter = text.trim();
      markRoute();
    });
  };

  let timer: number | undefined;
  filter.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void applyFilter(filter.value), FILTER_DELAY_MS);
  });
  filter.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      window.clearTimeout(timer);
      void applyFilter(filter.value);
      const first = current?.ids.length === 1 ? current.ids[0] : undefined;
      if (first !== undefined) location.hash = nodeHref(first);
    } else if (e.key === 'Escape') {
      filter.value = '';
      void applyFilter('');
    }
  });

  const markRoute = () => {
    const route = parseRoute(location.hash);
    if (route.kind === 'home') graph.mark(undefined);
    else if (route.kind === 'node') graph.mark(route.id);
    else graph.mark(route.id, lineageNodes(data, { node: route.id, column: route.column }));
    if (route.kind !== 'home') graph.reveal(route.id);
  };
  const showRoute = () => {
    const route = parseRoute(location.hash);
    panel.hidden = route.kind === 'home';
    if (route.kind === 'node') panelContent.replaceChildren(nodePanel(data, route.id));
    else if (route.kind === 'column') panelContent.replaceChildren(lineagePanel(data, { node: route.id, column: route.column }));
    markRoute();
  };
  window.addEventListener('hashchange', () => {
    showRoute();
    document.getElementById('panel-title')?.focus({ preventScroll: true });
  });

  document.addEventListener('keydown', (e) => {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (typing) return;
    if (e.key === '/') {
      e.preventDefault();
      filter.focus();
    } else if (e.key === 'Escape' && !panel.hidden) {
      location.hash = '';
    } else if (e.key === '+' || e.key === '=') graph.zoom(1 / 1.25);
    else if (e.key === '-') graph.zoom(1.25);
    else if (e.key === 'f') graph.fit();
    else if (e.key.startsWith('Arrow') && (e.target as Element | null)?.closest?.('.graph')) {
      e.preventDefault();
      graph.pan(e.key === 'ArrowLeft' ? -1 : e.key === 'ArrowRight' ? 1 : 0, e.key === 'ArrowUp' ? -1 : e.key === 'ArrowDown' ? 1 : 0);
    }
  });

  // Interactive once the filter, the list and the panels answer; the graph follows when laid out
  // (in a worker for a large project, so the page answers meanwhile).
  const drawn = applyFilter('');
  showRoute();
  document.body.dataset.ready = 'true';
  performance.mark('docs:interactive');
  void drawn.then(() => {
    document.body.dataset.graph = 'drawn';
    performance.mark('docs:graph-drawn');
  });
}

/** What the node outlines mean. */
function legend(): HTMLElement {
  const item = (cls: string, text: string) => h('li', {}, h('span', { class: `swatch ${cls}` }), text);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    item('type-model', 'model'),
    item('mat-ephemeral', 'ephemeral'),
    item('mat-snapshot', 'snapshot / scd2'),
    item('type-seed', 'seed'),
    item('type-source', 'source'),
    item('undeclared', '⚠ undeclared dependency'),
  );
}

try {
  start();
} catch (error) {
  // A page that cannot start says why on the page, not only in a console nobody opens.
  document.body.replaceChildren(h('pre', { class: 'fatal' }, `The docs page could not start: ${error instanceof Error ? error.message : String(error)}`));
  throw error;
}
