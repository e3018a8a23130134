/**
 * A static reader of Jinja templates, like dbt's static parser: it finds every `{{ ... }}` and
 * `{% ... %}` tag — in every branch, since it does not evaluate control flow — and reads the calls
 * in them whose arguments are literals. It never executes anything.
 */

export type Literal = string | number | boolean | null | Literal[] | { [key: string]: Literal };

export interface ScannedCall {
  readonly name: string;
  /** Positional literal arguments (only when `literal`). */
  readonly args: readonly Literal[];
  readonly kwargs: Readonly<Record<string, Literal>>;
  /** False when some argument is an expression the scanner cannot evaluate. */
  readonly literal: boolean;
  /** 1-based line of the call's name. */
  readonly line: number;
  readonly column: number;
  /** Inside an if/for/macro/set block: whether it runs depends on how the template renders. */
  readonly conditional: boolean;
}

export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  /** An output tag consisting of exactly one call, e.g. `{{ ref('x') }}`. */
  | { readonly kind: 'call'; readonly call: ScannedCall }
  | { readonly kind: 'comment' }
  /** Anything else: statements, filters, expressions, whitespace control. */
  | { readonly kind: 'complex' };

export interface ScanResult {
  readonly calls: readonly ScannedCall[];
  readonly parts: readonly TemplatePart[];
  /** Every other identifier followed by `(` (macro calls, builtins). */
  readonly calledNames: ReadonlySet<string>;
  /**
   * Where the template's structure looks broken (an unterminated tag, unbalanced brackets, an
   * unclosed or stray block): the parser should then be asked for the exact error.
   */
  readonly suspect?: { readonly line: number; readonly column: number };
  /** The first `{% snapshot name %}` block: a dbt snapshot, valid only in a file under the snapshot paths. */
  readonly snapshot?: { readonly name: string; readonly line: number; readonly column: number };
}

type Token =
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number }
  | { t: 'id'; v: string; pos: number }
  | { t: 'op'; v: string; pos: number };

/** `tokenizeAll` (tests only) reads every tag through the tokenizer, to prove the shortcut for simple calls changes nothing. */
export function scanTemplate(text: string, options: { readonly tokenizeAll?: boolean } = {}): ScanResult {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const position = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo] + 1 };
  };

  const calls: ScannedCall[] = [];
  const parts: TemplatePart[] = [];
  const calledNames = new Set<string>();
  let at = 0;
  let inRaw = false;
  let depth = 0;
  const blocks: Array<{ keyword: string; offset: number }> = [];
  let suspect: { line: number; column: number } | undefined;
  let snapshot: { name: string; line: number; column: number } | undefined;
  const suspectAt = (offset: number) => (suspect ??= position(offset));
  while (at < text.length) {
    const open = nextTagOpen(text, at);
    if (open === -1) {
      parts.push({ kind: 'text', text: text.slice(at) });
      break;
    }
    if (open > at) parts.push({ kind: 'text', text: text.slice(at, open) });
    const kind = text[open + 1];
    const closer = kind === '{' ? '}}' : kind === '%' ? '%}' : '#}';
    const end = findClose(text, open + 2, closer, kind !== '#');
    if (end === -1) {
      parts.push({ kind: 'complex' });
      suspectAt(open);
      break;
    }
    const inner = text.slice(open + 2, end);
    at = end + 2;
    if (kind === '#') {
      parts.push({ kind: 'comment' });
      continue;
    }
    const trimmed = inner.trim();
    if (kind === '%') {
      if (/^-?\s*endraw\b/.test(trimmed)) inRaw = false;
      else if (/^-?\s*raw\b/.test(trimmed)) inRaw = true;
      parts.push({ kind: 'complex' });
      if (inRaw) continue;
      const keyword = /^-?\s*([a-z_]+)/.exec(trimmed)?.[1] ?? '';
      if (keyword === 'snapshot' && snapshot === undefined) {
        const name = /^-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(trimmed)?.[1] ?? '';
        snapshot = { name, ...position(open) };
      }
      if (keyword.startsWith('end')) {
        depth = Math.max(0, depth - 1);
        const opened = blocks.pop();
        if (opened === undefined || `end${opened.keyword}` !== keyword) suspectAt(open);
      } else if (BLOCK_KEYWORDS.has(keyword) && !(keyword === 'set' && trimmed.includes('='))) {
        depth++;
        blocks.push({ keyword, offset: open + 2 + inner.indexOf(keyword) });
      } else if (!KNOWN_TAGS.has(keyword)) {
        // `{% bogus %}`: no template language has it; the parser names it.
        suspectAt(open);
      }
      // A block's own tag (`{% if ref('x') %}`) is as conditional as its body.
      const statementTokens = tokenize(inner, open + 2);
      if (!balanced(statementTokens)) suspectAt(open);
      const found = readCalls(statementTokens, position, calledNames, depth > 0);
      calls.push(...found.calls);
      continue;
    }
    if (inRaw) {
      parts.push({ kind: 'complex' });
      continue;
    }
    const simple = options.tokenizeAll ? undefined : simpleCall(inner, open + 2, position, depth > 0);
    if (simple !== undefined) {
      // What tokenizing gives for this shape, without tokenizing: most tags of a project are these.
      calledNames.add(simple.name);
      calls.push(simple);
      parts.push({ kind: 'call', call: simple });
      continue;
    }
    const tokens = tokenize(inner, open + 2);
    if (!balanced(tokens)) suspectAt(open);
    const found = readCalls(tokens, position, calledNames, depth > 0);
    calls.push(...found.calls);
    const whitespaceControl = /^[-+]/.test(inner) || /[-+]$/.test(inner);
    if (kind === '{' && !whitespaceControl && found.single) parts.push({ kind: 'call', call: found.single });
    else if (kind === '{') parts.push({ kind: 'complex' });
  }
  if (blocks.length > 0) suspectAt(blocks[blocks.length - 1].offset);
  return { calls, parts, calledNames, suspect, snapshot };
}

/**
 * `{{ name('a') }}` or `{{ name('a', 'b') }}`: one call of string literals without escapes, no
 * whitespace control. The tokenizer reads these the same way (tested in tests/unit/parse.test.ts).
 */
const SIMPLE_CALL = /^([ \t\n\r]*)([A-Za-z_][A-Za-z0-9_]*)[ \t\n\r]*\([ \t\n\r]*(?:'([^'\\\n]*)'|"([^"\\\n]*)")[ \t\n\r]*(?:,[ \t\n\r]*(?:'([^'\\\n]*)'|"([^"\\\n]*)")[ \t\n\r]*)?\)[ \t\n\r]*$/;

function simpleCall(inner: string, base: number, position: (offset: number) => { line: number; column: number }, conditional: boolean): ScannedCall | undefined {
  const m = SIMPLE_CALL.exec(inner);
  if (m === null) return undefined;
  const first = m[3] ?? m[4];
  const second = m[5] ?? m[6];
  const { line, column } = position(base + m[1].length);
  return { name: m[2], args: second === undefined ? [first] : [first, second], kwargs: {}, literal: true, line, column, conditional };
}

const OPENERS: Readonly<Record<string, string>> = { '(': ')', '[': ']', '{': '}' };

function balanced(tokens: readonly Token[]): boolean {
  const expected: string[] = [];
  for (const t of tokens) {
    if (t.t !== 'op') continue;
    if (t.v in OPENERS) expected.push(OPENERS[t.v]);
    else if (t.v === ')' || t.v === ']' || t.v === '}') {
      if (expected.pop() !== t.v) return false;
    }
  }
  return expected.length === 0;
}

// `snapshot` is dbt's, not Nunjucks': a block here so that its file is reported as a snapshot
// (the `snapshot` field) rather than as a broken template.
const BLOCK_KEYWORDS = new Set(['if', 'for', 'macro', 'call', 'filter', 'set', 'block', 'raw', 'snapshot']);
/** Every other tag Nunjucks knows (its parser's statements, and the parts of if, for and switch). */
const KNOWN_TAGS = new Set(['do', 'set', 'elif', 'elseif', 'else', 'verbatim', 'extends', 'include', 'import', 'from', 'switch', 'case', 'default']);

function nextTagOpen(text: string, from: number): number {
  for (let i = text.indexOf('{', from); i !== -1; i = text.indexOf('{', i + 1)) {
    const c = text[i + 1];
    if (c === '{' || c === '%' || c === '#') return i;
  }
  return -1;
}

/** Find the tag's closer, skipping string literals inside expressions. */
function findClose(text: string, from: number, closer: string, skipStrings: boolean): number {
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (skipStrings && (c === '"' || c === "'")) {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === closer[0] && text[i + 1] === closer[1]) return i;
    i++;
  }
  return -1;
}

const NUMBER = /[0-9]+(\.[0-9]+)?/y;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

function tokenize(src: string, base: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '"' || c === "'") {
      let v = '';
      const start = i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\' && i + 1 < src.length) {
          const n = src[i + 1];
          v += n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n;
          i += 2;
        } else {
          v += src[i++];
        }
      }
      i++;
      tokens.push({ t: 'str', v, pos: base + start });
    } else if (c >= '0' && c <= '9') {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(src)!;
      tokens.push({ t: 'num', v: Number(m[0]), pos: base + i });
      i += m[0].length;
    } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c === '_') {
      IDENT.lastIndex = i;
      const m = IDENT.exec(src)!;
      tokens.push({ t: 'id', v: m[0], pos: base + i });
      i += m[0].length;
    } else {
      const two = src.slice(i, i + 2);
      const op = ['==', '!=', '<=', '>=', '//', '**'].includes(two) ? two : c;
      tokens.push({ t: 'op', v: op, pos: base + i });
      i += op.length;
    }
  }
  return tokens;
}

const NO_VALUE = Symbol('not a literal');

/**
 * Read every `name(...)` in a tag. `single` is set when the whole tag is exactly one call with
 * literal arguments (the shape the fast path can render).
 */
function readCalls(
  tokens: Token[],
  position: (offset: number) => { line: number; column: number },
  calledNames: Set<string>,
  conditional: boolean,
): { calls: ScannedCall[]; single?: ScannedCall } {
  const calls: ScannedCall[] = [];
  let single: ScannedCall | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    const next = tokens[i + 1];
    if (tok.t !== 'id' || next?.t !== 'op' || next.v !== '(') continue;
    const prev = tokens[i - 1];
    if (prev?.t === 'op' && prev.v === '.') continue; // a method call like x.get()
    calledNames.add(tok.v);
    const parsed = readArguments(tokens, i + 2);
    const { line, column } = position(tok.pos);
    const call: ScannedCall = {
      name: tok.v,
      args: parsed.args,
      kwargs: parsed.kwargs,
      literal: parsed.literal,
      line,
      column,
      conditional,
    };
    calls.push(call);
    if (i === 0 && parsed.literal && parsed.end === tokens.length - 1) single = call;
  }
  return { calls, single };
}

function readArguments(tokens: Token[], start: number) {
  const args: Literal[] = [];
  const kwargs: Record<string, Literal> = {};
  let literal = true;
  let i = start;
  const fail = () => {
    literal = false;
    // Skip to the matching parenthesis so the caller can keep scanning nested calls.
    let depth = 1;
    let j = start;
    for (; j < tokens.length && depth > 0; j++) {
      const t = tokens[j];
      if (t.t === 'op' && (t.v === '(' || t.v === '[' || t.v === '{')) depth++;
      if (t.t === 'op' && (t.v === ')' || t.v === ']' || t.v === '}')) depth--;
    }
    return { args: [], kwargs: {}, literal, end: j - 1 };
  };
  if (tokens[i]?.t === 'op' && tokens[i].v === ')') return { args, kwargs, literal, end: i };
  for (;;) {
    let key: string | undefined;
    if (tokens[i]?.t === 'id' && tokens[i + 1]?.t === 'op' && tokens[i + 1].v === '=') {
      key = tokens[i].v as string;
      i += 2;
    }
    const value = readLiteral(tokens, i);
    if (value.value === NO_VALUE) return fail();
    i = value.next;
    if (key === undefined) {
      if (Object.keys(kwargs).length > 0) return fail();
      args.push(value.value);
    } else {
      kwargs[key] = value.value;
    }
    const sep = tokens[i];
    if (sep?.t === 'op' && sep.v === ',') {
      i++;
      if (tokens[i]?.t === 'op' && tokens[i].v === ')') return { args, kwargs, literal, end: i };
      continue;
    }
    if (sep?.t === 'op' && sep.v === ')') return { args, kwargs, literal, end: i };
    return fail();
  }
}

function readLiteral(tokens: Token[], i: number): { value: Literal | typeof NO_VALUE; next: number } {
  const tok = tokens[i];
  if (!tok) return { value: NO_VALUE, next: i };
  const after = tokens[i + 1];
  // A literal followed by an operator or filter is an expression (e.g. 'a' ~ x, 'x' | upper).
  const ends = (n: number) => {
    const t = tokens[n];
    return t === undefined || (t.t === 'op' && (t.v === ',' || t.v === ')' || t.v === ']' || t.v === '}' || t.v === ':'));
  };
  if (tok.t === 'str') {
    // Adjacent string literals concatenate in Jinja; rare enough to leave to the renderer.
    return ends(i + 1) ? { value: tok.v, next: i + 1 } : { value: NO_VALUE, next: i };
  }
  if (tok.t === 'num') return ends(i + 1) ? { value: tok.v, next: i + 1 } : { value: NO_VALUE, next: i };
  if (tok.t === 'op' && tok.v === '-' && after?.t === 'num') {
    return ends(i + 2) ? { value: -after.v, next: i + 2 } : { value: NO_VALUE, next: i };
  }
  if (tok.t === 'id') {
    const constants: Record<string, Literal> = { true: true, True: true, false: false, False: false, none: null, None: null, null: null };
    if (tok.v in constants && ends(i + 1)) return { value: constants[tok.v], next: i + 1 };
    return { value: NO_VALUE, next: i };
  }
  if (tok.t === 'op' && (tok.v === '[' || tok.v === '(')) {
    const close = tok.v === '[' ? ']' : ')';
    const list: Literal[] = [];
    let j = i + 1;
    while (!(tokens[j]?.t === 'op' && tokens[j].v === close)) {
      const item = readLiteral(tokens, j);
      if (item.value === NO_VALUE) return { value: NO_VALUE, next: i };
      list.push(item.value);
      j = item.next;
      if (tokens[j]?.t === 'op' && tokens[j].v === ',') j++;
      else if (!(tokens[j]?.t === 'op' && tokens[j].v === close)) return { value: NO_VALUE, next: i };
    }
    return ends(j + 1) ? { value: list, next: j + 1 } : { value: NO_VALUE, next: i };
  }
  if (tok.t === 'op' && tok.v === '{') {
    const dict: Record<string, Literal> = {};
    let j = i + 1;
    while (!(tokens[j]?.t === 'op' && tokens[j].v === '}')) {
      const k = tokens[j];
      if (k?.t !== 'str' || !(tokens[j + 1]?.t === 'op' && tokens[j + 1].v === ':')) return { value: NO_VALUE, next: i };
      const item = readLiteral(tokens, j + 2);
      if (item.value === NO_VALUE) return { value: NO_VALUE, next: i };
      dict[k.v] = item.value;
      j = item.next;
      if (tokens[j]?.t === 'op' && tokens[j].v === ',') j++;
      else if (!(tokens[j]?.t === 'op' && tokens[j].v === '}')) return { value: NO_VALUE, next: i };
    }
    return ends(j + 1) ? { value: dict, next: j + 1 } : { value: NO_VALUE, next: i };
  }
  return { value: NO_VALUE, next: i };
}
