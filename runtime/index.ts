/**
 * smelter's runtime as a library: the one entry adapters import. Load -> parse -> select -> plan
 * -> execute, each step also usable on its own.
 */
export * from './errors.js';
export type * from './manifest/types.js';
export type { ProjectConfig, TargetConfig } from './project/project-config.js';
export { loadProject, type LoadedProject } from './project/load-project.js';
export { parseProject, type ParseResult } from './parse/parse-project.js';
export { buildDag, findCycle, topologicalOrder } from './graph/dag.js';
export { selectNodes } from './select/select.js';
export { parseSelector } from './select/selector.js';
export { planRun, type RunPlan } from './plan/plan.js';
export { stateMachineFor, RETRIED_ERRORS, type StateMachineOptions } from './plan/state-machine.js';
export { renderModel } from './render/render-model.js';
export type { NodeResult, RunEvent, RunResult } from './execute/results.js';
export type { StateRecord } from './state/state-record.js';
export type { StateStore } from './state/state-store.js';
export {
  openProject,
  listNodes,
  compileProject,
  runProject,
  testProject,
  stateMachine,
  showState,
  resetState,
  type Command,
  type InvocationOptions,
  type CompileOutcome,
  type RunOutcome,
  type BuildCommand,
  type Selected,
} from './invocation.js';
export { Session, type SessionOptions, type SessionRunOptions } from './session.js';
