import type { FastSegment } from '../manifest/types.js';
import { lookupVar } from '../render/context.js';
import type { ScanResult } from './jinja-scan.js';
import type { ParseContext } from './parse-context.js';
import type { ParsedNodes } from './parsed-nodes.js';

// A model's fast path: render/render-model.ts writes these segments without the template engine.

/** Segments for templates made of text and simple calls only; undefined otherwise. */
export function fastPath(scan: ScanResult): FastSegment[] | undefined {
  const out: FastSegment[] = [];
  for (const part of scan.parts) {
    if (part.kind === 'text') out.push({ kind: 'text', text: part.text });
    else if (part.kind === 'comment') continue;
    else if (part.kind === 'complex') return undefined;
    else {
      const { call } = part;
      if (call.name === 'ref' && call.args.length === 1 && typeof call.args[0] === 'string' && Object.keys(call.kwargs).length === 0) {
        out.push({ kind: 'ref', name: call.args[0], line: call.line });
      } else if (call.name === 'source' && call.args.length === 2 && typeof call.args[0] === 'string' && typeof call.args[1] === 'string' && Object.keys(call.kwargs).length === 0) {
        out.push({ kind: 'source', source: call.args[0], table: call.args[1], line: call.line });
      } else if (call.name === 'var' && typeof call.args[0] === 'string' && call.args.length <= 2 && Object.keys(call.kwargs).length === 0) {
        out.push({ kind: 'var', name: call.args[0], hasDefault: call.args.length === 2, default: call.args[1], line: call.line });
      } else if (call.name === 'config' && call.args.length === 0) {
        out.push({ kind: 'config' });
      } else {
        return undefined;
      }
    }
  }
  return out;
}

/** A var segment renders on the fast path only when its value prints the way Nunjucks prints it. */
function varIsRenderable(varValues: Readonly<Record<string, unknown>>, s: Extract<FastSegment, { kind: 'var' }>): boolean {
  try {
    const v = lookupVar(varValues, s.name, s.hasDefault, s.default);
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  } catch {
    return false;
  }
}

/** Fast-path templates need their vars to exist now; otherwise render them normally. */
export function keepRenderableFastPaths(ctx: ParseContext, parsed: ParsedNodes): void {
  const { nodes } = parsed;
  for (const node of Object.values(nodes)) {
    if (node.resource_type !== 'model' || !node.fast_path) continue;
    const ok = node.fast_path.every((s) => s.kind !== 'var' || varIsRenderable(ctx.project.varValues, s));
    if (!ok) nodes[node.unique_id] = { ...node, fast_path: undefined };
  }
}
