import { describe, expect, it } from 'vitest';
import { TemplateEngine, type RenderScope } from '../../runtime/template/template-engine.js';
import { TemplateLocatedError } from '../../runtime/template/strict-compiler.js';
import { setLogSink } from '../../runtime/template/jinja-compat.js';
import { pythonDatetime } from '../../runtime/template/py-modules.js';

const engine = new TemplateEngine([
  {
    path: 'macros/m.sql',
    text: [
      '{% macro va(a, b=2) %}{{ a }}|{{ b }}|{{ varargs }}|{{ kwargs }}{% endmacro %}',
      '{% macro plain(a, b) %}[{{ a }}{{ b }}]{% endmacro %}',
      '{% macro tbl(rows) %}{% for r in rows %}{{ caller(r) }}{% endfor %}{% endmacro %}',
    ].join('\n'),
  },
]);
const scope: RenderScope = { functions: {}, values: { run_started_at: pythonDatetime(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))) } };
const render = (text: string) => engine.render('models/t.sql', text, scope);
function failure(text: string): string {
  try {
    render(text);
  } catch (error) {
    const e = error as TemplateLocatedError;
    return `${e.templateFile}:${e.line}:${e.column}: ${e.message}`;
  }
  throw new Error('rendered');
}

describe("Jinja's syntax", () => {
  it('takes trailing commas, one-item tuples, spreads and computed dict keys', () => {
    expect(render("{{ [1, 2,] }} {{ {'a': 1,} }} {{ (1,) }} {{ (1, 2) }} {{ va(1, 3, 4, x=5,) }}")).toBe("[1, 2] {'a': 1} [1] [1, 2] 1|3|[4]|{'x': 5}");
    expect(render("{% set xs = [1, 2] %}{% set kw = {'b': 9} %}{{ va(*xs) }} {{ va(0, **kw) }} {{ plain(1) }}")).toBe('1|2|[]|{} 0|9|[]|{} [1]');
    expect(render("{% set a = 'k' %}{{ {(a ~ '_x'): 1, 'z'.upper(): 2} }}")).toBe("{'k_x': 1, 'Z': 2}");
  });

  it('slices and negative indexes as Python', () => {
    expect(render("{% set x = [1, 2, 3, 4] %}{{ x[1:] }} {{ x[:-1] }} {{ x[::-1] }} {{ 'hello'[1:3] }} {{ x[-1] }}")).toBe('[2, 3, 4] [1, 2, 3] [4, 3, 2, 1] el 4');
  });

  it('unpacks in set and for, filters loops, and has break/continue', () => {
    expect(render('{% set a, b = [1, 2] %}{{ a }}{{ b }}')).toBe('12');
    expect(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ loop.index }}{{ k }}={{ v }}{% if not loop.last %},{% endif %}{% endfor %}")).toBe('1a=1,2b=2');
    expect(render('{% for x in [1, 2, 3, 4] if x > 1 %}{{ loop.index }}:{{ x }}/{{ loop.length }} {% endfor %}')).toBe('1:2/3 2:3/3 3:4/3 ');
    expect(render('{% for x in [] %}{{ x }}{% else %}empty{% endfor %}')).toBe('empty');
    expect(render("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}")).toBe('ab');
    expect(render('{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}')).toBe('13');
  });

  it('filter blocks, call blocks with arguments, namespaces', () => {
    expect(render('{% filter upper %}abc{% endfilter %}')).toBe('ABC');
    expect(render('{% call(row) tbl([1, 2]) %}<{{ row }}>{% endcall %}')).toBe('<1><2>');
    expect(render('{% set ns = namespace(n=0) %}{% for x in [1, 2, 3] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}')).toBe('6');
    expect(failure("{% set d = {} %}{% set d.x = 1 %}")).toBe("models/t.sql:1:25: cannot assign attribute 'x' on a dict: {% set x.attr = ... %} works on a namespace() only");
  });
});

describe("Jinja's values", () => {
  it('prints None, booleans, lists and dicts as Python; truth is Python truth', () => {
    expect(render("{{ none }} {{ true }} {{ [none, 'a'] }} {{ 'a' ~ none ~ 1 }} {{ 7 // 2 }} {{ 2 ** 3 }} {{ -7 % 3 }}")).toBe("None True [None, 'a'] aNone1 3 8 2");
    expect(render("{% if [] %}yes{% else %}no{% endif %} {{ [] or 'dflt' }} {{ 'x' if {} else 'y' }}")).toBe('no dflt y');
    expect(render("{{ [1, 2] == [1, 2] }} {{ 'a' in ['a'] }} {{ 'b' not in 'abc' }} {{ [1] + [2] }} {{ 'ab' * 2 }}")).toBe('True True False [1, 2] abab');
  });

  it('a name set only in a branch not taken renders empty; a name set nowhere is an error', () => {
    expect(render('{% if false %}{% set later = 1 %}{% endif %}[{{ later }}]')).toBe('[]');
    expect(failure('{{ nowhere }}')).toBe("models/t.sql:1:4: 'nowhere' is undefined");
  });

  it("has Python's str, list and dict methods", () => {
    expect(render("{{ ' a b '.strip().split(' ') }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '{} and {x}'.format(1, x=2) }} {{ 'abc'.zfill(5) }} {{ 'a.b'.partition('.') }}")).toBe(
      "['a', 'b'] ['a,b', 'c'] 1 and 2 00abc ['a', '.', 'b']",
    );
    expect(render("{% set d = {'a': 1} %}{% do d.update({'b': 2}) %}{{ d }} {{ d.get('c', 3) }} {{ d.keys() | list }} {{ d.pop('a') }} {{ d }}")).toBe(
      "{'a': 1, 'b': 2} 3 ['a', 'b'] 1 {'b': 2}",
    );
    expect(render('{% set l = [3, 1, 2] %}{% do l.sort() %}{% do l.extend([5]) %}{% do l.insert(0, 9) %}{{ l }} {{ l.pop() }} {{ l.index(1) }}')).toBe('[9, 1, 2, 3, 5] 5 1');
  });
});

describe('macro calls', () => {
  it('a missing argument is undefined; unknown keyword and extra positional arguments are errors naming the macro', () => {
    expect(render('{{ plain(1) }}')).toBe('[1]');
    expect(failure('{{ plain(1, 2, 3) }}')).toBe("models/t.sql:1:4: macro 'plain' takes not more than 2 argument(s), got 3");
    expect(failure('{{ plain(1, c=2) }}')).toBe("models/t.sql:1:4: macro 'plain' takes no keyword argument 'c'");
    expect(render('{{ va(1, zz=1) }}')).toBe("1|2|[]|{'zz': 1}");
  });
});

describe('globals and filters', () => {
  it('tojson as json.dumps, fromjson, zip, local_md5, map, unique, select tests', () => {
    expect(render("{{ tojson({'b': [1, none], 'a': 'x'}) }} {{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}")).toBe('{"b": [1, null], "a": "x"} {"a": 2, "b": 1}');
    expect(render("{{ fromjson('{\"a\": [1]}')['a'] }} {{ zip([1, 2], ['a', 'b']) | list }} {{ local_md5('x') }}")).toBe("[1] [[1, 'a'], [2, 'b']] 9dd4e461268c8034f5c8564e155c67a6");
    expect(render("{{ ['A', 'b'] | map('lower') | list }} {{ [{'n': 1}, {'n': 2}] | map(attribute='n') | list }} {{ [1, 1, 2] | unique | list }}")).toBe("['a', 'b'] [1, 2] [1, 2]");
    expect(render("{{ 1 is integer }} {{ 1.5 is float }} {{ {} is mapping }} {{ 'a' is string }} {{ none is none }} {{ 2 is divisibleby(2) }}")).toBe('True True True True True True');
  });

  it('exceptions.raise_compiler_error is one located error; warn and log write to stderr, not the SQL', () => {
    expect(failure("select 1\n  {{ exceptions.raise_compiler_error('bad input: ' ~ 3) }}")).toBe('models/t.sql:2:16: bad input: 3');
    const lines: string[] = [];
    const previous = setLogSink((line) => lines.push(line));
    try {
      expect(render("a{{ log('hello', info=True) }}b{{ exceptions.warn('careful') }}c{% do print('p') %}")).toBe('abc');
    } finally {
      setLogSink(previous);
    }
    expect(lines).toEqual(['hello', 'warning: careful', 'p']);
  });

  it('modules.datetime and modules.re; run_started_at as a Python datetime', () => {
    expect(render("{{ run_started_at.strftime('%Y-%m-%d %H:%M:%S') }} {{ run_started_at.isoformat() }} {{ (run_started_at + modules.datetime.timedelta(days=1)).strftime('%Y%m%d') }}")).toBe(
      '2024-01-02 03:04:05 2024-01-02T03:04:05+00:00 20240103',
    );
    expect(render("{{ modules.datetime.datetime(2020, 5, 17).isoformat() }} {{ modules.datetime.date(2020, 5, 17) }}")).toBe('2020-05-17T00:00:00 2020-05-17');
    expect(render("{{ modules.re.sub('[ -]+', '_', 'a b-c') }} {{ modules.re.search('(\\\\d+)', 'ab12c').group(1) }} {{ modules.re.findall('[a-z]', 'a1b') }} {{ modules.re.match('x', 'ax') }}")).toBe(
      "a_b_c 12 ['a', 'b'] None",
    );
    // A class's own methods: datetime.now() (dbt_utils' pretty_time), date.today().
    expect(render('{{ modules.datetime.datetime.now().year >= 2024 }} {{ modules.datetime.date.today().year >= 2024 }}')).toBe('True True');
  });

  it("sets compare by members; map(attribute=0) indexes rows (agate's data)", () => {
    expect(render("{{ set(['a', 'b', 'a']) == set(['b', 'a']) }} {{ set(['a']) != set(['a', 'b']) }} {{ ['a', 'b'] == ['b', 'a'] }}")).toBe('True True False');
    expect(render('{{ [[1, 2], [3, 4]] | map(attribute=0) | list }}')).toBe('[1, 3]');
  });
});
