// Validators on junk: never an exception, and what comes back says what is wrong and where:
// documented codes, the resource's kind, paths inside the resource, the same answer twice; a
// spec that is not a mapping is a wrong-type error at `spec`; a name full of control characters
// is an invalid-name error at `metadata.name`; an unknown field is exactly one warning at it.
import { fc, test } from '@fast-check/vitest';
import { propRuns } from '@gingham/testkit';
import { describe, expect } from 'vitest';
import { KIND_DEFINITIONS } from './kinds.js';
import { validateResource } from './validate-resource.js';

/** Any JSON-ish value, including the shapes validators look inside (lists of mappings). */
const junk = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(1e400, -1e400, 2 ** 64, Number.MAX_SAFE_INTEGER + 2),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.constantFrom('TCP', 'ICMP', '10.0.0.0/8', '::/0', 'global()', 'Allow', 'Delete', '80:90', 'http', '', 'a\u0000b', '\u001b[2J'),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('action', 'protocol', 'notProtocol', 'ports', 'nets', 'notNets', 'source', 'destination', 'icmp', 'services', 'http', 'ingress', 'egress', 'from', 'to', 'ipBlock', 'cidr', 'except', 'podSelector', 'namespaceSelector', 'selector', 'matchExpressions', 'values', 'operator', 'key', 'subject', 'pods', 'namespaces', 'networks', 'portRange', 'protocols', 'tcp', 'destinationPort', 'range', 'start', 'end', 'name', 'namespace', 'types', 'preDNAT', 'stagedAction', '__proto__', 'constructor'),
      tie('value'),
      { maxKeys: 4 },
    ),
  ),
})).value;

const CODES = new Set(
  'not-an-object missing-api-version missing-kind unsupported-api-version unknown-kind missing-name nested-list default-namespace namespace-ignored unknown-field wrong-type missing-field invalid-value out-of-range too-long too-many-items too-few-items invalid-name invalid-namespace invalid-label invalid-annotation invalid-selector invalid-cidr invalid-ip ip-version-mismatch invalid-port invalid-protocol invalid-icmp invalid-services invalid-http invalid-types invalid-policy invalid-staged-policy invalid-tier invalid-interface invalid-peer invalid-action'.split(' '),
);

/** Kinds whose spec the validators read (the others are open, like Namespace and ServiceAccount). */
const SPEC_KINDS = KIND_DEFINITIONS.filter((d) => !['Namespace', 'ServiceAccount', 'Pod'].includes(d.kind));

describe('validators on junk', () => {
  test.prop([fc.constantFrom(...KIND_DEFINITIONS), junk, junk], { numRuns: propRuns(2000) })(
    'documented codes, the resource\'s kind, paths inside it, and the same answer twice',
    (def, spec, metadata) => {
      for (const resource of [
        { apiVersion: def.apiVersion, kind: def.kind, metadata, spec },
        { apiVersion: def.apiVersion, kind: def.kind, metadata: { name: 'x' }, spec },
      ]) {
        const issues = validateResource(resource);
        expect(validateResource(resource)).toEqual(issues);
        for (const issue of issues) {
          expect(CODES.has(issue.code), issue.code).toBe(true);
          expect(issue.kind).toBe(def.kind);
          expect(['error', 'warning']).toContain(issue.severity);
          expect(issue.path).toMatch(/^(spec|metadata)([.[]|$)/);
        }
      }
    },
  );

  test.prop([junk], { numRuns: propRuns(500) })('anything at all: issues, never an exception; no apiVersion and kind is an error', (value) => {
    const issues = validateResource(value);
    expect(issues.some((i) => i.severity === 'error')).toBe(true);
  });

  test.prop([fc.constantFrom(...SPEC_KINDS), fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }))], { numRuns: propRuns(200) })(
    'a spec that is not a mapping is a wrong-type error at spec, and nothing is reported outside it',
    (def, spec) => {
      const name = def.kind === 'BaselineAdminNetworkPolicy' ? 'default' : 'x';
      const issues = validateResource({ apiVersion: def.apiVersion, kind: def.kind, metadata: { name, ...(def.namespaced ? { namespace: 'n' } : {}) }, spec });
      expect(issues.filter((i) => i.severity === 'error')[0]).toMatchObject({ code: 'wrong-type', path: 'spec' });
      expect(issues.every((i) => i.path.startsWith('spec'))).toBe(true);
    },
  );

  test.prop([fc.constantFrom(...KIND_DEFINITIONS), fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `a${s}\u001b${s}`)], { numRuns: propRuns(200) })(
    'a name with control characters is an invalid-name error at metadata.name',
    (def, name) => {
      const issues = validateResource({ apiVersion: def.apiVersion, kind: def.kind, metadata: { name, ...(def.namespaced ? { namespace: 'n' } : {}) } });
      const atName = issues.filter((i) => i.path === 'metadata.name');
      expect(atName.map((i) => i.code)).toContain('invalid-name');
      expect(atName.every((i) => i.severity === 'error')).toBe(true);
    },
  );

  test.prop([fc.stringMatching(/^zz[a-z]{1,8}$/)], { numRuns: propRuns(100) })('an unknown field in a Calico policy spec is exactly one warning, at it', (key) => {
    const issues = validateResource({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'p' }, spec: { selector: 'all()', [key]: 1 } });
    expect(issues.map((i) => [i.severity, i.code, i.path])).toEqual([['warning', 'unknown-field', `spec.${key}`]]);
  });
});
