import { describe, expect, it } from 'vitest';
import { parseUtcTime } from '../../runtime/util/utc-time.js';
import { parseArgs } from '../../adapters/cli/args.js';

// JavaScript reads a date-time without an offset as local time: in New York it would be another instant.
process.env.TZ = 'America/New_York';

describe('times a user writes are UTC unless they say otherwise', () => {
  it('reads a date, and a date-time without an offset, as UTC; keeps an explicit offset', () => {
    expect(new Date('2024-11-03T01:30:00').toISOString()).not.toBe('2024-11-03T01:30:00.000Z'); // the zone is in force
    expect(parseUtcTime('2024-11-03').toISOString()).toBe('2024-11-03T00:00:00.000Z');
    expect(parseUtcTime('2024-11-03T01:30:00').toISOString()).toBe('2024-11-03T01:30:00.000Z');
    expect(parseUtcTime('2024-11-03 01:30').toISOString()).toBe('2024-11-03T01:30:00.000Z');
    expect(parseUtcTime('2024-11-03T01:30:00.250').toISOString()).toBe('2024-11-03T01:30:00.250Z');
    expect(parseUtcTime('2024-11-03T01:30:00-04:00').toISOString()).toBe('2024-11-03T05:30:00.000Z');
    expect(parseUtcTime('2024-11-03T01:30:00Z').toISOString()).toBe('2024-11-03T01:30:00.000Z');
    expect(Number.isNaN(parseUtcTime('yesterday').getTime())).toBe(true);
  });

  it('--event-time-start/--event-time-end are UTC', () => {
    const args = parseArgs(['run', '--event-time-start', '2024-11-03T01:00:00', '--event-time-end', '2024-11-04']);
    expect([args.eventTimeStart?.toISOString(), args.eventTimeEnd?.toISOString()]).toEqual(['2024-11-03T01:00:00.000Z', '2024-11-04T00:00:00.000Z']);
  });
});
