export { computeColumnLineage, type LineageInput } from './column-lineage.js';
export type { ColumnRef, ColumnLineage, UndeclaredRead, LineageResult } from './types.js';
export { UndeclaredReads, undeclaredWarning } from './undeclared-reads.js';
