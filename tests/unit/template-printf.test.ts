import { describe, expect, it } from 'vitest';
import { TemplateEngine, type RenderScope } from '../../runtime/template/template-engine.js';
import { TemplateLocatedError } from '../../runtime/template/strict-compiler.js';

const scope: RenderScope = { functions: {}, values: {} };
const engine = new TemplateEngine([
  { path: 'macros/names.sql', text: "{% macro suffixed(name, n) %}{{ '%s_%02d' % (name, n) }}{% endmacro %}" },
]);
const render = (text: string) => engine.render('models/m.sql', text, scope);

describe("Python's % formatting in templates", () => {
  it('formats strings as Python does: s, d, i, f with flags, width and precision, and %%', () => {
    expect(render(`{% set name = 'orders' %}{% set n = 7 %}{{ "%s_%d" % (name, n) }}`)).toBe('orders_7');
    expect(render('{{ "%.2f" % 3.14159 }}|{{ "%.0f" % 2.5 }}|{{ "%.0f" % 3.5 }}|{{ "%.2f" % 0.125 }}|{{ "%.1f" % 0.25 }}|{{ "%f" % 1 }}')).toBe(
      '3.14|2|4|0.12|0.2|1.000000',
    );
    expect(render('{{ "%05d" % 42 }}|{{ "%05d" % -42 }}|{{ "%-5d|" % 42 }}|{{ "%5s|" % "ab" }}|{{ "%+d" % 3 }}|{{ "%i" % 9.9 }}')).toBe(
      '00042|-0042|42   ||   ab||+3|9',
    );
    expect(render('{{ "%s" % "x" }}|{{ "%s" % 5 }}|{{ "%s" % None }}|{{ "%s" % True }}|{{ "%.2s" % "abc" }}')).toBe('x|5|None|True|ab');
    expect(render('{{ "100%% of %s" % "rows" }}|{{ "%d%%" % 50 }}')).toBe('100% of rows|50%');
    expect(render('{{ "%(a)s-%(b)03d" % {"a": "x", "b": 5} }}')).toBe('x-005');
  });

  it('works in set statements, on macro output and inside macros', () => {
    expect(render('{% set t = "%s.%s" % ("main", "t") %}select * from {{ t }}')).toBe('select * from main.t');
    expect(render("{{ suffixed('batch', 3) }}")).toBe('batch_03');
  });

  it('reads a parenthesized tuple as its values, not as its last value', () => {
    expect(render('{% for x in (1, 2, 3) %}{{ x }}{% endfor %}|{{ (1 + 2) * 2 }}')).toBe('123|6');
  });

  it("keeps % between numbers as Python's modulo", () => {
    expect(render('{{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 5.5 % 2 }}')).toBe('1 2 -2 1.5');
  });

  it('names the file and line of a format that does not fit its values', () => {
    const failure = (text: string) => {
      try {
        render(text);
      } catch (error) {
        expect(error).toBeInstanceOf(TemplateLocatedError);
        const e = error as TemplateLocatedError;
        return `${e.templateFile}:${e.line}: ${e.message}`;
      }
      throw new Error('expected an error');
    };
    expect(failure('select\n{{ "%s-%s" % "a" }}')).toBe('models/m.sql:2: not enough arguments for format string "%s-%s"');
    expect(failure('{{ "%s" % ("a", "b") }}')).toBe('models/m.sql:1: not all arguments converted during string formatting of "%s"');
    expect(failure('{{ "%d" % "x" }}')).toBe('models/m.sql:1: %d format: a number is required, not "x" (in "%d")');
  });
});
