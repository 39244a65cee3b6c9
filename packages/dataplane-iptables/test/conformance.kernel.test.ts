/**
 * The shared dataplane conformance suite against the iptables dataplane (this host's default
 * backend): the policy cases through the in-process dataplane, the quick-start matrix and the
 * kill -9 campaigns through the real `gingham enforce --dataplane iptables`, on one topology of
 * namespaces the suite creates. Root only; with CI=true missing capabilities fail.
 * GINGHAM_DIFF_RUNS sets the differential property's runs; GINGHAM_PROP_SCALE scales them and
 * the random kills; GINGHAM_KILL9_SEED replays a campaign.
 */
import { join } from 'node:path';
import { testDataplane } from '@gingham/dataplane-conformance';
import { propRuns } from '@gingham/testkit';
import { expect } from 'vitest';
import { createIptablesDataplane } from '../src/index.js';
import { iptablesResidue } from './support/residue.js';

const bin = join(new URL('../../../', import.meta.url).pathname, 'packages/cli/bin/gingham.js');

testDataplane('iptables', {
  factory: ({ runner }) => createIptablesDataplane({ runner }),
  residue: ({ nodeNamespace }) => iptablesResidue(nodeNamespace),
  command: {
    enforce: ({ dir, node }) => [process.execPath, bin, 'enforce', '-f', dir, '--node', node, '--dataplane', 'iptables'],
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
