/**
 * Best-effort static analysis of a topology function's source (`fn.toString()`): which
 * properties it reads from one of its parameters. A small tokenizer, not a parser.
 *
 * Understood:
 * - arrow functions with or without parentheses, `function` expressions, method shorthand;
 * - member chains on the parameter: `x.amount`, `x?.a.b`, `x['amount']`, also inside
 *   template literals (`${f.origin}-${f.destination}`); a trailing call drops the method
 *   name (`x.name.toUpperCase()` reads `name`);
 * - destructuring in the parameter list (`({ amount, origin: o, address: { zip } }) => ...`)
 *   and in the body from the parameter (`const { amount } = x`), with the destructured names
 *   then followed like the parameter (`({ address }) => address.zip` reads `address.zip`);
 * - the projection: a body that only returns one member chain (`x => x.amount`,
 *   `x => (x.amount ?? null)`, `function (x) { return x.amount; }`, `({ amount }) => amount`).
 *
 * Not understood (the reads are then simply not seen): computed keys (`x[k]`), the parameter
 * passed on to other functions or copied to another variable (reported as `escapes`), an
 * inner function's parameter that shadows it, `arguments`, and array patterns.
 */

export interface FunctionFields {
  /** Whether the parameter list was understood (if not, nothing else is meaningful). */
  readonly parsed: boolean;
  /**
   * Every member chain read from the parameter, e.g. [['amount'], ['address', 'zip']],
   * deduplicated, in first-read order. A chain may run on past the record's fields into
   * JavaScript properties (`x.name.length` gives ['name', 'length']): the schema decides
   * where fields end.
   */
  readonly reads: readonly (readonly string[])[];
  /** The chain the function returns when its body is nothing but that chain, else null. */
  readonly projection: readonly string[] | null;
  /** The parameter is used as a whole value (passed on, copied, spread): reads may be incomplete. */
  readonly escapes: boolean;
}

type Tok =
  | { readonly t: 'id'; readonly v: string }
  | { readonly t: 'p'; readonly v: string }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'num'; readonly v: string }
  | { readonly t: 'tpl'; readonly v: string }
  | { readonly t: 're'; readonly v: string };

const PUNCT = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>',
];
const KEYWORDS_BEFORE_EXPR = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);
const ID_START = /[A-Za-z_$\u00a0-\uffff]/;
const ID_PART = /[A-Za-z0-9_$\u00a0-\uffff]/;

/** Tokenize JavaScript; template literal expressions are spliced in as `${` ... `}` tokens. */
function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  // Brace depth per open template expression, to know which `}` ends it.
  const tplStack: number[] = [];
  let depth = 0;

  const regexAllowed = (): boolean => {
    const prev = out[out.length - 1];
    if (!prev) return true;
    if (prev.t === 'num' || prev.t === 'str' || prev.t === 'tpl' || prev.t === 're') return false;
    if (prev.t === 'id') return KEYWORDS_BEFORE_EXPR.has(prev.v);
    return !(prev.v === ')' || prev.v === ']' || prev.v === '}');
  };

  const readTemplate = (): void => {
    // i is just after a backtick or a template expression's closing brace
    let text = '';
    while (i < src.length) {
      const c = src[i];
      if (c === '\\') {
        text += src.slice(i, i + 2);
        i += 2;
      } else if (c === '`') {
        i++;
        out.push({ t: 'tpl', v: text });
        return;
      } else if (c === '$' && src[i + 1] === '{') {
        out.push({ t: 'tpl', v: text });
        out.push({ t: 'p', v: '${' });
        i += 2;
        tplStack.push(depth);
        depth++;
        return;
      } else {
        text += c;
        i++;
      }
    }
    out.push({ t: 'tpl', v: text });
  };

  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      let v = '';
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\') {
          v += src[i + 1] ?? '';
          i += 2;
        } else v += src[i++];
      }
      i++;
      out.push({ t: 'str', v });
      continue;
    }
    if (c === '`') {
      i++;
      readTemplate();
      continue;
    }
    if (ID_START.test(c)) {
      let v = '';
      while (i < src.length && ID_PART.test(src[i])) v += src[i++];
      out.push({ t: 'id', v });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let v = '';
      while (i < src.length && /[0-9A-Za-z_.]/.test(src[i])) v += src[i++];
      out.push({ t: 'num', v });
      continue;
    }
    if (c === '/' && regexAllowed()) {
      let v = '/';
      i++;
      let inClass = false;
      while (i < src.length) {
        const d = src[i];
        if (d === '\\') {
          v += src.slice(i, i + 2);
          i += 2;
          continue;
        }
        v += d;
        i++;
        if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
      }
      while (i < src.length && /[a-z]/i.test(src[i])) v += src[i++];
      out.push({ t: 're', v });
      continue;
    }
    if (c === '{') {
      depth++;
      out.push({ t: 'p', v: '{' });
      i++;
      continue;
    }
    if (c === '}') {
      depth--;
      if (tplStack.length > 0 && tplStack[tplStack.length - 1] === depth) {
        tplStack.pop();
        out.push({ t: 'p', v: '}' });
        i++;
        readTemplate();
        continue;
      }
      out.push({ t: 'p', v: '}' });
      i++;
      continue;
    }
    let p = PUNCT.find((x) => src.startsWith(x, i));
    if (p === '?.' && /[0-9]/.test(src[i + 2] ?? '')) p = undefined; // `a?.5:b` is a conditional
    const v = p ?? c;
    out.push({ t: 'p', v });
    i += v.length;
  }
  return out;
}

const isP = (tok: Tok | undefined, v: string): boolean => tok !== undefined && tok.t === 'p' && tok.v === v;
const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}', '${': '}' };

/** Index of the token closing the bracket opened at `open`, or -1. */
function matching(toks: readonly Tok[], open: number): number {
  let d = 0;
  for (let i = open; i < toks.length; i++) {
    const tk = toks[i];
    if (tk.t !== 'p') continue;
    if (OPEN[tk.v] !== undefined) d++;
    else if (tk.v === ')' || tk.v === ']' || tk.v === '}') {
      d--;
      if (d === 0) return i;
    }
  }
  return -1;
}

/** Split toks[from, to) at top-level commas. */
function splitTop(toks: readonly Tok[], from: number, to: number): Array<[number, number]> {
  const parts: Array<[number, number]> = [];
  let start = from;
  let d = 0;
  for (let i = from; i < to; i++) {
    const tk = toks[i];
    if (tk.t !== 'p') continue;
    if (OPEN[tk.v] !== undefined) d++;
    else if (tk.v === ')' || tk.v === ']' || tk.v === '}') d--;
    else if (tk.v === ',' && d === 0) {
      parts.push([start, i]);
      start = i + 1;
    }
  }
  if (start < to) parts.push([start, to]);
  return parts;
}

/** Names bound by an object pattern toks[from] = '{' ... '}', with the member chain each one holds. */
function bindPattern(toks: readonly Tok[], from: number, base: readonly string[], roots: Map<string, readonly string[]>, reads: string[][]): boolean {
  const close = matching(toks, from);
  if (close < 0) return false;
  for (const [a, b] of splitTop(toks, from + 1, close)) {
    const first = toks[a];
    if (!first) continue;
    if (isP(first, '...')) continue; // rest: the remaining fields, unknown
    let key: string;
    if (first.t === 'id' || first.t === 'str' || first.t === 'num') key = first.v;
    else continue; // computed key
    const chain = [...base, key];
    reads.push(chain);
    if (a + 1 >= b || isP(toks[a + 1], '=')) {
      if (first.t === 'id') roots.set(key, chain); // shorthand, maybe with a default
      continue;
    }
    if (!isP(toks[a + 1], ':')) continue;
    const target = toks[a + 2];
    if (isP(target, '{')) bindPattern(toks, a + 2, chain, roots, reads);
    else if (target?.t === 'id') roots.set(target.v, chain);
  }
  return true;
}

interface Header {
  readonly params: Array<[number, number]>;
  /** First token of the body; for an expression-bodied arrow, `expression` is true. */
  readonly body: number;
  readonly expression: boolean;
}

function parseHeader(toks: readonly Tok[]): Header | null {
  let i = 0;
  if (toks[i]?.t === 'id' && toks[i].v === 'async' && !isP(toks[i + 1], '=>') && !isP(toks[i + 1], '(')) i++;
  else if (toks[i]?.t === 'id' && toks[i].v === 'async' && isP(toks[i + 1], '(') && isP(toks[matching(toks, i + 1) + 1], '=>')) i++;
  const first = toks[i];
  if (!first) return null;
  // x => ...
  if (first.t === 'id' && isP(toks[i + 1], '=>')) {
    return { params: [[i, i + 1]], body: i + 2, expression: !isP(toks[i + 2], '{') };
  }
  // function name? (...) { ... }
  if (first.t === 'id' && first.v === 'function') {
    i++;
    if (isP(toks[i], '*')) i++;
    if (toks[i]?.t === 'id') i++;
    if (!isP(toks[i], '(')) return null;
    const close = matching(toks, i);
    if (close < 0 || !isP(toks[close + 1], '{')) return null;
    return { params: splitTop(toks, i + 1, close), body: close + 1, expression: false };
  }
  // (...) => ...
  if (isP(first, '(')) {
    const close = matching(toks, i);
    if (close < 0 || !isP(toks[close + 1], '=>')) return null;
    return { params: splitTop(toks, i + 1, close), body: close + 2, expression: !isP(toks[close + 2], '{') };
  }
  // method shorthand: name(...) { ... }, also get/set/async/* prefixes
  while (toks[i]?.t === 'id' && toks[i + 1]?.t === 'id') i++;
  if (isP(toks[i], '*')) i++;
  if ((toks[i]?.t === 'id' || toks[i]?.t === 'str') && isP(toks[i + 1], '(')) {
    const close = matching(toks, i + 1);
    if (close < 0 || !isP(toks[close + 1], '{')) return null;
    return { params: splitTop(toks, i + 2, close), body: close + 1, expression: false };
  }
  return null;
}

/** Read a member chain starting after a root identifier at `i`; returns the segments and the index after the chain. */
function readChain(toks: readonly Tok[], i: number): { segs: string[]; end: number; called: boolean } {
  const segs: string[] = [];
  let j = i;
  for (;;) {
    const a = toks[j];
    const b = toks[j + 1];
    if ((isP(a, '.') || isP(a, '?.')) && b?.t === 'id') {
      segs.push(b.v);
      j += 2;
    } else if (isP(a, '[') && b?.t === 'str' && isP(toks[j + 2], ']')) {
      segs.push(b.v);
      j += 3;
    } else if (isP(a, '?.') && isP(b, '[') && toks[j + 2]?.t === 'str' && isP(toks[j + 3], ']')) {
      segs.push(toks[j + 2].v);
      j += 4;
    } else break;
  }
  const called = isP(toks[j], '(') || (isP(toks[j], '?.') && isP(toks[j + 1], '('));
  return { segs, end: j, called };
}

/** Strip enclosing parentheses and a trailing `?? null|undefined|<number>` from an expression's tokens. */
function unwrapExpression(toks: readonly Tok[], from: number, to: number): [number, number] {
  for (;;) {
    while (to > from && isP(toks[to - 1], ';')) to--;
    if (isP(toks[from], '(') && matching(toks, from) === to - 1) {
      from++;
      to--;
      continue;
    }
    const last = toks[to - 1];
    if (to - from > 2 && isP(toks[to - 2], '??') && last && (last.t === 'num' || (last.t === 'id' && (last.v === 'null' || last.v === 'undefined')))) {
      to -= 2;
      continue;
    }
    return [from, to];
  }
}

/**
 * The member chains a function reads from its parameter number `paramIndex` (0 = first).
 * `fn` is the function or its source text.
 */
export function functionFields(fn: ((...args: never[]) => unknown) | string, paramIndex = 0): FunctionFields {
  const src = typeof fn === 'string' ? fn : Function.prototype.toString.call(fn);
  const none: FunctionFields = { parsed: false, reads: [], projection: null, escapes: false };
  let toks: Tok[];
  try {
    toks = tokenize(src);
  } catch {
    return none;
  }
  const h = parseHeader(toks);
  if (!h) return none;
  const reads: string[][] = [];
  const roots = new Map<string, readonly string[]>();
  let paramName: string | null = null;
  const param = h.params[paramIndex];
  if (!param) return { parsed: true, reads: [], projection: null, escapes: false };
  const [pa] = param;
  const pt = toks[pa];
  if (pt?.t === 'id') {
    paramName = pt.v;
    roots.set(pt.v, []);
  } else if (isP(pt, '{')) {
    bindPattern(toks, pa, [], roots, reads);
  } else {
    return { parsed: false, reads: [], projection: null, escapes: false };
  }

  const bodyEnd = toks.length;
  let escapes = false;
  for (let i = h.body; i < bodyEnd; i++) {
    const tk = toks[i];
    if (tk.t !== 'id' || !roots.has(tk.v)) continue;
    const prev = toks[i - 1];
    if (isP(prev, '.') || isP(prev, '?.')) continue; // a property that happens to share the name
    if ((isP(prev, '{') || isP(prev, ',')) && isP(toks[i + 1], ':')) continue; // an object literal key
    const base = roots.get(tk.v) as readonly string[];
    // const { a, b } = x
    if (isP(prev, '=') && isP(toks[i - 2], '}')) {
      let open = -1;
      for (let k = i - 2, d = 0; k >= h.body; k--) {
        if (isP(toks[k], '}')) d++;
        else if (isP(toks[k], '{') && --d === 0) {
          open = k;
          break;
        }
      }
      const decl = toks[open - 1];
      if (open >= 0 && decl?.t === 'id' && (decl.v === 'const' || decl.v === 'let' || decl.v === 'var')) {
        const { segs } = readChain(toks, i + 1);
        bindPattern(toks, open, [...base, ...segs], roots, reads);
        continue;
      }
    }
    const { segs, called } = readChain(toks, i + 1);
    if (called) segs.pop();
    const chain = [...base, ...segs];
    if (chain.length > 0) reads.push(chain);
    if (tk.v === paramName && segs.length === 0 && !called) escapes = true;
  }

  // Projection: the body is (or only returns) one member chain.
  let projection: readonly string[] | null = null;
  let from = h.body;
  let to = bodyEnd;
  if (!h.expression) {
    // { return <expr>; }
    if (isP(toks[from], '{') && toks[from + 1]?.t === 'id' && toks[from + 1].v === 'return' && matching(toks, from) === to - 1) {
      from += 2;
      to -= 1;
      const semi = toks.findIndex((t, k) => k >= from && k < to && isP(t, ';'));
      if (semi >= 0 && semi !== to - 1) from = to; // more than one statement
    } else from = to;
  }
  [from, to] = unwrapExpression(toks, from, to);
  const root = toks[from];
  if (from < to && root?.t === 'id' && roots.has(root.v)) {
    const { segs, end, called } = readChain(toks, from + 1);
    const chain = [...(roots.get(root.v) as readonly string[]), ...segs];
    if (end === to && !called && chain.length > 0) projection = chain;
  }

  const seen = new Set<string>();
  const unique = reads.filter((r) => {
    const k = JSON.stringify(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return { parsed: true, reads: unique, projection, escapes };
}
