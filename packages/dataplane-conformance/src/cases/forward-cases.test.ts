import { describe, expect, it } from 'vitest';
import { buildSnapshot, evaluate } from '@gingham/core';
import { loadResources, WORLD } from './cases.js';
import { FORWARD_CASES, FORWARD_WORLD, forwardPeerRef } from './forward-cases.js';

// The kernel suite probes these with real packets; here only that each case's intent is what
// evaluate() says (so a wrong `expect` shows up without root).
describe('forwarding conformance cases', () => {
  for (const c of FORWARD_CASES) {
    it(`evaluate() gives every probe its pinned verdict: ${c.name}`, () => {
      const { snapshot, issues } = buildSnapshot(loadResources(`${WORLD}---\n${FORWARD_WORLD}---\n${c.manifests}`));
      expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
      const got = c.probes.map((p) => `${p.from} -> ${p.to} ${p.port}: ${evaluate(snapshot, { src: forwardPeerRef(p.from), dst: forwardPeerRef(p.to), protocol: 'TCP', dstPort: p.port, ...(p.via !== undefined ? { via: p.via } : {}) }).allowed}`);
      expect(got).toEqual(c.probes.map((p) => `${p.from} -> ${p.to} ${p.port}: ${p.expect}`));
    });
  }
});
