/**
 * The hand-written baseline of the scd2 benchmark: the plain DuckDB SQL a good engineer would write
 * to merge one day's source snapshot (one row per key) into the customer dimension that smelter's
 * `dim_customer` model keeps (bench/scd2-data.ts), giving the same rows, surrogate keys included.
 *
 * The dimension: scd_key (BIGINT, numbered after the largest one), the source's columns, valid_from
 * (the DATE of updated_at), valid_to (the day before the next version; 9999-12-31 while current),
 * is_current. One transaction:
 *   1. chg: the day's rows whose updated_at differs from their key's current version (or whose key
 *      is new): one hash join of the snapshot with the current versions, the only full scan;
 *   2. nbr: per changed key, the start of the version before the change (prev_from) and after it
 *      (next_from): a join of the changed keys with their versions. A change after the current
 *      version has no next; a late change (before the current version's valid_from) has one;
 *   3. the version before the change ends the day before it (an UPDATE of two columns in place);
 *   4. the changes are inserted as new versions ending the day before the next one (current when
 *      there is none), keyed after the largest scd_key in (id, valid_from) order, as smelter keys them.
 *
 * What it assumes of its input, and the bench's days satisfy: one row per key; a change never falls
 * on the day of an existing version of its key (smelter would update that version in place), and a
 * row with the current version's updated_at is no change (smelter would also compare it with older
 * versions). tests/integration/scd2-baseline.test.ts checks it gives smelter's rows on both days.
 */
export function handwrittenScd2(dimension: string, sourceFile: string): string[] {
  const source = `read_parquet('${sourceFile.replaceAll("'", "''")}')`;
  return [
    'BEGIN TRANSACTION',
    `CREATE OR REPLACE TEMP TABLE chg AS
SELECT s.*, CAST(s.updated_at AS DATE) AS vf
FROM ${source} AS s LEFT JOIN ${dimension} AS d ON d.id = s.id AND d.is_current
WHERE d.id IS NULL OR d.updated_at <> s.updated_at`,
    `CREATE OR REPLACE TEMP TABLE nbr AS
SELECT c.id, max(d.valid_from) FILTER (WHERE d.valid_from < c.vf) AS prev_from, min(d.valid_from) FILTER (WHERE d.valid_from > c.vf) AS next_from
FROM chg AS c JOIN ${dimension} AS d ON d.id = c.id
GROUP BY c.id`,
    `UPDATE ${dimension} AS d SET valid_to = c.vf - 1, is_current = false
FROM chg AS c JOIN nbr AS n ON n.id = c.id
WHERE d.id = c.id AND d.valid_from = n.prev_from`,
    `INSERT INTO ${dimension} (scd_key, id, name, segment, region, score, balance, updated_at, valid_from, valid_to, is_current)
SELECT (SELECT coalesce(max(scd_key), 0) FROM ${dimension}) + row_number() OVER (ORDER BY c.id, c.vf),
  c.id, c.name, c.segment, c.region, c.score, c.balance, c.updated_at,
  c.vf, coalesce(n.next_from - 1, DATE '9999-12-31'), n.next_from IS NULL
FROM chg AS c LEFT JOIN nbr AS n ON n.id = c.id`,
    'DROP TABLE chg',
    'DROP TABLE nbr',
    'COMMIT',
  ];
}
