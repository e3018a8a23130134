/**
 * Skewed choices in SQL: each weighted list becomes a table of slot ranges, and a row picks the
 * item whose range holds `hash(...) % SLOTS`. An equality join on a 65,536-row table is far cheaper
 * per row than a range join over cumulative weights.
 */
import { ASSETS, TYPE_SHARE, type AssetType } from './assets.js';
import { departedMembers, firstRows, type MemberRow } from './members.js';
import { hash32 } from './prng.js';

export const SLOTS = 65_536;

export interface SlotRange {
  /** Index of the item in its list. */
  readonly index: number;
  /** Slots [lo, hi) pick it; lo === hi: never picked. */
  readonly lo: number;
  readonly hi: number;
}

/** Zipf's law: the item of rank r (0-based) weighs 1 / (r + 1)^s. */
export const zipf = (rank: number, s: number): number => 1 / Math.pow(rank + 1, s);

/** Slot ranges proportional to `weights`, rounded on the cumulative sum so they tile [0, SLOTS). */
export function slotRanges(weights: readonly number[]): SlotRange[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error('no item has a positive weight');
  let cumulative = 0;
  return weights.map((w, index) => {
    const lo = Math.round((cumulative / total) * SLOTS);
    cumulative += w;
    return { index, lo, hi: Math.round((cumulative / total) * SLOTS) };
  });
}

/** Within a type, popularity falls off with list order; stocks less steeply, so the tail trades too. */
export function assetWeights(): number[] {
  const ranks = new Map<AssetType, number>();
  const counts = new Map<AssetType, number>();
  for (const a of ASSETS) counts.set(a.type, (counts.get(a.type) ?? 0) + 1);
  const norm = new Map<AssetType, number>();
  for (const [type, n] of counts) norm.set(type, Array.from({ length: n }, (_, r) => zipf(r, exponent(type))).reduce((a, b) => a + b, 0));
  return ASSETS.map((a) => {
    const rank = ranks.get(a.type) ?? 0;
    ranks.set(a.type, rank + 1);
    return (TYPE_SHARE[a.type] * zipf(rank, exponent(a.type))) / norm.get(a.type)!;
  });
}

const exponent = (type: AssetType): number => (type === 'Stock' ? 0.8 : 1);

/** Most members never file a periodic transaction report; the rest trade with Zipf-skewed frequency. */
const TRADING_SHARE = 0.65;
const MEMBER_EXPONENT = 1;

export interface TradingMember {
  readonly bioguide_id: string;
  /** The first effective_date: no trade of theirs may be earlier. */
  readonly first_date: string;
  readonly weight: number;
}

/**
 * Who trades how often, derived from the members table alone (so a generated day, which reads the
 * members back from Parquet, ranks them exactly as the base did): members ordered by a seeded hash
 * of their bioguide_id, the first 65% traders with Zipf weights, the rest and anyone who left their
 * seat never.
 */
export function tradingMembers(rows: readonly MemberRow[], seed: number): TradingMember[] {
  const departed = departedMembers(rows);
  const ranked = [...firstRows(rows).values()]
    .filter((r) => !departed.has(r.bioguide_id))
    .map((r) => ({ r, key: hash32(`${seed}:${r.bioguide_id}`) }))
    .sort((a, b) => a.key - b.key || (a.r.bioguide_id < b.r.bioguide_id ? -1 : 1));
  const traders = Math.max(1, Math.round(TRADING_SHARE * ranked.length));
  return ranked.slice(0, traders).map(({ r }, rank) => ({ bioguide_id: r.bioguide_id, first_date: r.effective_date, weight: zipf(rank, MEMBER_EXPONENT) }));
}
