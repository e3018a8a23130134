import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanTemplate } from '../../runtime/parse/jinja-scan.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Every .sql file under `dir` (fixtures, the Gold project), as a corpus of real templates. */
function sqlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sqlFiles(path));
    else if (entry.endsWith('.sql')) out.push(path);
  }
  return out;
}

describe('scanTemplate: the shortcut for simple calls', () => {
  const shapes = [
    "{{ ref('a') }}",
    '{{ref("a")}}',
    "{{  source( 'raw' ,\n 'events' )  }}",
    "select 1\n  {{ ref('a', 'b') }} x",
    "{{ config('x') }}{{ var('y') }}",
    "{% if x %}{{ ref('inside') }}{% endif %}",
    "{{- ref('trim') }}",
    "{{ ref('trim') -}}",
    "{{ ref('a\\'b') }}",
    "{{ ref('new\nline') }}",
    "{{ ref('a') | upper }}",
    "{{ ref('a', 'b', 'c') }}",
    "{{ ref('a',) }}",
    "{{ x.ref('a') }}",
    "{{ ref(\"it's\") }}",
    "{{ ref('a')\f}}",
    "{{ none('x') }}",
  ];

  it.each(shapes)('reads %j as the tokenizer does', (text) => {
    expect(scanTemplate(text)).toEqual(scanTemplate(text, { tokenizeAll: true }));
  });

  it('reads every model of the fixtures and of the Gold project as the tokenizer does', () => {
    const files = [...sqlFiles(join(ROOT, 'tests', 'fixtures')), ...sqlFiles(join(ROOT, 'models')), ...sqlFiles(join(ROOT, 'macros'))];
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(scanTemplate(text), file).toEqual(scanTemplate(text, { tokenizeAll: true }));
    }
  });

  it('gives the call its line and column and the part a call', () => {
    const scan = scanTemplate("select *\nfrom {{  ref('orders') }}");
    expect(scan.calls).toEqual([{ name: 'ref', args: ['orders'], kwargs: {}, literal: true, line: 2, column: 10, conditional: false }]);
    expect(scan.parts).toEqual([{ kind: 'text', text: 'select *\nfrom ' }, { kind: 'call', call: scan.calls[0] }]);
    expect([...scan.calledNames]).toEqual(['ref']);
  });
});
