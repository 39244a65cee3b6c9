import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { Labels } from '../model/types.js';
import {
  compareUtf8,
  makeAll,
  makeAndOr,
  makeComparison,
  makeGlobal,
  makeHas,
  makeNot,
  makeSet,
  type ComparisonKind,
  type SelectorNode,
} from './ast.js';
import { andSelectors, orSelectors, prefixSelectorLabels } from './combine.js';
import { interpretSelector } from './interpret.js';
import { labelRestrictionsSatisfiable, labelsSatisfyRestrictions } from './label-restrictions.js';
import { SelectorParseError } from './parse-error.js';
import { parseSelectorAst } from './parser.js';
import { printSelector } from './print.js';
import { parseSelector, selectorFromAst, validateSelector } from './selector.js';

// ---------------------------------------------------------------------------------------------
// Generators

/** Label names, including operator words and Object.prototype member names. */
const LABELS = ['a', 'b', 'app', 'k8s-app', 'x.y/z_1', '0', 'contains', 'in', 'has', 'all', 'not', 'constructor', '__proto__'];
const labelArb = fc.constantFrom(...LABELS);

/** Values: a small shared pool (so label maps hit them) plus odd strings, never both quote kinds. */
const VALUES = ['', 'x', 'y', 'web', 'X', "it's", 'say "hi"', '😀', '～', ' sp ', 'a\\b'];
const valueArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...VALUES) },
  {
    weight: 1,
    arbitrary: fc
      .string({ maxLength: 5, unit: fc.constantFrom('x', 'y', '"', "'", ' ', '\t', '\\', 'é', '😀', '～', '{', ')', '&', '\n') })
      .filter((v) => !(v.includes('"') && v.includes("'"))),
  },
);

const comparisonKinds: ComparisonKind[] = ['eq', 'ne', 'contains', 'startsWith', 'endsWith'];

const leafArb: fc.Arbitrary<SelectorNode> = fc.oneof(
  fc.constant(makeAll()),
  fc.constant(makeGlobal()),
  labelArb.map(makeHas),
  fc.tuple(fc.constantFrom(...comparisonKinds), labelArb, valueArb).map(([k, l, v]) => makeComparison(k, l, v)),
  fc.tuple(fc.constantFrom('in' as const, 'notIn' as const), labelArb, fc.array(valueArb, { maxLength: 5 })).map(([k, l, vs]) =>
    makeSet(k, l, vs),
  ),
);

/**
 * Random well-formed trees whose canonical text re-parses to the same tree: no `not` directly
 * inside a `not` (Calico prints `!(!x)` as `!!x`, which parses back as `x`).
 */
const { node: nodeArb } = fc.letrec<{ node: SelectorNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    tie('node')
      .filter((n) => n.kind !== 'not')
      .map(makeNot),
    fc.tuple(fc.constantFrom('and' as const, 'or' as const), fc.array(tie('node'), { minLength: 2, maxLength: 4 })).map(
      ([kind, operands]) => makeAndOr(kind, operands),
    ),
  ),
}));

/** Label maps over the same names and values, built with own properties (even `__proto__`). */
const labelsArb: fc.Arbitrary<Labels> = fc
  .array(fc.tuple(labelArb, valueArb), { maxLength: 8 })
  .map((entries) => Object.fromEntries(entries) as Labels);

const ws = fc.constantFrom('', ' ', '  ', '\t', ' \t ');
const ws1 = fc.constantFrom(' ', '  ', '\t', ' \t ');

/**
 * Prints a tree the way a person might write it: random spaces and tabs, either quote when
 * possible, `startswith`/`notin` spellings, shuffled and duplicated set elements, trailing
 * commas, redundant parentheses and extra `!!`. Parses back to the same tree.
 */
function messyArb(node: SelectorNode): fc.Arbitrary<string> {
  const quote = (v: string): fc.Arbitrary<string> =>
    v.includes('"') ? fc.constant(`'${v}'`) : v.includes("'") ? fc.constant(`"${v}"`) : fc.constantFrom(`"${v}"`, `'${v}'`);
  let core: fc.Arbitrary<string>;
  switch (node.kind) {
    case 'all':
    case 'global':
      core = ws.map((w) => `${node.kind}(${w})`);
      break;
    case 'has':
      core = fc.tuple(ws, ws).map(([a, b]) => `has(${a}${node.label}${b})`);
      break;
    case 'eq':
    case 'ne': {
      const op = node.kind === 'eq' ? '==' : '!=';
      core = fc.tuple(ws, ws, quote(node.value)).map(([a, b, lit]) => `${node.label}${a}${op}${b}${lit}`);
      break;
    }
    case 'contains':
    case 'startsWith':
    case 'endsWith': {
      const spellings = {
        contains: ['contains'],
        startsWith: ['starts with', 'startswith', 'starts \t with'],
        endsWith: ['ends with', 'endswith', 'ends  with'],
      }[node.kind];
      core = fc
        .tuple(ws1, fc.constantFrom(...spellings), ws, quote(node.value))
        .map(([a, op, b, lit]) => `${node.label}${a}${op}${b}${lit}`);
      break;
    }
    case 'in':
    case 'notIn': {
      const ops = node.kind === 'in' ? ['in'] : ['not in', 'notin', 'not\tin'];
      const elements =
        node.values.length === 0
          ? fc.constant<string[]>([])
          : fc
              .subarray([...node.values])
              .chain((dupes) => {
                const all = [...node.values, ...dupes];
                return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
              })
              .chain((vs) => fc.tuple(...vs.map(quote)));
      core = fc
        .tuple(ws1, fc.constantFrom(...ops), ws, elements, ws, fc.boolean())
        .map(
          ([a, op, b, els, c, trailing]) =>
            `${node.label}${a}${op}${b}{${c}${els.join(`${c},${c}`)}${trailing && els.length > 0 ? ',' : ''}${c}}`,
        );
      break;
    }
    case 'not':
      core = fc
        .tuple(fc.constantFrom('!', '!!!', '! ! !'), ws, messyArb(node.operand), fc.boolean())
        .map(([bangs, w, inner, paren]) => `${bangs}${w}${paren || node.operand.kind === 'and' || node.operand.kind === 'or' ? `(${inner})` : inner}`);
      break;
    case 'and':
    case 'or': {
      const joiner = node.kind === 'and' ? '&&' : '||';
      const parts = node.operands.map((operand) =>
        fc.tuple(messyArb(operand), fc.boolean()).map(([text, optional]) => {
          // and/or operands keep their own group; an and-group inside an or needs none.
          const needs = operand.kind === 'or' || (operand.kind === 'and' && (node.kind === 'and' || optional));
          return needs ? `(${text})` : text;
        }),
      );
      core = fc.tuple(fc.tuple(...parts), ws, ws).map(([texts, a, b]) => texts.join(`${a}${joiner}${b}`));
      break;
    }
  }
  return fc
    .tuple(core, fc.nat(9), ws, ws)
    .map(([text, roll, a, b]) => (roll === 0 ? `(${a}${text}${b})` : roll === 1 ? `!!${a}(${text})` : text));
}

const treeAndSpellingArb = nodeArb.chain((node) => fc.tuple(fc.constant(node), messyArb(node)));

// ---------------------------------------------------------------------------------------------
// Properties

const params = { numRuns: 400 };

describe('selector laws', () => {
  test.prop([nodeArb], params)('parse ∘ print is the identity on trees (print(parse(print(t))) = print(t))', (node) => {
    const text = printSelector(node);
    const reparsed = parseSelectorAst(text);
    expect(printSelector(reparsed)).toBe(text);
    expect(reparsed).toEqual(node);
  });

  test.prop([treeAndSpellingArb], params)('every spelling of a tree canonicalises to the tree\'s canonical text', ([node, text]) => {
    expect(parseSelector(text).toString()).toBe(printSelector(node));
  });

  test.prop([treeAndSpellingArb], params)('canonicalisation is idempotent', ([, text]) => {
    const once = parseSelector(text).toString();
    const twice = parseSelector(once);
    expect(twice.toString()).toBe(once);
    expect(twice.uniqueId).toBe(parseSelector(text).uniqueId);
  });

  test.prop([nodeArb, fc.array(labelsArb, { minLength: 1, maxLength: 20 })], params)(
    'the compiled matcher agrees with the AST interpreter',
    (node, maps) => {
      const sel = selectorFromAst(node);
      for (const labels of maps) expect(sel.matches(labels)).toBe(interpretSelector(node, labels));
    },
  );

  test.prop([nodeArb, nodeArb, labelsArb], params)('De Morgan: !(a && b) ≡ (!a || !b) and !(a || b) ≡ (!a && !b)', (a, b, labels) => {
    const [pa, pb] = [printSelector(a), printSelector(b)];
    expect(parseSelector(`!((${pa}) && (${pb}))`).matches(labels)).toBe(parseSelector(`!(${pa}) || !(${pb})`).matches(labels));
    expect(parseSelector(`!((${pa}) || (${pb}))`).matches(labels)).toBe(parseSelector(`!(${pa}) && !(${pb})`).matches(labels));
  });

  test.prop([nodeArb, labelsArb], params)('double negation: !!x and !(!x) match exactly what x matches', (node, labels) => {
    const text = printSelector(node);
    const expected = interpretSelector(node, labels);
    expect(parseSelector(`!!(${text})`).matches(labels)).toBe(expected);
    expect(parseSelector(`!(!(${text}))`).matches(labels)).toBe(expected);
    expect(selectorFromAst(makeNot(makeNot(node))).matches(labels)).toBe(expected);
  });

  test.prop([nodeArb, fc.array(labelsArb, { minLength: 1, maxLength: 20 })], params)(
    'label restrictions are sound: a matching label map satisfies them',
    (node, maps) => {
      const sel = selectorFromAst(node);
      const restrictions = sel.labelRestrictions();
      for (const labels of maps) {
        if (sel.matches(labels)) {
          expect(labelsSatisfyRestrictions(restrictions, labels)).toBe(true);
          expect(labelRestrictionsSatisfiable(restrictions)).toBe(true);
        }
      }
    },
  );

  test.prop([nodeArb, labelsArb], params)('prefixing labels commutes with prefixing the label map', (node, labels) => {
    const prefixed = Object.fromEntries(Object.entries(labels).map(([k, v]) => [`pcns.${k}`, v])) as Labels;
    const sel = selectorFromAst(node);
    expect(prefixSelectorLabels(sel, 'pcns.').matches(prefixed)).toBe(sel.matches(labels));
  });

  test.prop([nodeArb, nodeArb, labelsArb], params)('andSelectors / orSelectors mean && / ||', (a, b, labels) => {
    const [sa, sb] = [selectorFromAst(a), selectorFromAst(b)];
    expect(andSelectors(sa, sb).matches(labels)).toBe(sa.matches(labels) && sb.matches(labels));
    expect(orSelectors(sa, sb).matches(labels)).toBe(sa.matches(labels) || sb.matches(labels));
    expect(andSelectors(printSelector(a), printSelector(b)).toString()).toBe(
      parseSelector(`(${printSelector(a)}) && (${printSelector(b)})`).toString(),
    );
  });
});

describe('robustness', () => {
  const junk = fc.string({
    maxLength: 40,
    unit: fc.oneof(
      fc.constantFrom('a', 'b', ' ', '\t', '(', ')', '{', '}', ',', '=', '!', '&', '|', '"', "'", '\n', '%', 'é'),
      fc.constantFrom('==', '!=', '&&', '||', 'has(', 'all(', 'global(', ' in ', ' not in ', ' contains ', ' starts with ', ' ends with '),
    ),
  });

  test.prop([junk], { numRuns: 2000 })('any text parses or fails with a SelectorParseError inside the text', (text) => {
    let parsed = true;
    try {
      const sel = parseSelector(text);
      // Whatever parses has a canonical form that parses again.
      expect(() => parseSelector(sel.toString())).not.toThrow();
    } catch (error) {
      parsed = false;
      expect(error).toBeInstanceOf(SelectorParseError);
      const { position } = error as SelectorParseError;
      expect(position).toBeGreaterThanOrEqual(0);
      expect(position).toBeLessThanOrEqual(text.length);
    }
    expect(validateSelector(text).ok).toBe(parsed);
  });

  test.prop([fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 8 })])(
    'set order is UTF-8 byte order',
    (a, b) => {
      const wellFormed = (s: string): boolean => !/\p{Surrogate}/u.test(s);
      fc.pre(wellFormed(a) && wellFormed(b));
      expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))));
    },
  );
});
