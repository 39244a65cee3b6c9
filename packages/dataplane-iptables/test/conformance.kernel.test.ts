/**
 * The shared conformance suite against the iptables dataplane (default backend of this host).
 * Runs as root inside namespaces the suite creates; with CI=true missing capabilities fail.
 * GINGHAM_DIFF_RUNS raises the number of differential property runs (default 15).
 */
import { createIptablesDataplane } from '../src/index.js';
import { testDataplane } from '../src/conformance/index.js';

testDataplane('iptables', ({ runner }) => createIptablesDataplane({ runner }), {
  mustRun: process.env.CI === 'true',
  differentialRuns: Number(process.env.GINGHAM_DIFF_RUNS ?? 15),
});
