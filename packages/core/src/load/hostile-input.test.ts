import { describe, expect, it } from 'vitest';
import { formatIssue } from '../model/issues.js';
import { loadManifests } from './load-manifests.js';
import { DEFAULT_LIMITS, type LoadOptions } from './limits.js';

// What each input yields is asserted here; what it costs (time, memory) is measured by
// `npm run bench:input` and bounded by the CLI's process tests (capped heap), not by timers.
function load(text: string, options?: LoadOptions) {
  const result = loadManifests([{ file: 'evil.yaml', text }], options);
  return { ...result, codes: result.issues.map((i) => i.code) };
}

const NS = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n';

describe('hostile input fails fast with a clear issue', () => {
  it('billion laughs: alias expansion is capped', () => {
    let text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    let prev = 'a';
    for (const k of 'bcdefghij') {
      text += `${k}: &${k} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
      prev = k;
    }
    const r = load(text);
    expect(r.codes).toEqual(['alias-limit']);
    expect(r.issues[0]?.message).toContain('maxAliasCount 100');
  });

  it('a few aliases are fine', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n  labels: &l {a: b}\n  annotations: *l\n';
    expect(load(text).resources).toHaveLength(1);
  });

  it('8 MiB of "[" stops at the nesting limit without parsing the rest', () => {
    const r = load('['.repeat(8 * 1024 * 1024));
    expect(r.issues.map(formatIssue)).toEqual(['evil.yaml:1:68: -/-: nesting is deeper than 64 levels (maxDepth); the rest of the input was not read']);
  });

  it('compact block sequences ("- - - …") stop at the nesting limit too', () => {
    const r = load('- '.repeat(4 * 1024 * 1024));
    expect(r.codes).toEqual(['too-deep']);
  });

  it('indented mappings stop at the nesting limit', () => {
    const text = Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    const r = load(text);
    expect(r.codes).toEqual(['too-deep']);
  });

  it('64 levels are allowed and 65 are not', () => {
    const nest = (n: number): string => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\nstatus: ${'['.repeat(n - 1)}${']'.repeat(n - 1)}\n`;
    // The document itself is level 1, `status` opens level 2.
    expect(load(nest(64)).codes).toEqual([]);
    expect(load(nest(65)).codes).toEqual(['too-deep']);
  });

  it('nesting depth is configurable', () => {
    expect(load(NS, { maxDepth: 1 }).codes).toEqual(['too-deep']);
    expect(load(NS, { maxDepth: 2 }).codes).toEqual([]);
  });

  it('a scalar over 1 MiB is refused', () => {
    const r = load(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\nstatus: {x: "${'x'.repeat(1024 * 1024 + 1)}"}\n`);
    expect(r.issues.map(formatIssue)).toEqual(['evil.yaml:4:13: -/-: a scalar is longer than 1048576 characters (maxScalarLength)']);
    expect(load(NS, { maxScalarLength: 2 }).codes).toEqual(['scalar-too-long']);
  });

  it('long keys are refused too', () => {
    expect(load(`{"${'k'.repeat(2000)}": 1}`, { maxScalarLength: 1000 }).codes).toEqual(['scalar-too-long']);
  });

  it('input over 16 MiB is refused before any parsing', () => {
    const big = 'x'.repeat(40 * 1024 * 1024);
    const result = loadManifests([
      { file: 'a.yaml', text: NS },
      { file: 'huge.yaml', text: big },
    ]);
    expect(result.resources).toEqual([]);
    expect(result.issues.map(formatIssue)).toEqual(['huge.yaml:0:0: -/-: input is larger than 16 MiB (maxInputBytes); nothing was loaded']);
  });

  it('the size limit counts UTF-8 bytes over all inputs and is configurable', () => {
    const text = `${NS}# ${'é'.repeat(100)}\n`;
    expect(load(text, { maxInputBytes: text.length + 50 }).codes).toEqual(['input-too-large']);
    expect(load(text, { maxInputBytes: text.length + 100 }).codes).toEqual([]);
  });

  it('more than 100,000 documents are refused and nothing after them is read', () => {
    const r = load('---\n# empty\n'.repeat(100_001));
    expect(r.issues.map(formatIssue)).toEqual(['evil.yaml:200001:1: -/-: too many documents (more than maxDocuments 100000); the rest of the input was not read']);
  });

  it('the document budget is shared by all inputs and counts List items', () => {
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{}, {}, {}] });
    const result = loadManifests(
      [
        { file: 'a.yaml', text: NS },
        { file: 'list.json', text: list },
        { file: 'b.yaml', text: NS.replace('ok', 'later') },
      ],
      { maxDocuments: 3 },
    );
    expect(result.issues.map((i) => `${i.file} ${i.code}`)).toEqual(['list.json too-many-documents']);
    expect(result.resources.map((r) => r.file)).toEqual(['a.yaml']);
  });

  it('a top-level JSON array counts each element', () => {
    const r = load(JSON.stringify(Array.from({ length: 11 }, () => ({}))), { maxDocuments: 10 });
    expect(r.codes).toEqual(['too-many-documents']);
  });

  it('issue floods stop at maxIssues and fail the file', () => {
    const text = Array.from({ length: 50 }, (_, i) => `---\napiVersion: v1\nkind: Widget\nmetadata: {name: w${i}}`).join('\n');
    const result = loadManifests([{ file: 'w.yaml', text }], { maxIssues: 10 });
    expect(result.issues).toHaveLength(11);
    expect(result.issues.at(-1)?.code).toBe('too-many-issues');
    expect(result.ok).toBe(false);
  });

  it('a file cut short by maxIssues is not loaded even if it only had warnings', () => {
    const text = Array.from({ length: 20 }, (_, i) => `---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n${i}, namespace: x}`).join('\n');
    const result = loadManifests([{ file: 'w.yaml', text }], { maxIssues: 5 });
    expect(result.resources).toEqual([]);
    expect(result.ok).toBe(false);
  });

  it('a 100,000-rule policy is refused at rule 2,501, before any tree is built', () => {
    const rule = '    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [80]\n';
    const text = `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: huge\nspec:\n  ingress:\n${rule.repeat(100_000)}`;
    const r = load(text);
    // Line 7 + 4 lines per rule: rule 2,501 starts on line 10,007.
    expect(r.issues.map(formatIssue)).toEqual(['evil.yaml:10007:5: -/-: a policy has more than 2500 rules (maxRulesPerPolicy); the rest of the input was not read']);
    expect(r.resources).toEqual([]);
  });

  it('rules per policy count ingress and egress together, in JSON as in YAML', () => {
    const rules = (n: number): string => JSON.stringify(Array.from({ length: n }, () => ({ action: 'Allow' })));
    const policy = (i: number, e: number): string => `{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkPolicy","metadata":{"name":"p"},"spec":{"ingress":${rules(i)},"egress":${rules(e)}}}`;
    expect(load(policy(3, 3), { maxRulesPerPolicy: 6 }).codes).toEqual([]);
    expect(load(policy(3, 4), { maxRulesPerPolicy: 6 }).codes).toEqual(['too-many-rules']);
  });

  it('the rule budget is shared by all policies and inputs, and stops loading', () => {
    const gnp = (name: string): string => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n  ingress:\n  - action: Allow\n  - action: Deny\n`;
    const result = loadManifests(
      [
        { file: 'a.yaml', text: gnp('a') },
        { file: 'b.yaml', text: `${gnp('b')}---\n${gnp('c')}` },
        { file: 'c.yaml', text: gnp('d') },
      ],
      { maxRules: 3 },
    );
    expect(result.issues.map(formatIssue)).toEqual(['b.yaml:7:3: -/-: too many rules (more than maxRules 3 over all inputs); the rest of the input was not read']);
    expect(result.resources.map((r) => r.file)).toEqual(['a.yaml']);
  });

  it('8 million empty sequence items stop at the node budget of one document', () => {
    const r = load('-\n'.repeat(8 * 1024 * 1024), { maxNodesPerDocument: 10_000 });
    expect(r.issues.map(formatIssue)).toEqual([
      'evil.yaml:10001:1: -/-: a document has more than 10000 YAML nodes (maxNodesPerDocument); split it into several documents; the rest of the input was not read',
    ]);
    // The default budget is what bounds a document's tree to a few hundred MB.
    expect(DEFAULT_LIMITS.maxNodesPerDocument).toBe(250_000);
  });

  it('the node budget over all inputs stops loading', () => {
    const result = loadManifests(
      [
        { file: 'a.yaml', text: NS },
        { file: 'b.yaml', text: NS.replace('ok', 'b') },
      ],
      { maxNodes: 12 },
    );
    expect(result.issues.map((i) => `${i.file} ${i.code}`)).toEqual(['b.yaml too-many-nodes']);
    expect(result.resources.map((r) => r.file)).toEqual(['a.yaml']);
  });

  it.each([
    ['NUL', 'metadata: {name: a\u0000b}', '3:19: -/-: a NUL character (U+0000)', '\\u0000'],
    ['ESC', 'metadata: {name: "a\u001b]0;pwned\u0007"}', '3:20: -/-: a control character (U+001B)', '\\u001b'],
    ['DEL', 'metadata: {name: a\u007f}', '3:19: -/-: a control character (U+007F)', '\\u007f'],
    ['C1 CSI', 'metadata: {name: a\u009b31m}', '3:19: -/-: a control character (U+009B)', '\\u009b'],
    ['lone surrogate', 'metadata: {name: a\ud800}', '3:19: -/-: an unpaired surrogate (U+D800)', '\\ud800'],
  ])('a raw %s character is refused where it is, and the file contributes nothing', (_, meta, at, escape) => {
    const r = load(`apiVersion: v1\nkind: Namespace\n${meta}\n`);
    expect(r.issues.map(formatIssue)).toEqual([`evil.yaml:${at} is not allowed in YAML or JSON text; write it escaped inside a double-quoted string, e.g. "${escape}"`]);
    expect(r.resources).toEqual([]);
  });

  it('tab, newline, CR, NEL and escaped control characters are fine', () => {
    const r = load('apiVersion: v1\r\nkind: Namespace\nmetadata:\t{name: ok, annotations: {a: "\\e[31m\\0", b: "x\u0085y"}}\n');
    expect(r.codes).toEqual([]);
    expect((r.resources[0]?.resource.metadata as { annotations: Record<string, string> }).annotations).toEqual({ a: '\u001b[31m\u0000', b: 'x\u0085y' });
  });

  it('invalid limits are a programmer error', () => {
    expect(() => loadManifests([], { maxDepth: -1 })).toThrow(RangeError);
  });
});

describe('documents before a limit are still reported', () => {
  it('the documents read before maxDocuments was hit are checked', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad}\n---\na: 1\n';
    expect(load(text, { maxDocuments: 1 }).codes).toEqual(['invalid-name', 'too-many-documents']);
  });
});
