/**
 * A size as written in project.yml: a number of bytes, or a number with a unit as DuckDB writes
 * them (`500MB`, `2GB`, `1.5GiB`; KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024).
 * Undefined when the text is not a size.
 */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? 'B').toLowerCase();
  const scale: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };
  const bytes = Math.round(Number(m[1]) * scale[unit]);
  return bytes > 0 ? bytes : undefined;
}
