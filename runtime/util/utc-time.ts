/**
 * A date or timestamp a user wrote (microbatch `begin`, --event-time-start), read as UTC when it
 * names no offset. `new Date('2024-11-03T01:30:00')` is local time in JavaScript, so the same text
 * would mean another instant on a laptop in New York than in Lambda; batch windows are UTC.
 */
export function parseUtcTime(text: string): Date {
  const trimmed = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(trimmed)) return new Date(`${trimmed}T00:00:00Z`);
  const local = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.exec(trimmed);
  if (local) return new Date(`${trimmed.replace(' ', 'T')}Z`);
  return new Date(trimmed);
}
