/**
 * The shared dataplane conformance suite against the iptables dataplane (this host's default
 * backend): the policy cases through the in-process dataplane, the quick-start matrix and the
 * kill -9 campaigns through the real `gingham enforce --dataplane iptables`, on one topology of
 * namespaces the suite creates. Root only; with CI=true missing capabilities fail.
 * GINGHAM_DIFF_RUNS sets the differential property's runs; GINGHAM_PROP_SCALE scales them and
 * the random kills; GINGHAM_KILL9_SEED replays a campaign.
 */
import { testDataplane } from '@gingham/dataplane-conformance';
import { iptablesConformance } from './support/conformance.js';

testDataplane('iptables', iptablesConformance());
