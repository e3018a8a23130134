/**
 * The lineage graph: dagre lays the drawn nodes out left to right (layout.ts, in a worker when the
 * graph is large), the SVG draws them, and the
 * view pans (drag), zooms (wheel, +/-) and fits. A filter redraws only the nodes it leaves, laid
 * out again so a selection reads as a compact graph of its own.
 */
import { svg } from './dom.js';
import type { SiteData } from './data.js';
import { LayoutClient } from './layout-client.js';
import type { LayoutResult } from './layout.js';

const NODE_HEIGHT = 30;
const CHAR_WIDTH = 7.2;
const LAYOUT_CACHE_SIZE = 8;

interface ViewBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

export class GraphView {
  readonly element: SVGSVGElement;
  private readonly layer: SVGGElement;
  private view: ViewBox = { x: 0, y: 0, w: 100, h: 100 };
  private bounds: ViewBox = { x: 0, y: 0, w: 100, h: 100 };
  private readonly nodeElements = new Map<string, SVGGElement>();
  private readonly layouts = new LayoutClient();
  private drawSeq = 0;
  /** Recent layouts by their node list: clearing a filter back to all nodes needs no new one. */
  private readonly cache = new Map<string, LayoutResult>();

  constructor(
    private readonly data: SiteData,
    private readonly open: (id: string) => void,
  ) {
    this.layer = svg('g');
    this.element = svg(
      'svg',
      { class: 'graph', role: 'group', 'aria-label': 'Lineage graph' },
      svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))),
      this.layer,
    );
    this.element.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.element.addEventListener('pointerdown', (e) => this.onPointerDown(e));
  }

  /**
   * Lays out and draws exactly `ids` (edges between them only). Resolves false when a later call
   * superseded this one before its layout came back (nothing drawn).
   */
  async draw(ids: readonly string[]): Promise<boolean> {
    const seq = ++this.drawSeq;
    const shown = new Set(ids);
    const edges: Array<[string, string]> = [];
    for (const id of ids) for (const child of this.data.dag.outNeighbors(id)) if (shown.has(child)) edges.push([id, child]);
    const widths = new Map(ids.map((id) => [id, nodeWidth(this.data.label(id))]));
    const key = ids.join('\n');
    const layout = this.cache.get(key) ?? (await this.layouts.layout({ nodes: ids.map((id) => ({ id, width: widths.get(id)!, height: NODE_HEIGHT })), edges }));
    this.cache.delete(key);
    this.cache.set(key, layout);
    if (this.cache.size > LAYOUT_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    if (seq !== this.drawSeq) return false;
    performance.mark('docs:layout');

    const edgeLayer = svg('g', { class: 'edges' });
    edges.forEach(([from, to], i) => {
      const points = layout.edges[i];
      if (points.length === 0) return;
      const d = points.map((p, k) => `${k === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
      edgeLayer.append(svg('path', { class: 'edge', d, 'marker-end': 'url(#arrow)', 'data-from': from, 'data-to': to }));
    });
    const nodeLayer = svg('g', { class: 'nodes' });
    this.nodeElements.clear();
    for (const id of ids) {
      const centre = layout.nodes[id];
      const element = this.nodeElement(id, centre.x, centre.y, widths.get(id)!);
      this.nodeElements.set(id, element);
      nodeLayer.append(element);
    }
    this.layer.replaceChildren(edgeLayer, nodeLayer);
    this.bounds = { x: 0, y: 0, w: Math.max(layout.width, 100), h: Math.max(layout.height, 100) };
    this.fit();
    return true;
  }

  private nodeElement(id: string, x: number, y: number, width: number): SVGGElement {
    const node = this.data.node(id)!;
    const materialized = node.resource_type === 'model' ? (node.snapshot ? 'snapshot' : node.config.materialized) : node.resource_type;
    const undeclared = this.data.undeclared(id).length > 0;
    const status = this.data.result(id)?.status;
    const label = this.data.label(id);
    const element = svg(
      'g',
      {
        class: `node type-${node.resource_type} mat-${materialized}${undeclared ? ' undeclared' : ''}${status ? ` status-${status}` : ''}`,
        transform: `translate(${(x - width / 2).toFixed(1)},${(y - NODE_HEIGHT / 2).toFixed(1)})`,
        'data-id': id,
        tabindex: 0,
        role: 'button',
        'aria-label': `${node.resource_type} ${label}${undeclared ? ', has undeclared dependencies' : ''}`,
      },
      svg('title', {}, `${id}\n${materialized}${undeclared ? '\n⚠ reads relations it does not ref()' : ''}`),
      svg('rect', { width: width.toFixed(1), height: NODE_HEIGHT, rx: 6 }),
      svg('text', { x: 10, y: NODE_HEIGHT / 2, 'dominant-baseline': 'central' }, label),
      undeclared ? svg('text', { class: 'badge', x: width - 14, y: NODE_HEIGHT / 2, 'dominant-baseline': 'central' }, '⚠') : null,
    );
    element.addEventListener('click', () => this.open(id));
    element.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        this.open(id);
      }
    });
    return element;
  }

  /** Marks one node as the open one, and `related` (e.g. a column's lineage) as highlighted. */
  mark(current: string | undefined, related: ReadonlySet<string> = new Set()): void {
    for (const [id, element] of this.nodeElements) {
      element.classList.toggle('current', id === current);
      element.classList.toggle('related', related.has(id));
    }
    for (const edge of this.layer.querySelectorAll<SVGPathElement>('.edge')) {
      const from = edge.dataset.from ?? '';
      const to = edge.dataset.to ?? '';
      edge.classList.toggle('related', (related.has(from) || from === current) && (related.has(to) || to === current) && related.size > 0);
    }
  }

  /** Brings `id` into view if it is drawn. */
  reveal(id: string): void {
    const element = this.nodeElements.get(id);
    if (element === undefined) return;
    const box = element.getBBox();
    const matrix = element.transform.baseVal.consolidate()?.matrix;
    const cx = (matrix?.e ?? 0) + box.width / 2;
    const cy = (matrix?.f ?? 0) + box.height / 2;
    const inside = cx > this.view.x && cx < this.view.x + this.view.w && cy > this.view.y && cy < this.view.y + this.view.h;
    if (!inside) this.setView({ ...this.view, x: cx - this.view.w / 2, y: cy - this.view.h / 2 });
  }

  /** The whole graph in view, never magnified: a small graph stays at its drawn size, centred. */
  fit(): void {
    const w = Math.max(this.bounds.w, this.element.clientWidth);
    const h = Math.max(this.bounds.h, this.element.clientHeight);
    this.setView({ x: this.bounds.x - (w - this.bounds.w) / 2, y: this.bounds.y - (h - this.bounds.h) / 2, w, h });
  }

  zoom(factor: number, cx = this.view.x + this.view.w / 2, cy = this.view.y + this.view.h / 2): void {
    const w = this.view.w * factor;
    const h = this.view.h * factor;
    this.setView({ x: cx - ((cx - this.view.x) * w) / this.view.w, y: cy - ((cy - this.view.y) * h) / this.view.h, w, h });
  }

  /** Arrow keys on the graph pan it by a tenth of the view. */
  pan(dx: number, dy: number): void {
    this.setView({ ...this.view, x: this.view.x + dx * this.view.w * 0.1, y: this.view.y + dy * this.view.h * 0.1 });
  }

  private setView(view: ViewBox): void {
    this.view = view;
    this.element.setAttribute('viewBox', `${view.x} ${view.y} ${view.w} ${view.h}`);
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    const p = this.toGraph(e.clientX, e.clientY);
    this.zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, p.x, p.y);
  }

  private onPointerDown(e: PointerEvent): void {
    if (e.button !== 0 || (e.target as Element).closest('.node')) return;
    const start = { x: e.clientX, y: e.clientY, view: { ...this.view } };
    const rect = this.element.getBoundingClientRect();
    const scale = Math.max(start.view.w / rect.width, start.view.h / rect.height);
    const move = (m: PointerEvent) => this.setView({ ...start.view, x: start.view.x - (m.clientX - start.x) * scale, y: start.view.y - (m.clientY - start.y) * scale });
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  }

  private toGraph(clientX: number, clientY: number): { x: number; y: number } {
    const matrix = this.element.getScreenCTM();
    if (matrix === null) return { x: this.view.x + this.view.w / 2, y: this.view.y + this.view.h / 2 };
    const point = new DOMPoint(clientX, clientY).matrixTransform(matrix.inverse());
    return { x: point.x, y: point.y };
  }
}

function nodeWidth(label: string): number {
  return Math.min(Math.max(label.length * CHAR_WIDTH + 34, 90), 320);
}
