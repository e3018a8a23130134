/**
 * The shape of the 118th House (2023–2025): seats per state after the 2020 apportionment, roughly how
 * many of each state's seats Republicans held, the non-voting delegates, the standing and select
 * committees, and the leadership posts. Members themselves are synthetic (see members.ts).
 */

export interface StateSeats {
  readonly state: string;
  readonly seats: number;
  /** Seats held by Republicans at the start of the 118th Congress (approximately). */
  readonly republican: number;
}

export const STATES: readonly StateSeats[] = [
  { state: 'AL', seats: 7, republican: 6 },
  { state: 'AK', seats: 1, republican: 0 },
  { state: 'AZ', seats: 9, republican: 6 },
  { state: 'AR', seats: 4, republican: 4 },
  { state: 'CA', seats: 52, republican: 12 },
  { state: 'CO', seats: 8, republican: 3 },
  { state: 'CT', seats: 5, republican: 0 },
  { state: 'DE', seats: 1, republican: 0 },
  { state: 'FL', seats: 28, republican: 20 },
  { state: 'GA', seats: 14, republican: 9 },
  { state: 'HI', seats: 2, republican: 0 },
  { state: 'ID', seats: 2, republican: 2 },
  { state: 'IL', seats: 17, republican: 3 },
  { state: 'IN', seats: 9, republican: 7 },
  { state: 'IA', seats: 4, republican: 4 },
  { state: 'KS', seats: 4, republican: 3 },
  { state: 'KY', seats: 6, republican: 5 },
  { state: 'LA', seats: 6, republican: 5 },
  { state: 'ME', seats: 2, republican: 0 },
  { state: 'MD', seats: 8, republican: 1 },
  { state: 'MA', seats: 9, republican: 0 },
  { state: 'MI', seats: 13, republican: 6 },
  { state: 'MN', seats: 8, republican: 4 },
  { state: 'MS', seats: 4, republican: 3 },
  { state: 'MO', seats: 8, republican: 6 },
  { state: 'MT', seats: 2, republican: 2 },
  { state: 'NE', seats: 3, republican: 3 },
  { state: 'NV', seats: 4, republican: 1 },
  { state: 'NH', seats: 2, republican: 0 },
  { state: 'NJ', seats: 12, republican: 3 },
  { state: 'NM', seats: 3, republican: 0 },
  { state: 'NY', seats: 26, republican: 11 },
  { state: 'NC', seats: 14, republican: 7 },
  { state: 'ND', seats: 1, republican: 1 },
  { state: 'OH', seats: 15, republican: 10 },
  { state: 'OK', seats: 5, republican: 5 },
  { state: 'OR', seats: 6, republican: 2 },
  { state: 'PA', seats: 17, republican: 8 },
  { state: 'RI', seats: 2, republican: 0 },
  { state: 'SC', seats: 7, republican: 6 },
  { state: 'SD', seats: 1, republican: 1 },
  { state: 'TN', seats: 9, republican: 8 },
  { state: 'TX', seats: 38, republican: 25 },
  { state: 'UT', seats: 4, republican: 4 },
  { state: 'VT', seats: 1, republican: 0 },
  { state: 'VA', seats: 11, republican: 5 },
  { state: 'WA', seats: 10, republican: 2 },
  { state: 'WV', seats: 2, republican: 2 },
  { state: 'WI', seats: 8, republican: 6 },
  { state: 'WY', seats: 1, republican: 1 },
  // The delegates and the Resident Commissioner of Puerto Rico: non-voting, one at-large seat each.
  { state: 'AS', seats: 1, republican: 1 },
  { state: 'DC', seats: 1, republican: 0 },
  { state: 'GU', seats: 1, republican: 1 },
  { state: 'MP', seats: 1, republican: 0 },
  { state: 'PR', seats: 1, republican: 1 },
  { state: 'VI', seats: 1, republican: 0 },
];

/** The committees of the 118th House. The first four are "exclusive": their members usually sit on no other. */
export const EXCLUSIVE_COMMITTEES: readonly string[] = ['Appropriations', 'Energy and Commerce', 'Financial Services', 'Ways and Means'];

export const OTHER_COMMITTEES: readonly string[] = [
  'Agriculture',
  'Armed Services',
  'Budget',
  'Education and the Workforce',
  'Ethics',
  'Foreign Affairs',
  'Homeland Security',
  'House Administration',
  'Judiciary',
  'Natural Resources',
  'Oversight and Accountability',
  'Rules',
  'Science, Space, and Technology',
  'Small Business',
  'Transportation and Infrastructure',
  "Veterans' Affairs",
  'Permanent Select Committee on Intelligence',
  'Select Committee on the Strategic Competition Between the United States and the Chinese Communist Party',
];

export const COMMITTEES: readonly string[] = [...EXCLUSIVE_COMMITTEES, ...OTHER_COMMITTEES];

/** Posts held by one member of the given party at a time. */
export const LEADERSHIP: readonly { readonly role: string; readonly party: 'Republican' | 'Democrat' }[] = [
  { role: 'Speaker of the House', party: 'Republican' },
  { role: 'Majority Leader', party: 'Republican' },
  { role: 'Majority Whip', party: 'Republican' },
  { role: 'Republican Conference Chair', party: 'Republican' },
  { role: 'Republican Policy Committee Chair', party: 'Republican' },
  { role: 'Minority Leader', party: 'Democrat' },
  { role: 'Minority Whip', party: 'Democrat' },
  { role: 'Assistant Democratic Leader', party: 'Democrat' },
  { role: 'Democratic Caucus Chair', party: 'Democrat' },
  { role: 'Democratic Caucus Vice Chair', party: 'Democrat' },
];

/** Roles a day's change may hand out: deputy posts many members hold, so no post is ever doubled. */
export const DEPUTY_ROLES: readonly string[] = ['Chief Deputy Whip', 'Senior Chief Deputy Whip', 'Deputy Whip'];
