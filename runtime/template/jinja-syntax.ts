/**
 * Jinja's grammar where Nunjucks' parser differs, as dbt's packages write it:
 *  - trailing commas in calls, lists, dicts, tuples and signatures; `(a,)` is a one-item tuple;
 *  - `f(*items, **mapping)` spreads positional and keyword arguments;
 *  - dict keys are expressions (`{(a ~ '_x'): 1, 1: 'one', key.lower(): v}`), as in Python;
 *  - slices `x[1:]`, `x[:-1]`, `x[::-1]`;
 *  - `{% for x in xs if cond %}` filters the items (loop.index counts the kept ones);
 *  - `{% set a, b = pair %}` unpacks; `{% set ns.attr = v %}` assigns a namespace attribute;
 *  - `{% break %}` and `{% continue %}` (dbt enables Jinja's loop controls).
 * The code generation for these nodes is in jinja-semantics.ts. Patched once per process.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Nunjucks' internal modules, handed in by strict-compiler.ts (the one place that loads them, so
 * that the Lambda bundle's rewrite of `createRequire` covers them).
 */
export interface NunjucksInternals {
  readonly parser: { Parser: any };
  readonly lexer: any;
  readonly nodes: any;
  readonly compiler: { Compiler: any };
  readonly runtime: any;
}

let lexer: any;
let nodes: any;
let Slice: any;

/** The node types added to Nunjucks' tree: `*expr` in a call, `for ... if cond`, `{% break %}`/`{% continue %}`. */
export interface JinjaNodes {
  readonly StarArg: any;
  readonly LoopFilter: any;
  readonly LoopControl: any;
}
let added: JinjaNodes | undefined;

export function installJinjaSyntax(internals: NunjucksInternals): JinjaNodes {
  if (added) return added;
  lexer = internals.lexer;
  nodes = internals.nodes;
  const StarArg = nodes.Node.extend('StarArg', { fields: ['value'] });
  const LoopFilter = nodes.Node.extend('LoopFilter', { fields: ['arr', 'name', 'cond'] });
  const LoopControl = nodes.Node.extend('LoopControl', { fields: ['keyword'] });
  // `x[a:b:c]`; compiled as Nunjucks' own slice node (three expressions).
  Slice = nodes.Node.extend('Slice', { fields: ['start', 'stop', 'step'] });
  added = { StarArg, LoopFilter, LoopControl };
  const proto = internals.parser.Parser.prototype;

  proto.parseAggregate = function parseAggregate(this: any) {
    const open = this.nextToken();
    let node: any;
    let close: string;
    switch (open.type) {
      case lexer.TOKEN_LEFT_PAREN:
        node = new nodes.Group(open.lineno, open.colno);
        close = lexer.TOKEN_RIGHT_PAREN;
        break;
      case lexer.TOKEN_LEFT_BRACKET:
        node = new nodes.Array(open.lineno, open.colno);
        close = lexer.TOKEN_RIGHT_BRACKET;
        break;
      case lexer.TOKEN_LEFT_CURLY:
        node = new nodes.Dict(open.lineno, open.colno);
        close = lexer.TOKEN_RIGHT_CURLY;
        break;
      default:
        return null;
    }
    let sawComma = false;
    for (;;) {
      if (this.skip(close)) break;
      if (node.children.length > 0) {
        if (!this.skip(lexer.TOKEN_COMMA)) this.fail(`expected ',' or '${closing(close)}'`, this.peekToken().lineno, this.peekToken().colno);
        sawComma = true;
        if (this.skip(close)) break; // a trailing comma
      }
      if (node instanceof nodes.Dict) {
        const key = this.parseExpression();
        if (!this.skip(lexer.TOKEN_COLON)) this.fail("expected ':' after a dict key", key.lineno, key.colno);
        const pair = new nodes.Pair(key.lineno, key.colno, key, this.parseExpression());
        pair.computedKey = true;
        node.addChild(pair);
      } else if (node instanceof nodes.Array && node.children.length === 0 && isSliceAhead(this)) {
        node.addChild(parseSlice(this, open));
        if (!this.skip(close)) this.fail("expected ']' after a slice", open.lineno, open.colno);
        break;
      } else {
        node.addChild(this.parseExpression());
      }
    }
    // `(a,)` and `(a, b)` are tuples; only `(a)` is a parenthesized expression.
    if (node instanceof nodes.Group && (sawComma || node.children.length === 0)) {
      const tuple = new nodes.Array(node.lineno, node.colno);
      for (const child of node.children) tuple.addChild(child);
      return tuple;
    }
    return node;
  };

  proto.parseSignature = function parseSignature(this: any, tolerant?: boolean, noParens?: boolean) {
    let tok = this.peekToken();
    if (!noParens && tok.type !== lexer.TOKEN_LEFT_PAREN) {
      if (tolerant) return null;
      this.fail('expected arguments', tok.lineno, tok.colno);
    }
    if (tok.type === lexer.TOKEN_LEFT_PAREN) tok = this.nextToken();
    const args = new nodes.NodeList(tok.lineno, tok.colno);
    const kwargs = new nodes.KeywordArgs(tok.lineno, tok.colno);
    let first = true;
    for (;;) {
      tok = this.peekToken();
      if (!noParens && tok.type === lexer.TOKEN_RIGHT_PAREN) {
        this.nextToken();
        break;
      }
      if (noParens && tok.type === lexer.TOKEN_BLOCK_END) break;
      if (!first) {
        if (!this.skip(lexer.TOKEN_COMMA)) this.fail("expected ',' or ')' after an argument", tok.lineno, tok.colno);
        const after = this.peekToken();
        if (!noParens && after.type === lexer.TOKEN_RIGHT_PAREN) continue; // a trailing comma
      }
      first = false;
      tok = this.peekToken();
      if (tok.type === lexer.TOKEN_OPERATOR && (tok.value === '*' || tok.value === '**')) {
        this.nextToken();
        const value = this.parseExpression();
        if (tok.value === '*') {
          args.addChild(new StarArg(tok.lineno, tok.colno, value));
        } else {
          const spread = new nodes.Pair(tok.lineno, tok.colno, value, value);
          spread.spread = true;
          kwargs.addChild(spread);
        }
        continue;
      }
      const arg = this.parseExpression();
      if (this.skipValue(lexer.TOKEN_OPERATOR, '=')) {
        kwargs.addChild(new nodes.Pair(arg.lineno, arg.colno, arg, this.parseExpression()));
      } else {
        args.addChild(arg);
      }
    }
    if (kwargs.children.length) args.addChild(kwargs);
    return args;
  };

  const parseFor = proto.parseFor;
  proto.parseFor = function (this: any) {
    // Jinja reads `for x in xs if c` as a filtered loop; Nunjucks' expression parser would read
    // `xs if c` as an inline if. Parse the iterable without inline ifs, as Jinja does.
    let filtered: any;
    this.parseExpression = function (this: any) {
      delete this.parseExpression;
      const arr = this.parseOr();
      const tok = this.peekToken();
      if (this.skipSymbol('if')) {
        const cond = this.parseExpression();
        filtered = new LoopFilter(tok.lineno, tok.colno, arr, null, cond);
        return filtered;
      }
      return arr;
    };
    try {
      const node = parseFor.call(this);
      if (filtered) filtered.name = node.name;
      return node;
    } finally {
      delete this.parseExpression;
    }
  };

  const parseStatement = proto.parseStatement;
  proto.parseStatement = function (this: any) {
    const tok = this.peekToken();
    if (tok.type === lexer.TOKEN_SYMBOL && (tok.value === 'break' || tok.value === 'continue') && !this.breakOnBlocks?.includes(tok.value)) {
      this.nextToken();
      this.advanceAfterBlockEnd(tok.value);
      return new LoopControl(tok.lineno, tok.colno, tok.value);
    }
    return parseStatement.call(this);
  };
  return added;
}

function closing(type: string): string {
  return type === lexer.TOKEN_RIGHT_PAREN ? ')' : type === lexer.TOKEN_RIGHT_BRACKET ? ']' : '}';
}

/** After `[`: a slice starts with `:` or has one after its first expression (`x[1:]`). */
function isSliceAhead(parser: any): boolean {
  if (parser.peekToken().type === lexer.TOKEN_COLON) return true;
  const tokens = parser.tokens;
  const state = { index: tokens.index, lineno: tokens.lineno, colno: tokens.colno, inCode: tokens.in_code, peeked: parser.peeked };
  try {
    parser.parseExpression();
    return parser.peekToken().type === lexer.TOKEN_COLON;
  } catch {
    return false;
  } finally {
    tokens.index = state.index;
    tokens.lineno = state.lineno;
    tokens.colno = state.colno;
    tokens.in_code = state.inCode;
    parser.peeked = state.peeked;
  }
}

function parseSlice(parser: any, open: any): any {
  const part = (): any => {
    const tok = parser.peekToken();
    if (tok.type === lexer.TOKEN_COLON || tok.type === lexer.TOKEN_RIGHT_BRACKET) return new nodes.Literal(tok.lineno, tok.colno, null);
    return parser.parseExpression();
  };
  const start = part();
  parser.skip(lexer.TOKEN_COLON);
  const stop = part();
  const step = parser.skip(lexer.TOKEN_COLON) ? part() : new nodes.Literal(open.lineno, open.colno, null);
  return new Slice(open.lineno, open.colno, start, stop, step);
}
