/**
 * The shared dataplane conformance suite against the iptables dataplane with
 * `groupDispatch: 'ipset'` (workload endpoint chains pick their policy groups by IP set
 * membership: docs/dataplane-iptables.md, "Group dispatch by IP set"): the policy cases, the label
 * and policy flip under a continuous probe loop and the differential property through the
 * in-process dataplane, and the quick-start matrix and the kill -9 campaigns through
 * `gingham enforce --group-dispatch ipset`, on a topology of its own. Root only; with CI=true
 * missing capabilities fail. The same knobs as conformance.kernel.test.ts.
 */
import { testDataplane } from '@gingham/dataplane-conformance';
import { iptablesConformance } from './support/conformance.js';

testDataplane('iptables-ipset-dispatch', iptablesConformance('ipset'));
