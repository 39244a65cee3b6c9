/**
 * The shared dataplane conformance suite against the iptables dataplane with
 * `groupDispatch: 'ipset'` (workload endpoint chains pick their policy groups by IP set
 * membership: docs/dataplane-iptables.md, "Group dispatch by IP set"): the policy cases, the label
 * and policy flip under a continuous probe loop and the differential property through the
 * in-process dataplane, and the quick-start matrix and the kill -9 campaigns through
 * `gingham enforce --group-dispatch ipset`, on a topology of its own. Root only; with CI=true
 * missing capabilities fail. The same knobs as conformance.kernel.test.ts.
 */
import { join } from 'node:path';
import { testDataplane } from '@gingham/dataplane-conformance';
import { propRuns } from '@gingham/testkit';
import { expect } from 'vitest';
import { createIptablesDataplane } from '../src/index.js';
import { iptablesResidue } from './support/residue.js';

const bin = join(new URL('../../../', import.meta.url).pathname, 'packages/cli/bin/gingham.js');

testDataplane('iptables-ipset-dispatch', {
  factory: ({ runner }) => createIptablesDataplane({ runner, groupDispatch: 'ipset' }),
  residue: ({ nodeNamespace }) => iptablesResidue(nodeNamespace),
  command: {
    enforce: ({ dir, node }) => [process.execPath, bin, 'enforce', '-f', dir, '--node', node, '--dataplane', 'iptables', '--group-dispatch', 'ipset'],
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
});
