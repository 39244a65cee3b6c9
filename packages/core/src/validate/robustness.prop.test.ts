import { fc, test } from '@fast-check/vitest';
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
    fc.string({ maxLength: 12 }),
    fc.constantFrom('TCP', 'ICMP', '10.0.0.0/8', '::/0', 'global()', 'Allow', 'Delete', '80:90', 'http', ''),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('action', 'protocol', 'notProtocol', 'ports', 'nets', 'notNets', 'source', 'destination', 'icmp', 'services', 'http', 'ingress', 'egress', 'from', 'to', 'ipBlock', 'cidr', 'except', 'podSelector', 'namespaceSelector', 'selector', 'matchExpressions', 'values', 'operator', 'key', 'subject', 'pods', 'namespaces', 'networks', 'portRange', 'protocols', 'tcp', 'destinationPort', 'range', 'start', 'end', 'name', 'namespace', 'types', 'preDNAT', 'stagedAction', '__proto__', 'constructor'),
      tie('value'),
      { maxKeys: 4 },
    ),
  ),
})).value;

describe('validators never throw', () => {
  test.prop([fc.constantFrom(...KIND_DEFINITIONS), junk, junk], { numRuns: 2000 })(
    'any spec and metadata under any supported kind yields issues, not exceptions',
    (def, spec, metadata) => {
      const resource = { apiVersion: def.apiVersion, kind: def.kind, metadata, spec };
      expect(Array.isArray(validateResource(resource))).toBe(true);
      expect(Array.isArray(validateResource({ apiVersion: def.apiVersion, kind: def.kind, metadata: { name: 'x' }, spec }))).toBe(true);
    },
  );

  test.prop([junk])('anything at all', (value) => {
    expect(Array.isArray(validateResource(value))).toBe(true);
  });
});
