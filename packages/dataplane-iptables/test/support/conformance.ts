/**
 * The iptables dataplane's options for the shared conformance suite, one layout per call:
 * conformance.kernel.test.ts (Felix's chain layout) and conformance-ipset.kernel.test.ts
 * (`groupDispatch: 'ipset'`) differ only in the layout the in-process dataplane and
 * `gingham enforce` use.
 */
import { join } from 'node:path';
import type { TestDataplaneOptions } from '@gingham/dataplane-conformance';
import { propRuns } from '@gingham/testkit';
import { expect } from 'vitest';
import { createIptablesDataplane, type GroupDispatch } from '../../src/index.js';
import { iptablesResidue } from './residue.js';

const bin = join(new URL('../../../../', import.meta.url).pathname, 'packages/cli/bin/gingham.js');

export function iptablesConformance(groupDispatch: GroupDispatch = 'chain'): TestDataplaneOptions {
  const layout = groupDispatch === 'chain' ? [] : ['--group-dispatch', groupDispatch];
  return {
    factory: ({ runner }) => createIptablesDataplane({ runner, ...(groupDispatch === 'chain' ? {} : { groupDispatch }) }),
    residue: ({ nodeNamespace }) => iptablesResidue(nodeNamespace),
    command: {
      enforce: ({ dir, node }) => [process.execPath, bin, 'enforce', '-f', dir, '--node', node, '--dataplane', 'iptables', ...layout],
      clean: () => [process.execPath, bin, 'enforce', '--clean', '--dataplane', 'iptables'],
      childTools: ['readlink', 'flock', 'iptables-save', 'iptables-restore', 'ipset'],
      readOnly: (start) => /^(readlink|flock|iptables-save|ipset (save|list))( |$)/.test(start),
      randomKills: propRuns(4),
      report: {
        converged: (stdout) => expect(stdout).toMatch(/chains written 0, deleted 0; sets created 0, destroyed 0/),
        cleaned: (stdout) => expect(stdout).toMatch(/^gingham enforce: removed \d+ chains, 3 hook rules and \d+ IP sets? \(IPv4; nft\)$/m),
      },
    },
    capabilities: {
      tools: ['iptables-save', 'iptables-restore', 'ipset'],
      differentialRuns: propRuns(Number(process.env.GINGHAM_DIFF_RUNS ?? 15)),
    },
  };
}
