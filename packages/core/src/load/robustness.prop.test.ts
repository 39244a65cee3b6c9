// Hostile input, generated: each family of attack yields exactly its issue (code and position),
// the file contributes nothing, and nothing throws. Sized with propRuns for a busy 2-core machine.
import { fc, test } from '@fast-check/vitest';
import { propRuns } from '@gingham/testkit';
import { describe, expect } from 'vitest';
import { formatIssue } from '../model/issues.js';
import { loadManifests } from './load-manifests.js';
import type { LoadOptions } from './limits.js';

/** Every code the loader and validators may return (docs/validation.md, "Issues"). */
const CODES = new Set(
  'yaml-syntax yaml-warning input-too-large too-many-documents too-many-nodes too-many-rules too-deep scalar-too-long alias-limit too-many-issues invalid-character not-an-object missing-api-version missing-kind unsupported-api-version unknown-kind missing-name nested-list duplicate-resource default-namespace namespace-ignored unknown-field wrong-type missing-field invalid-value out-of-range too-long too-many-items too-few-items invalid-name invalid-namespace invalid-label invalid-annotation invalid-selector invalid-cidr invalid-ip ip-version-mismatch invalid-port invalid-protocol invalid-icmp invalid-services invalid-http invalid-types invalid-policy invalid-staged-policy invalid-tier invalid-interface invalid-peer invalid-action'.split(' '),
);

function load(text: string, options?: LoadOptions) {
  const result = loadManifests([{ file: 'x.yaml', text }], options);
  return { ...result, codes: result.issues.map((i) => i.code), lines: result.issues.map(formatIssue) };
}

/** 1-based line and column of a character offset. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before.at(-1)!.length + 1}`;
}

const NS = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n  labels: {team: a}\n';

/** Text made of YAML's structural characters and a few manifest fragments. */
const yamlish = fc
  .array(
    fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', ',', '"', "'", '&x', '*x', '!', '#', '---\n', '  ', 'kind: ', 'apiVersion: v1\n', '|', '>', '?', '\t', '<<', '%YAML 1.2\n'),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

describe('any text', () => {
  test.prop([fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), yamlish)], { numRuns: propRuns(1000) })(
    'yields documented issue codes at positions inside the text, and resources only when nothing is wrong',
    (text) => {
      const r = load(text);
      const lines = text.split('\n').length;
      for (const issue of r.issues) {
        expect(CODES.has(issue.code), issue.code).toBe(true);
        expect(issue.file).toBe('x.yaml');
        expect(issue.line).toBeGreaterThanOrEqual(0);
        expect(issue.line).toBeLessThanOrEqual(lines + 1);
      }
      expect(r.ok).toBe(!r.issues.some((i) => i.severity === 'error'));
      if (!r.ok) expect(r.resources).toEqual([]);
    },
  );
});

describe('each attack yields exactly its issue', () => {
  test.prop([fc.integer({ min: 2, max: 9 }), fc.integer({ min: 6, max: 9 })], { numRuns: propRuns(30) })('billion laughs: alias-limit', (fanOut, levels) => {
    let text = `a: &a [${Array(fanOut).fill('"lol"').join(',')}]\n`;
    for (let i = 1, prev = 'a'; i < levels; prev = `k${i}`, i++) text += `k${i}: &k${i} [${Array(fanOut).fill(`*${prev}`).join(',')}]\n`;
    const r = load(text);
    expect(r.lines).toEqual(['x.yaml:1:1: -/-: YAML aliases expand too much (more than maxAliasCount 100); refusing a possible billion-laughs document']);
    expect(r.resources).toEqual([]);
  });

  test.prop([fc.array(fc.constantFrom('[', '{a: ', '{"a": ['), { minLength: 65, maxLength: 3000 })], { numRuns: propRuns(60) })('flow nesting past 64 levels: too-deep', (openers) => {
    const r = load(openers.join(''));
    expect(r.codes).toEqual(['too-deep']);
    expect(r.lines[0]).toMatch(/: nesting is deeper than 64 levels \(maxDepth\); the rest of the input was not read$/);
  });

  test.prop([fc.integer({ min: 65, max: 2000 })], { numRuns: propRuns(20) })('block nesting past 64 levels: too-deep', (depth) => {
    const r = load(Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}k:`).join('\n'));
    expect(r.codes).toEqual(['too-deep']);
  });

  test.prop([fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 50 }), fc.constantFrom('plain', 'double', 'single', 'key')], { numRuns: propRuns(100) })(
    'a scalar or key over maxScalarLength: scalar-too-long, where it starts',
    (limit, over, style) => {
      const long = 'x'.repeat(limit + over);
      const field = style === 'key' ? `${long}: v` : `note: ${style === 'double' ? `"${long}"` : style === 'single' ? `'${long}'` : long}`;
      const text = `${NS}status:\n  ${field}\n`;
      const r = load(text, { maxScalarLength: limit });
      expect(r.lines).toEqual([`x.yaml:${position(text, text.indexOf(style === 'key' ? long : field.slice(6)))}: -/-: a scalar is longer than ${limit} characters (maxScalarLength)`]);
    },
  );

  const unprintable = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0x0b, max: 0x0c }), fc.integer({ min: 0x0e, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x84 }), fc.integer({ min: 0x86, max: 0x9f }));
  test.prop([unprintable, fc.nat()], { numRuns: propRuns(300) })('a raw control character, NUL or DEL anywhere: invalid-character at its line and column', (code, at) => {
    const offset = at % (NS.length + 1);
    const text = `${NS.slice(0, offset)}${String.fromCharCode(code)}${NS.slice(offset)}`;
    const r = load(text);
    const hex = code.toString(16).toUpperCase().padStart(4, '0');
    expect(r.lines).toEqual([
      `x.yaml:${position(text, offset)}: -/-: ${code === 0 ? 'a NUL character' : 'a control character'} (U+${hex}) is not allowed in YAML or JSON text; write it escaped inside a double-quoted string, e.g. "\\u${hex.toLowerCase()}"`,
    ]);
    expect(r.resources).toEqual([]);
  });

  test.prop([fc.oneof(fc.constantFrom('1e400', '-1e400', '.inf', '1e300', '18446744073709551616', '-1', '0', '65536', '99999999999999999999999'), fc.integer({ min: 65536 }).map(String))], { numRuns: propRuns(60) })(
    'a huge or out-of-range port: invalid-port at that port (and wrong-type when it is not finite)',
    (port) => {
      const text = `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: [${port}]}\n`;
      const r = load(text);
      expect(r.ok).toBe(false);
      expect(new Set(r.issues.map((i) => i.path))).toEqual(new Set(['spec.ingress[0].destination.ports[0]']));
      expect(r.codes).toContain('invalid-port');
      expect(r.codes.every((c) => c === 'invalid-port' || c === 'wrong-type')).toBe(true);
      expect(r.issues.every((i) => `${i.line}:${i.col}` === position(text, text.indexOf(port, text.indexOf('ports'))))).toBe(true);
    },
  );

  test.prop([fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 20 })], { numRuns: propRuns(40) })('more documents than maxDocuments: too-many-documents at the separator of the first one over', (limit, over) => {
    const docs = Array.from({ length: limit + over }, (_, i) => NS.replace('ok', `n${i}`));
    const text = docs.join('---\n');
    const r = load(text, { maxDocuments: limit });
    expect(r.lines).toEqual([`x.yaml:${position(text, docs.slice(0, limit).join('---\n').length)}: -/-: too many documents (more than maxDocuments ${limit}); the rest of the input was not read`]);
    expect(r.resources).toEqual([]);
  });

  test.prop([fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 50 }), fc.boolean()], { numRuns: propRuns(40) })('more rules than maxRulesPerPolicy: too-many-rules at the first one over', (limit, over, json) => {
    const rules = Array.from({ length: limit + over }, () => ({ action: 'Allow' }));
    const policy = { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'p' }, spec: { ingress: rules } };
    const text = json ? JSON.stringify(policy) : `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n${'  - action: Allow\n'.repeat(limit + over)}`;
    const r = load(text, { maxRulesPerPolicy: limit });
    expect(r.codes).toEqual(['too-many-rules']);
    expect(r.lines[0]).toMatch(new RegExp(`: -/-: a policy has more than ${limit} rules \\(maxRulesPerPolicy\\); the rest of the input was not read$`));
    if (!json) expect(r.lines[0]!.startsWith(`x.yaml:${6 + limit}:3:`)).toBe(true);
  });
});
