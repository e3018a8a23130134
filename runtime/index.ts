/**
 * smelter's runtime as a library: the one entry adapters import. Load -> parse -> select -> plan
 * -> execute, each step also usable on its own.
 */
export * from './errors.js';
export type * from './manifest/types.js';
export type { ProjectConfig, TargetConfig } from './project/project-config.js';
export { loadProject, type LoadedProject } from './project/load-project.js';
export { parseProject, type ParseResult } from './parse/parse-project.js';
export { buildDag, findCycle, topologicalOrder, type Dag } from './graph/dag.js';
export { selectNodes, INDIRECT_SELECTION_MODES, type IndirectSelection } from './select/select.js';
export { parseSelector } from './select/selector.js';
export { planRun, type RunPlan } from './plan/plan.js';
export { renderModel } from './render/render-model.js';
export type { NodeResult, RunEvent, RunResult } from './execute/results.js';
export { windowsBetween } from './execute/batches.js';
export type { StateRecord } from './state/state-record.js';
export { isCommitted, resetRecord, RECORD_FIELDS } from './state/state-record.js';
export { isLeaseHeld, isLeaseLost, isStaleWrite } from './state/state-store.js';
export type { StateStore, Lease } from './state/state-store.js';
export type { Engine, EngineConnection } from './engine/engine.js';
export type { Storage, StoredFile, FileRef, LocalFiles, StagingArea, StagedFile, CommittedFile, FileSetManifest } from './storage/storage.js';
export type { FileReader, SourceObject } from './storage/file-reader.js';
export { SMELTER_AREA } from './storage/storage.js';
export { isRemoteAddress, type Backends, type OpenStateStore } from './backends.js';
export { isStateful, stateKey, traitsOf, type MaterializationTraits } from './materializations/traits.js';
export {
  openProject,
  selectFrom,
  listNodes,
  parseToManifest,
  compileProject,
  runProject,
  testProject,
  showState,
  resetState,
  verifyState,
  adoptState,
  type Command,
  type InvocationOptions,
  type CompileOutcome,
  type RunOutcome,
  type BuildCommand,
  type Selected,
  type ParsedProject,
} from './invocation.js';
export { cleanProject, type CleanOutcome } from './maintenance/clean.js';
export { sourceFreshness, type FreshnessResult } from './source-freshness.js';
export { planRetry, runRetry, type RetryPlan } from './retry.js';
export { initProject } from './init-project.js';
export { debugProject, type DebugCheck } from './debug-project.js';
export { runOperation, type OperationOutcome } from './run-operation.js';
export { previewProject, type Preview, type PreviewOutcome } from './preview.js';
export type { VerifiedModel } from './maintenance/verify-state.js';
export type { AdoptedModel } from './maintenance/adopt-state.js';
export { Session, type SessionOptions, type SessionRunOptions } from './session.js';
export { readPackagesFile, PACKAGES_FILE_NAMES, type PackagesFile } from './packages/packages-file.js';
export type { PackageSpec } from './packages/package-spec.js';
export { installPackages, type InstallOptions, type InstallOutcome } from './packages/install-packages.js';
export { installedLine, type InstalledPackage } from './packages/installed-package.js';
export { PackageInstallError } from './packages/install-error.js';
export { findMissingPackages } from './packages/installed-check.js';
export { computeColumnLineage, type LineageInput } from './lineage/column-lineage.js';
export type { ColumnRef, ColumnLineage, UndeclaredRead, LineageResult } from './lineage/types.js';
