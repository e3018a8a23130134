import { describe, expect, it } from 'vitest';
import { globToRegExp, literalPrefix } from '../../adapters/s3/s3-file-reader.js';

/** The keys of `keys` that `glob` matches, in order. */
function matching(glob: string, keys: readonly string[]): string[] {
  const re = globToRegExp(glob);
  return keys.filter((k) => re.test(k));
}

const KEYS = [
  'silver/transactions/_SUCCESS',
  'silver/transactions/part-0.parquet',
  'silver/transactions/year=2023/month=12/part-0.parquet',
  'silver/transactions/year=2024/month=01/part-0.parquet',
  'silver/transactions/year=2024/month=01/part-1.parquet',
  'silver/transactions/year=2024/part-9.parquet',
  'silver/transactions.parquet',
  'silver/members/members.csv',
  'silver/members/members.csv.gz',
];

describe('globToRegExp', () => {
  it('* stays within one folder', () => {
    expect(matching('silver/transactions/*.parquet', KEYS)).toEqual(['silver/transactions/part-0.parquet']);
    expect(matching('silver/*/members.csv', KEYS)).toEqual(['silver/members/members.csv']);
    expect(matching('silver/transactions*', KEYS)).toEqual(['silver/transactions.parquet']);
  });

  it('? is one character, never a /', () => {
    expect(matching('silver/transactions/year=2024/month=01/part-?.parquet', KEYS)).toEqual([
      'silver/transactions/year=2024/month=01/part-0.parquet',
      'silver/transactions/year=2024/month=01/part-1.parquet',
    ]);
    expect(globToRegExp('a?b').test('a/b')).toBe(false);
    expect(globToRegExp('a?b').test('ab')).toBe(false);
  });

  it('** between slashes is any number of folders, none included', () => {
    expect(matching('silver/transactions/**/*.parquet', KEYS)).toEqual([
      'silver/transactions/part-0.parquet',
      'silver/transactions/year=2023/month=12/part-0.parquet',
      'silver/transactions/year=2024/month=01/part-0.parquet',
      'silver/transactions/year=2024/month=01/part-1.parquet',
      'silver/transactions/year=2024/part-9.parquet',
    ]);
    expect(matching('**/part-0.parquet', KEYS)).toEqual([
      'silver/transactions/part-0.parquet',
      'silver/transactions/year=2023/month=12/part-0.parquet',
      'silver/transactions/year=2024/month=01/part-0.parquet',
    ]);
    expect(globToRegExp('a/**/b').test('a//b')).toBe(false);
  });

  it('a trailing ** is everything below the folder, and nothing beside it', () => {
    expect(matching('silver/members/**', KEYS)).toEqual(['silver/members/members.csv', 'silver/members/members.csv.gz']);
    expect(globToRegExp('silver/members/**').test('silver/members')).toBe(false);
  });

  it('Hive folders are ordinary folders: wildcards match inside col=value names', () => {
    expect(matching('silver/transactions/year=2024/*/*.parquet', KEYS)).toEqual([
      'silver/transactions/year=2024/month=01/part-0.parquet',
      'silver/transactions/year=2024/month=01/part-1.parquet',
    ]);
    expect(matching('silver/transactions/year=*/month=1?/*', KEYS)).toEqual(['silver/transactions/year=2023/month=12/part-0.parquet']);
  });

  it('** inside a folder name is a single *', () => {
    expect(matching('silver/trans**/part-0.parquet', KEYS)).toEqual(['silver/transactions/part-0.parquet']);
  });

  it('every other character is literal, regex syntax and brackets included', () => {
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('a.b').test('a.b')).toBe(true);
    expect(globToRegExp('x/[1]+(y)$').test('x/[1]+(y)$')).toBe(true);
    expect(globToRegExp('x/[1]').test('x/1')).toBe(false);
    expect(globToRegExp('line\nbreak*').test('line\nbreak.csv')).toBe(true);
  });

  it('a pattern without wildcards matches only itself', () => {
    expect(matching('silver/members/members.csv', KEYS)).toEqual(['silver/members/members.csv']);
  });
});

describe('literalPrefix', () => {
  it('is everything before the first wildcard', () => {
    expect(literalPrefix('silver/transactions/**/*.parquet')).toBe('silver/transactions/');
    expect(literalPrefix('silver/part-?.csv')).toBe('silver/part-');
    expect(literalPrefix('*.csv')).toBe('');
    expect(literalPrefix('silver/members/members.csv')).toBe('silver/members/members.csv');
  });
});
