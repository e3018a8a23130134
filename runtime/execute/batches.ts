import type { BatchWindow } from '../render/render-model.js';

/**
 * Microbatch arithmetic (pure): batch windows of a size, the record of batches done as merged
 * ranges (so a record stays small however many batches a model has), and which batches a run builds.
 */
export type BatchSize = 'hour' | 'day' | 'month' | 'year';
/** Half-open ranges [start, end) of event time whose batches are committed, sorted, disjoint. */
export type BatchRanges = ReadonlyArray<readonly [string, string]>;

export function floorTo(date: Date, size: BatchSize): Date {
  const d = new Date(date.getTime());
  if (size === 'year') d.setUTCMonth(0, 1);
  if (size === 'year' || size === 'month') d.setUTCDate(1);
  if (size !== 'hour') d.setUTCHours(0, 0, 0, 0);
  else d.setUTCMinutes(0, 0, 0);
  return d;
}

export function nextBatchStart(date: Date, size: BatchSize): Date {
  const d = new Date(date.getTime());
  if (size === 'hour') d.setUTCHours(d.getUTCHours() + 1);
  else if (size === 'day') d.setUTCDate(d.getUTCDate() + 1);
  else if (size === 'month') d.setUTCMonth(d.getUTCMonth() + 1);
  else d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d;
}

const iso = (d: Date) => d.toISOString();

/** Every window whose start lies in [floor(from), to). */
export function windowsBetween(from: Date, to: Date, size: BatchSize): BatchWindow[] {
  const out: BatchWindow[] = [];
  for (let start = floorTo(from, size); start < to; start = nextBatchStart(start, size)) {
    out.push({ start: iso(start), end: iso(nextBatchStart(start, size)) });
  }
  return out;
}

export function isDone(ranges: BatchRanges, window: BatchWindow): boolean {
  return ranges.some(([s, e]) => s <= window.start && window.end <= e);
}

export function withBatch(ranges: BatchRanges, window: BatchWindow): Array<[string, string]> {
  const all = [...ranges.map(([s, e]) => [s, e] as [string, string]), [window.start, window.end] as [string, string]].sort((a, b) =>
    a[0].localeCompare(b[0]),
  );
  const merged: Array<[string, string]> = [];
  for (const [s, e] of all) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = e > last[1] ? e : last[1];
    else merged.push([s, e]);
  }
  return merged;
}

export interface BatchPlanInput {
  readonly begin: Date;
  readonly now: Date;
  readonly size: BatchSize;
  /** The current batch and the `lookback` batches before it are rebuilt every run (dbt's lookback). */
  readonly lookback: number;
  readonly done: BatchRanges;
  /** --event-time-start/--event-time-end: rebuild every batch in this range (a backfill). */
  readonly start?: Date;
  readonly end?: Date;
}

/** The batches a run builds, oldest first: gaps and the lookback window, or a backfill range. */
export function batchesToRun(input: BatchPlanInput): BatchWindow[] {
  if (input.start || input.end) {
    return windowsBetween(input.start ?? input.begin, input.end ?? input.now, input.size);
  }
  const all = windowsBetween(input.begin, input.now, input.size);
  const recent = new Set(all.slice(Math.max(0, all.length - input.lookback - 1)).map((w) => w.start));
  return all.filter((w) => recent.has(w.start) || !isDone(input.done, w));
}
