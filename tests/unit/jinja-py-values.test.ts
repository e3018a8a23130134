import { describe, expect, it } from 'vitest';
import { isMapping, markMapping, pyRepr, pyStr, pyTruthy } from '../../runtime/template/py-values.js';

class Relation {
  constructor(readonly name: string) {}
  toString(): string {
    return `"main"."${this.name}"`;
  }
}

describe('Python values', () => {
  it('prints None, booleans, lists and dicts as Python does', () => {
    expect(pyStr(null)).toBe('None');
    expect(pyStr(true)).toBe('True');
    expect(pyStr([1, 'a', null, [false]])).toBe("[1, 'a', None, [False]]");
    expect(pyStr({ a: 1, "it's": 'x"y' })).toBe(`{'a': 1, "it's": 'x"y'}`);
    expect(pyRepr("it's \"q\"")).toBe(`'it\\'s "q"'`);
    expect(pyStr(new Relation('orders'))).toBe('"main"."orders"');
    expect(pyStr([new Relation('o')])).toBe('["main"."o"]');
  });

  it('a class instance is a mapping only when marked', () => {
    const relation = new Relation('x');
    expect(isMapping({ a: 1 })).toBe(true);
    expect(isMapping(relation)).toBe(false);
    expect(markMapping(relation)).toBe(relation);
    expect(isMapping(relation)).toBe(true);
    expect(isMapping([1])).toBe(false);
    expect(isMapping(null)).toBe(false);
  });

  it("truth follows Python: empty lists and dicts are false", () => {
    expect([[], {}, '', 0, null, undefined, false].map(pyTruthy)).toEqual([false, false, false, false, false, false, false]);
    expect([[0], { a: 0 }, ' ', 1, new Relation('r')].map(pyTruthy)).toEqual([true, true, true, true, true]);
  });
});
