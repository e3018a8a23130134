/**
 * silver.members: one row per change of a member's attributes. The base is the 118th House from its
 * first day, with the changes a Congress sees (committee moves, a new Speaker, a party switch,
 * renumbered districts, special elections); a generated day adds that day's changes and, now and
 * then, a late correction of an earlier version.
 */
import { COMMITTEES, DEPUTY_ROLES, EXCLUSIVE_COMMITTEES, LEADERSHIP, OTHER_COMMITTEES, STATES } from './congress.js';
import { addDays, epochDay, fromEpochDay } from './dates.js';
import { FIRST_NAMES, LAST_NAMES } from './names.js';
import { createRng, type Rng } from './prng.js';

export interface MemberRow {
  readonly bioguide_id: string;
  readonly first_name: string;
  readonly last_name: string;
  readonly party: string;
  readonly state: string;
  readonly district: string;
  readonly committees: readonly string[];
  readonly leadership_role: string | null;
  readonly effective_date: string;
}

/** The first day of the 118th Congress: every original member's first row. */
export const CONGRESS_START = '2023-01-03';
/** Base changes fall in this span, so they all precede the base's last filing day. */
const CHANGES_FROM = '2023-02-01';
const CHANGES_TO = '2024-12-20';
const SPEAKER_CHANGE = '2023-10-25';
const SPECIAL_ELECTIONS = 5;
const CHANGING_MEMBERS_SHARE = 0.12;
const DEPUTIES = 10;
/** A day without --late-changes has a late correction with this probability. */
const LATE_CHANGE_PROBABILITY = 0.2;

type Attributes = Pick<MemberRow, 'party' | 'state' | 'district' | 'committees' | 'leadership_role'>;
type Mutation = (current: Attributes) => Attributes;

interface Person {
  readonly bioguide_id: string;
  readonly first_name: string;
  readonly last_name: string;
  readonly start: string;
  initial: Attributes;
  /** Changes by effective date; several on one date make one row. */
  readonly changes: Map<string, Mutation[]>;
}

/** Members' rows sorted by bioguide_id then effective_date: the order the files are written in. */
export function sortMembers(rows: readonly MemberRow[]): MemberRow[] {
  return [...rows].sort((a, b) => cmp(a.bioguide_id, b.bioguide_id) || cmp(a.effective_date, b.effective_date));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The base members table for `seed`. */
export function baseMembers(seed: number): MemberRow[] {
  const rng = createRng(seed, 'members');
  const taken = new Set<string>();
  const people: Person[] = [];
  const newPerson = (state: string, district: string, party: string, start: string): Person => {
    const last = rng.pick(LAST_NAMES);
    const person: Person = {
      bioguide_id: bioguideId(rng, last, taken),
      first_name: rng.pick(FIRST_NAMES),
      last_name: last,
      start,
      initial: { party, state, district, committees: initialCommittees(rng), leadership_role: null },
      changes: new Map(),
    };
    people.push(person);
    return person;
  };

  for (const { state, seats, republican } of STATES) {
    const districts = seats === 1 ? ['AL'] : Array.from({ length: seats }, (_, i) => String(i + 1));
    const republicanSeats = new Set(rng.shuffle(districts).slice(0, republican));
    for (const district of districts) newPerson(state, district, republicanSeats.has(district) ? 'Republican' : 'Democrat', CONGRESS_START);
  }
  // Independents are rare: sometimes one from the start, and one or two party switches below.
  if (rng.chance(0.35)) {
    const p = rng.pick(people.filter((x) => x.initial.party === 'Democrat'));
    p.initial = { ...p.initial, party: 'Independent' };
  }

  const voting = people.filter((p) => !DELEGATE_STATES.has(p.initial.state));
  for (const { role, party } of LEADERSHIP) {
    const holder = rng.pick(voting.filter((p) => p.initial.party === party && p.initial.leadership_role === null));
    holder.initial = { ...holder.initial, leadership_role: role };
  }
  for (const p of rng.shuffle(voting.filter((x) => x.initial.leadership_role === null)).slice(0, DEPUTIES)) {
    p.initial = { ...p.initial, leadership_role: rng.pick(DEPUTY_ROLES) };
  }

  // Special elections: the seat's member leaves (their rows stay; they stop trading, see weights.ts)
  // and a successor for the same state and district starts on the day they are sworn in.
  const departed = new Set<Person>();
  const successors = new Set<Person>();
  for (const leaving of rng.shuffle(voting.filter((p) => p.initial.leadership_role === null)).slice(0, SPECIAL_ELECTIONS)) {
    const sworn = randomDate(rng, '2023-03-01', '2024-11-15');
    const flips = rng.chance(0.15);
    const party = !flips ? leaving.initial.party : leaving.initial.party === 'Republican' ? 'Democrat' : 'Republican';
    departed.add(leaving);
    successors.add(newPerson(leaving.initial.state, leaving.initial.district, party, sworn));
  }
  const sitting = people.filter((p) => !departed.has(p));
  const original = sitting.filter((p) => !successors.has(p));

  // A new Speaker mid-term: the old one steps down to the rank and file the same day.
  const speaker = sitting.find((p) => p.initial.leadership_role === 'Speaker of the House')!;
  const newSpeaker = rng.pick(original.filter((p) => p.initial.party === 'Republican' && p.initial.leadership_role === null));
  addChange(speaker, SPEAKER_CHANGE, (a) => ({ ...a, leadership_role: null }));
  addChange(newSpeaker, SPEAKER_CHANGE, (a) => ({ ...a, leadership_role: 'Speaker of the House' }));

  // One or two members leave their party and sit as Independents.
  const switchable = original.filter((p) => p.initial.party !== 'Independent' && p.initial.leadership_role === null && p !== newSpeaker);
  for (const p of rng.shuffle(switchable).slice(0, rng.between(1, 2))) {
    addChange(p, randomDate(rng, '2023-06-01', CHANGES_TO), (a) => ({ ...a, party: 'Independent' }));
  }

  // A court-ordered map renumbers two districts of one state: their members swap numbers.
  const specialSeats = new Set([...successors].map((p) => `${p.initial.state}-${p.initial.district}`));
  const renumberable = (state: string) => original.filter((p) => p.initial.state === state && !specialSeats.has(`${state}-${p.initial.district}`));
  const state = rng.pick(STATES.filter((s) => s.seats >= 4 && renumberable(s.state).length >= 2)).state;
  const [a, b] = rng.shuffle(renumberable(state));
  const swapDate = randomDate(rng, '2024-01-15', '2024-06-28');
  addChange(a, swapDate, (x) => ({ ...x, district: b.initial.district }));
  addChange(b, swapDate, (x) => ({ ...x, district: a.initial.district }));

  // Committee assignments move throughout the term. (The moves draw from rng when history() applies
  // them, in people order: still the same for the same seed.)
  for (const p of rng.shuffle(sitting).slice(0, Math.round(CHANGING_MEMBERS_SHARE * sitting.length))) {
    const from = p.start >= CHANGES_FROM ? addDays(p.start, 1) : CHANGES_FROM;
    for (let i = rng.between(1, 3); i > 0; i--) {
      addChange(p, randomDate(rng, from, CHANGES_TO), (x) => ({ ...x, committees: changeCommittees(rng, x.committees) }));
    }
  }

  return sortMembers(people.flatMap(history));
}

/** Places with a non-voting delegate (or the Resident Commissioner): no leadership, no renumbering. */
const DELEGATE_STATES = new Set(['AS', 'DC', 'GU', 'MP', 'PR', 'VI']);

function addChange(p: Person, date: string, mutation: Mutation): void {
  const list = p.changes.get(date) ?? [];
  list.push(mutation);
  p.changes.set(date, list);
}

/** The person's rows: the first, then one per change date in date order. */
function history(p: Person): MemberRow[] {
  const row = (a: Attributes, effective_date: string): MemberRow => ({
    bioguide_id: p.bioguide_id,
    first_name: p.first_name,
    last_name: p.last_name,
    ...a,
    effective_date,
  });
  const rows = [row(p.initial, p.start)];
  let attributes = p.initial;
  for (const date of [...p.changes.keys()].sort()) {
    attributes = p.changes.get(date)!.reduce((a, mutate) => mutate(a), attributes);
    rows.push(row(attributes, date));
  }
  return rows;
}

/** The Bioguide's shape: the last name's initial and six digits, unique. */
function bioguideId(rng: Rng, lastName: string, taken: Set<string>): string {
  for (;;) {
    const id = `${lastName[0].toUpperCase()}${String(rng.between(1, 1299)).padStart(6, '0')}`;
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}

function randomDate(rng: Rng, from: string, to: string): string {
  return fromEpochDay(rng.between(epochDay(from), epochDay(to)));
}

/** In the House's own order, so a list reads the same whichever way it was made. */
function canonical(committees: Iterable<string>): string[] {
  const set = new Set(committees);
  return COMMITTEES.filter((c) => set.has(c));
}

/** An exclusive committee alone (or with one more), or one to three of the others. */
function initialCommittees(rng: Rng): string[] {
  if (rng.chance(0.25)) {
    const exclusive = rng.pick(EXCLUSIVE_COMMITTEES);
    return canonical(rng.chance(0.3) ? [exclusive, rng.pick(OTHER_COMMITTEES)] : [exclusive]);
  }
  const n = rng.pick([1, 2, 2, 2, 3, 3]);
  return canonical(rng.shuffle(OTHER_COMMITTEES).slice(0, n));
}

/** Join one committee, leave one, or trade one for another; never left with none. */
function changeCommittees(rng: Rng, committees: readonly string[]): string[] {
  const outside = COMMITTEES.filter((c) => !committees.includes(c));
  const move = committees.length >= 3 ? rng.pick(['leave', 'trade']) : committees.length === 1 ? rng.pick(['join', 'trade']) : rng.pick(['join', 'leave', 'trade']);
  if (move === 'join') return canonical([...committees, rng.pick(outside)]);
  const dropped = rng.pick(committees);
  const kept = committees.filter((c) => c !== dropped);
  return canonical(move === 'leave' ? kept : [...kept, rng.pick(outside.filter((c) => c !== dropped))]);
}

/** Members whose seat went to a successor in a special election: same first seat, later start. */
export function departedMembers(rows: readonly MemberRow[]): Set<string> {
  const first = firstRows(rows);
  const latestStartBySeat = new Map<string, string>();
  for (const r of first.values()) {
    const seat = `${r.state}-${r.district}`;
    const start = latestStartBySeat.get(seat);
    if (start === undefined || r.effective_date > start) latestStartBySeat.set(seat, r.effective_date);
  }
  return new Set([...first.values()].filter((r) => r.effective_date < latestStartBySeat.get(`${r.state}-${r.district}`)!).map((r) => r.bioguide_id));
}

/** Each member's first row (their earliest effective_date). */
export function firstRows(rows: readonly MemberRow[]): Map<string, MemberRow> {
  const first = new Map<string, MemberRow>();
  for (const r of rows) {
    const seen = first.get(r.bioguide_id);
    if (seen === undefined || r.effective_date < seen.effective_date) first.set(r.bioguide_id, r);
  }
  return first;
}

export interface DayChanges {
  readonly rows: MemberRow[];
  readonly late: number;
}

/**
 * The member changes of `day`: one to three members change (mostly committees) effective that day,
 * and `late` corrections (by default one on a fifth of days) are rows effective on a date strictly
 * between a member's first and latest existing rows — a correction of history a day's load must
 * reconcile. `day` must be after every existing effective_date.
 */
export function dayMemberChanges(existing: readonly MemberRow[], day: string, seed: number, late?: number): DayChanges {
  const departed = departedMembers(existing);
  const histories = new Map<string, MemberRow[]>();
  for (const r of sortMembers(existing)) {
    if (departed.has(r.bioguide_id)) continue;
    const list = histories.get(r.bioguide_id) ?? [];
    list.push(r);
    histories.set(r.bioguide_id, list);
  }
  const ids = [...histories.keys()];
  const rows: MemberRow[] = [];

  const rng = createRng(seed, `changes:${day}`);
  const holdsPost = (r: MemberRow) => r.leadership_role !== null && !DEPUTY_ROLES.includes(r.leadership_role);
  for (const id of rng.shuffle(ids).slice(0, rng.between(1, 3))) {
    const current = histories.get(id)!.at(-1)!;
    const roll = rng.next();
    let changed: Attributes;
    if (roll < 0.06 && !holdsPost(current)) {
      changed = { ...current, leadership_role: current.leadership_role === null ? rng.pick(DEPUTY_ROLES) : null };
    } else if (roll < 0.09 && !holdsPost(current)) {
      changed = { ...current, party: current.party === 'Independent' ? rng.pick(['Democrat', 'Republican']) : 'Independent' };
    } else {
      changed = { ...current, committees: changeCommittees(rng, current.committees) };
    }
    rows.push({ ...current, ...changed, effective_date: day });
  }

  // A separate stream, so forcing late changes leaves the day's other changes as they were.
  const lateRng = createRng(seed, `late:${day}`);
  const count = late ?? (lateRng.chance(LATE_CHANGE_PROBABILITY) ? 1 : 0);
  const used = new Map<string, Set<string>>([...histories].map(([id, h]) => [id, new Set(h.map((r) => r.effective_date))]));
  const freeDays = (id: string): number => {
    const h = histories.get(id)!;
    const span = epochDay(h.at(-1)!.effective_date) - epochDay(h[0].effective_date) - 1;
    return span - (used.get(id)!.size - 2);
  };
  for (let i = 0; i < count; i++) {
    const candidates = ids.filter((id) => freeDays(id) > 0);
    if (candidates.length === 0) throw new Error(`cannot make ${count} late member changes: no member has a history left to correct`);
    const id = lateRng.pick(candidates);
    const h = histories.get(id)!;
    let date: string;
    do date = fromEpochDay(lateRng.between(epochDay(h[0].effective_date) + 1, epochDay(h.at(-1)!.effective_date) - 1));
    while (used.get(id)!.has(date));
    used.get(id)!.add(date);
    const inEffect = h.filter((r) => r.effective_date < date).at(-1)!;
    rows.push({ ...inEffect, committees: changeCommittees(lateRng, inEffect.committees), effective_date: date });
  }
  return { rows: sortMembers(rows), late: count };
}
