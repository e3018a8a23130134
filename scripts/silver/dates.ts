/** Calendar dates as ISO strings (YYYY-MM-DD), computed in UTC so the local time zone never matters. */

const DAY_MS = 86_400_000;

export function epochDay(iso: string): number {
  return Math.round(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);
}

export function fromEpochDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export function addDays(iso: string, days: number): string {
  return fromEpochDay(epochDay(iso) + days);
}

export function isWeekday(iso: string): boolean {
  const dow = new Date(`${iso}T00:00:00Z`).getUTCDay();
  return dow !== 0 && dow !== 6;
}

/** The first weekday after `iso`. */
export function nextWeekday(iso: string): string {
  let day = addDays(iso, 1);
  while (!isWeekday(day)) day = addDays(day, 1);
  return day;
}

/** The weekdays from `from` to `to`, both included. */
export function weekdays(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = epochDay(from); d <= epochDay(to); d++) {
    const iso = fromEpochDay(d);
    if (isWeekday(iso)) out.push(iso);
  }
  return out;
}

/** The later of two ISO dates (string order is date order). */
export const maxDate = (a: string, b: string): string => (a > b ? a : b);
