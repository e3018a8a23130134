import { CompileError } from '../errors.js';
import { didYouMean } from '../util/did-you-mean.js';
import type { ParseContext } from './parse-context.js';
import type { ProjectMacros } from './parse-macros.js';
import type { ParsedNodes } from './parsed-nodes.js';

/**
 * Second pass: resolve refs and sources now that every node is known. Each model, analysis and
 * singular test gets its `depends_on`: the nodes it reads, and the macros its template calls
 * (`calledNames`, by unique_id) with what they call.
 */
export function resolveDependencies(ctx: ParseContext, macros: ProjectMacros, parsed: ParsedNodes, calledNames: ReadonlyMap<string, ReadonlySet<string>>): void {
  const { diagnostics, broken } = ctx;
  const { nodes, byPackage, sourceTables } = parsed;
  const disabledByName = new Map(Object.values(parsed.disabled).map((n) => [n.name, n]));
  for (const node of Object.values(nodes)) {
    if (node.resource_type !== 'model' && node.resource_type !== 'analysis' && !(node.resource_type === 'test' && node.test_type === 'singular')) continue;
    const deps: string[] = [];
    for (const ref of node.refs) {
      const target = parsed.resolveRef(ref.name, node.package_name, ref.package);
      const location = { file: node.original_file_path, line: ref.line };
      if (!target && broken.names.has(ref.name)) {
        broken.incomplete.add(node.unique_id);
        continue;
      }
      if (!target) {
        const off = disabledByName.get(ref.name);
        const call = ref.package === undefined ? `ref('${ref.name}')` : `ref('${ref.package}', '${ref.name}')`;
        const message = off
          ? `${call}: ${off.resource_type} ${ref.name} is disabled (enabled: false)`
          : ref.package !== undefined && !byPackage.has(ref.package)
            ? `${call}: no package named ${ref.package}`
            : `${call}: no model or seed named ${ref.name}${ref.package === undefined ? '' : ` in package ${ref.package}`}`;
        diagnostics.report(new CompileError(message, { code: 'ref', location, node: node.unique_id, hint: off ? undefined : didYouMean(ref.name, ref.package === undefined ? parsed.allNames() : [...(byPackage.get(ref.package)?.keys() ?? [])]) }));
        continue;
      }
      if (!deps.includes(target.unique_id)) deps.push(target.unique_id);
    }
    for (const src of node.sources) {
      const target = sourceTables.get(`${src.source}.${src.table}`);
      if (!target && broken.isBrokenSource(src.source)) {
        broken.incomplete.add(node.unique_id);
        continue;
      }
      if (!target) {
        diagnostics.report(
          new CompileError(`source('${src.source}', '${src.table}'): no such source table`, {
            code: 'ref',
            location: { file: node.original_file_path, line: src.line },
            node: node.unique_id,
            hint: didYouMean(`${src.source}.${src.table}`, sourceTables.keys()),
          }),
        );
        continue;
      }
      if (!deps.includes(target.unique_id)) deps.push(target.unique_id);
    }
    const used = new Set<string>();
    for (const called of calledNames.get(node.unique_id) ?? []) {
      if (!macros.byName[called]) continue;
      used.add(called);
      for (const m of macros.closure(called)) used.add(m);
    }
    nodes[node.unique_id] = { ...node, depends_on: { nodes: deps, macros: [...used].sort().map((m) => macros.byName[m].unique_id) } };
  }
}
