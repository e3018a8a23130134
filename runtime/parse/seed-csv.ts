import { ProjectError } from '../errors.js';

/**
 * A seed's CSV checked at parse, before anything loads it: a header of distinct, non-empty names,
 * and as many values in every row as the header has names. DuckDB's CSV reader would otherwise
 * guess: a row with one value too many makes it pick another delimiter and load the whole file as
 * one column, and a repeated name becomes `name_1`. RFC 4180: commas (or the seed's `delimiter`), double quotes around a value
 * that holds a comma, a quote (doubled) or a line break.
 */
export function checkSeedCsv(text: string, path: string, delimiter = ','): void {
  const fail = (message: string, line?: number, column?: number) => new ProjectError(message, { code: 'config', location: { file: path, line, column } });
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (body.trim() === '') throw fail('the seed is empty: it needs a header line naming its columns');
  let header: string[] | undefined;
  let values: string[] = [];
  let value = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const endRow = () => {
    values.push(value);
    value = '';
    const row = values;
    values = [];
    if (row.length === 1 && row[0].trim() === '') return;
    if (header === undefined) {
      header = row.map((h) => h.trim());
      let column = 1;
      const seen = new Set<string>();
      for (const [i, name] of header.entries()) {
        if (name === '') throw fail(`column ${i + 1} of the header has no name`, rowLine, column);
        if (seen.has(name.toLowerCase())) throw fail(`the header names column '${name}' twice`, rowLine, column);
        seen.add(name.toLowerCase());
        column += row[i].length + 1;
      }
      return;
    }
    if (row.length !== header.length) {
      throw fail(`this row has ${row.length} ${row.length === 1 ? 'value' : 'values'} for ${header.length} columns (${header.join(', ')})`, rowLine);
    }
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (quoted) {
      if (ch === '"' && body[i + 1] === '"') (value += '"'), i++;
      else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        value += ch;
      }
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) (values.push(value), (value = ''));
    else if (ch === '\n') {
      endRow();
      line++;
      rowLine = line;
    } else if (ch !== '\r') value += ch;
  }
  if (quoted) throw fail('a quoted value is not closed', rowLine);
  if (value !== '' || values.length > 0) endRow();
}
