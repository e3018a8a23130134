/** A column's lineage: the columns it comes from and those it goes to, each side as a tree. */
import { columnKey, lineageTree, type LineageTree } from '../column-lineage.js';
import type { ColumnRef } from '../site-data.js';
import type { SiteData } from './data.js';
import { h } from './dom.js';
import { link } from './node-panel.js';
import { columnHref, nodeHref } from './routes.js';

export function lineagePanel(data: SiteData, ref: ColumnRef): HTMLElement {
  const up = lineageTree(data.lineage, ref, 'up');
  const down = lineageTree(data.lineage, ref, 'down');
  return h(
    'section',
    { class: 'panel-body', 'data-column-lineage': columnKey(ref) },
    h('p', { class: 'kind' }, 'column lineage'),
    h('h2', { id: 'panel-title', tabindex: -1, class: 'mono' }, `${data.label(ref.node)}.${ref.column}`),
    h('p', {}, h('a', { href: nodeHref(ref.node) }, `← ${data.label(ref.node)}`)),
    h('section', { class: 'section lineage-upstream' }, h('h3', {}, 'Comes from'), treeList(data, up.next, 'none recorded: a source column, or no lineage for this model')),
    h('section', { class: 'section lineage-downstream' }, h('h3', {}, 'Goes to'), treeList(data, down.next, 'no column is computed from it')),
  );
}

function treeList(data: SiteData, trees: readonly LineageTree[], empty: string): HTMLElement {
  if (trees.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'ul',
    { class: 'lineage-tree' },
    ...trees.map((t) =>
      h(
        'li',
        { 'data-ref': `${t.ref.node}.${t.ref.column}` },
        link(data, t.ref.node),
        '.',
        h('a', { href: columnHref(t.ref.node, t.ref.column), class: 'mono column-link' }, t.ref.column),
        t.next.length > 0 ? treeList(data, t.next, '') : null,
      ),
    ),
  );
}

/** Every node a tree reaches: highlighted on the graph. */
export function lineageNodes(data: SiteData, ref: ColumnRef): Set<string> {
  const nodes = new Set<string>();
  const walk = (t: LineageTree) => {
    nodes.add(t.ref.node);
    t.next.forEach(walk);
  };
  walk(lineageTree(data.lineage, ref, 'up'));
  walk(lineageTree(data.lineage, ref, 'down'));
  return nodes;
}
