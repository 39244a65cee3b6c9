// examples/property-tests as an outside consumer runs it: the BUILT core and testkit packed with
// `npm pack` (so a file missing from `files`, a broken `exports` map or broken types fail here),
// installed offline into a temporary project, type-checked, and run with vitest — first on the
// example's manifests (every invariant passes), then with a planted hole (exactly the two
// invariants it breaks fail, each with a readable counterexample and its trace). Third-party
// tools (vitest, fast-check, typescript, @types/node) are linked from this repository's
// node_modules: nothing is fetched from the network.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;
const modules = join(root, 'node_modules');
const scratch = mkdtempSync(join(tmpdir(), 'gingham-example-'));
const project = join(scratch, 'project');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const PLANTED = `# A "temporary" debugging rule that was never removed: the frontend may reach the database on 6000.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: debug-db, namespace: shop }
spec:
  podSelector: { matchLabels: { app: db } }
  policyTypes: [Ingress]
  ingress:
    - from: [{ podSelector: { matchLabels: { app: frontend } } }]
      ports: [{ port: 6000 }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: debug-frontend, namespace: shop }
spec:
  podSelector: { matchLabels: { app: frontend } }
  policyTypes: [Egress]
  egress:
    - to: [{ podSelector: { matchLabels: { app: db } } }]
      ports: [{ port: 6000 }]
`;

function pack(dir: string): string {
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: dir, encoding: 'utf8' });
  return join(scratch, out.trim().split('\n').pop()!);
}

/** A tarball of an installed dependency, as npm pack would lay it out (without running its scripts). */
function tarball(name: string): string {
  const file = join(scratch, `${name.replace('/', '-')}.tgz`);
  execFileSync('tar', ['-czf', file, '-C', join(modules, name), '--transform', 's,^\\.,package,', '.']);
  return file;
}

/** Runs vitest in the example: the JSON report for statuses, the terminal output as a person reads it. */
function vitest(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; output: string; report: { testResults: { assertionResults: { title: string; status: string }[] }[] } } {
  const reportFile = join(scratch, `report-${Date.now()}.json`);
  const r = spawnSync(process.execPath, [join(project, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile=${reportFile}`, ...args], {
    cwd: project,
    encoding: 'utf8',
    env: { ...process.env, ...env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let report;
  try {
    report = JSON.parse(readFileSync(reportFile, 'utf8'));
  } catch {
    throw new Error(`vitest in the example wrote no report (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.status ?? 1, output: `${r.stdout}${r.stderr}`, report };
}

beforeAll(() => {
  cpSync(join(root, 'examples/property-tests'), project, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const tarballs = [pack(join(root, 'packages/core')), pack(join(root, 'packages/testkit')), tarball('yaml')];
  // The example's package.json names the published versions; the test installs the packed ones.
  const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  manifest.devDependencies = {};
  writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--loglevel=error', ...tarballs], { cwd: project, stdio: 'pipe' });
  for (const tool of ['vitest', 'fast-check', 'typescript', '@types/node']) {
    mkdirSync(join(project, 'node_modules', tool, '..'), { recursive: true });
    symlinkSync(join(modules, tool), join(project, 'node_modules', tool));
  }
}, 120_000);

describe('examples/property-tests from packed tarballs', () => {
  it('type-checks against the packed type declarations', () => {
    const r = spawnSync(process.execPath, [join(modules, 'typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('passes every invariant on the example manifests, and fails exactly the broken ones on a planted hole with a readable counterexample', () => {
    const clean = vitest([]);
    const cleanResults = clean.report.testResults.flatMap((f) => f.assertionResults);
    expect(cleanResults.map((t) => t.status)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed']);
    expect(clean.code).toBe(0);

    writeFileSync(join(project, 'manifests/99-planted-hole.yaml'), PLANTED);
    const planted = vitest([]);
    expect(planted.code).toBe(1);
    const results = planted.report.testResults.flatMap((f) => f.assertionResults);
    const failed = results.filter((t) => t.status === 'failed');
    expect(failed.map((t) => t.title)).toEqual(['the database accepts only the backend on 5432, and Prometheus scraping 9090', 'nothing reaches the database from the frontend']);
    expect(results.filter((t) => t.status === 'passed')).toHaveLength(3);
    const out = planted.output;
    // The sampled invariant: fast-check's shrunk counterexample, then (caused by) our trace of it.
    expect(out).toContain('Counterexample: [{"src":"shop/frontend-0","dst":"shop/db-0","protocol":"TCP","dstPort":6000}]');
    expect(out).toContain('expected shop/frontend-0 -> shop/db-0 TCP 6000 to be denied, but it is ALLOWED:');
    expect(out).toContain('ingress of workload shop/db-0: ALLOW by policy knp/shop/debug-db rule 0 in tier default');
    // The exact invariant: every allowed flow, the first as a witness, with its trace.
    expect(out).toContain("expected no path from app == 'frontend' to app == 'db', but 1 set of flows is allowed:");
    expect(out).toContain('shop/frontend-0 -> shop/db-0  TCP 6000  (IPv4, 1 pair)');
    expect(out).toContain('egress of workload shop/frontend-0: ALLOW by policy knp/shop/debug-frontend rule 0 in tier default');
  });
});
