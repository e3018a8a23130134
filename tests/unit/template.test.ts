import { describe, expect, it } from 'vitest';
import { TemplateEngine, type RenderScope } from '../../runtime/template/template-engine.js';
import { TemplateLocatedError, TemplateUserError } from '../../runtime/template/strict-compiler.js';

const macros = [
  {
    path: 'macros/money.sql',
    text: [
      '{% macro cents(col, scale=100) %}round({{ col }} * {{ scale }})::bigint{% endmacro %}',
      '{% macro dollars(col) %}{{ cents(col, scale=1) }}{% endmacro %}',
      '{% macro rel(name) %}{{ ref(name) }}{% endmacro %}',
      '{% macro broken() %}',
      '{{ no_such_thing }}{% endmacro %}',
    ].join('\n'),
  },
];

const scope: RenderScope = {
  functions: {
    ref: (name: string) => {
      if (name === 'missing') throw new TemplateUserError('no model missing', 'did you mean mission?');
      return `"main"."${name}"`;
    },
    is_incremental: () => false,
  },
  values: { target: { name: 'dev' } },
};

function render(text: string, engine = new TemplateEngine(macros)): string {
  return engine.render('models/m.sql', text, scope);
}

function renderError(text: string): { file: string; line: number; column: number; message: string; hint?: string } {
  try {
    render(text);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateLocatedError);
    const e = error as TemplateLocatedError;
    return { file: e.templateFile, line: e.line, column: e.column, message: e.message, hint: e.hint };
  }
  throw new Error('expected a render error');
}

describe('template engine', () => {
  it('calls global macros without imports, with default, keyword and nested arguments', () => {
    expect(render("select {{ cents('a') }}, {{ cents('b', scale=10) }}, {{ dollars('c') }} from {{ rel('t') }}")).toBe(
      'select round(a * 100)::bigint, round(b * 10)::bigint, round(c * 1)::bigint from "main"."t"',
    );
  });

  it('does not escape SQL', () => {
    expect(render("{{ \"it's <b>&\" }}")).toBe("it's <b>&");
  });

  it('accepts Jinja literals True, False, None and the none test', () => {
    expect(render('{{ True }} {{ False }} {{ None is none }} {{ 1 is none }} {{ 1 is not none }}')).toBe('True False True False True');
  });

  it("has Python's string, list and dict methods and slices, as dbt templates use them", () => {
    const engine = new TemplateEngine([]);
    const sets = "{% set d = {'a': 1, 'b': 2} %}{% set l = [1, 2, 3, 4] %}{% set s = ' Mixed Case ' %}";
    const r = (text: string) => engine.render('models/m.sql', sets + text, scope);
    expect(r("{{ s.strip().upper() }}|{{ s.lower() }}|{{ 'a,b,c'.split(',', 1) | join('+') }}|{{ 'x_y'.replace('_', '-') }}")).toBe(
      'MIXED CASE| mixed case |a+b,c|x-y',
    );
    expect(r("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith('x') }} {{ '-'.join(['a', 'b']) }} {{ 'hello world'.title() }}")).toBe('True False a-b Hello World');
    expect(r('{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ l[1:3] | join(",") }} {{ l[:2] | join(",") }}')).toBe('a=1;b=2; 2,3 1,2');
  });

  it('lets is defined / is undefined probe a missing name', () => {
    expect(render('{% if nothing is defined %}d{% else %}u{% endif %}{% if nothing is undefined %}!{% endif %}')).toBe('u!');
  });

  it('reports a misspelled name in a condition at file:line:col with a hint', () => {
    expect(renderError('select 1\n{% if is_incremntal() %}x{% endif %}')).toEqual({
      file: 'models/m.sql',
      line: 2,
      column: 7,
      message: "'is_incremntal' is undefined",
      hint: 'did you mean is_incremental?',
    });
  });

  it('reports a misspelled name used as an argument', () => {
    expect(renderError("select *\nfrom\n  {{ ref(modle_name) }}")).toMatchObject({ file: 'models/m.sql', line: 3, column: 10, message: "'modle_name' is undefined" });
  });

  it('reports a misspelled name in an output', () => {
    expect(renderError('select {{ colum }}')).toMatchObject({ line: 1, message: "'colum' is undefined" });
  });

  it('reports a misspelled macro', () => {
    expect(renderError("select {{ cent('a') }}")).toMatchObject({ line: 1, column: 11, message: "'cent' is undefined", hint: 'did you mean cents?' });
  });

  it('names the macro file when the error is inside a macro', () => {
    expect(renderError('select\n{{ broken() }}')).toMatchObject({ file: 'macros/money.sql', line: 5, message: "'no_such_thing' is undefined" });
  });

  it('locates errors raised by context functions at the call', () => {
    expect(renderError("select 1\nfrom {{ ref('missing') }}")).toEqual({
      file: 'models/m.sql',
      line: 2,
      column: 9,
      message: 'no model missing',
      hint: 'did you mean mission?',
    });
  });

  it('reports syntax errors with their line', () => {
    expect(renderError("select\n{{ ref('a' }}")).toMatchObject({ file: 'models/m.sql', line: 2, message: "template syntax error: expected ',' or ')' after an argument" });
  });

  it('compiles an identical template once', () => {
    const engine = new TemplateEngine([]);
    const a = engine.compile('models/a.sql', 'select 1');
    expect(engine.compile('models/a.sql', 'select 1')).toBe(a);
    expect(engine.compile('models/a.sql', 'select 2')).not.toBe(a);
  });
});
