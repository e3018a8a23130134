import { selectNodes, type IndirectSelection } from '../../runtime/index.js';
import type { openProject } from '../../runtime/index.js';

/** A generated state machine definition, read as plain JSON. */
export type Definition = Record<string, any>;

/** What the Lambda's build runs for an event: its selection, as the handler makes it (names, sorted). */
export function runsOf(p: ReturnType<typeof openProject>) {
  return (event: { select: string[]; exclude?: string[]; indirect_selection?: IndirectSelection }): string[] =>
    [...selectNodes(p.manifest, p.dag, { select: event.select, exclude: event.exclude ?? [], indirectSelection: event.indirect_selection, resourceTypes: ['model', 'seed', 'test', 'unit_test'] }).selected]
      .map((id) => p.manifest.nodes[id].name)
      .sort();
}

/** Every Task's Parameters by state name, inside Parallel branches and Map processors too. */
export function tasks(definition: Definition): Record<string, Definition> {
  const out: Record<string, Definition> = {};
  const visit = (states: Record<string, Definition>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') out[name] = state.Parameters;
      for (const b of state.Branches ?? []) visit(b.States);
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
    }
  };
  visit(definition.States);
  return out;
}
