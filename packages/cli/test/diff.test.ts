// `gingham diff` through the BUILT package: what a change opens and closes on the quick-start
// example, the exit codes a CI gate relies on, --json, --staged, and refusing broken manifests.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '@gingham/cli';
import type { DiffResult } from '@gingham/core';

const root = new URL('../../../', import.meta.url).pathname;
const example = join(root, 'examples/quickstart');
const scratch = mkdtempSync(join(tmpdir(), 'gingham-diff-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (s) => (out += `${s}\n`), stderr: (s) => (err += `${s}\n`) };
  const code = await runCli(argv, io);
  return { code, out, err };
}

/** A copy of the quick start with one file's text replaced. */
function variant(name: string, file: string, change: (text: string) => string): string {
  const dir = join(scratch, name);
  cpSync(example, dir, { recursive: true });
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  const next = change(text);
  if (next === text) throw new Error(`variant ${name}: the change did not apply`);
  writeFileSync(path, next);
  return dir;
}

// Prometheus may now reach the database on 6000: one port of 65,535 to one pod.
const opened = variant('opened', '40-shop-netpol.yaml', (t) =>
  t.replace(
    '      ports: [{ port: postgres }]',
    '      ports: [{ port: postgres }]\n    - from: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: monitoring } } }]\n      ports: [{ port: 6000 }]',
  ),
);

describe('gingham diff', () => {
  it('finds the one opened port, names the rule that opens it, and exits 1 (the CI gate)', async () => {
    const { code, out, err } = await run(['diff', '-f', example, '--against', opened]);
    expect(code).toBe(1);
    expect(out).toContain('monitoring/prometheus -> shop/db  TCP 6000 (IPv4 only)  1 pair');
    expect(out).toContain('now allowed by policy knp/shop/db rule 1 in tier default');
    expect(err).toMatch(/opens 1 set of flows/);
  });

  it('reports the reverse change as closed and exits 0 unless --fail-on any', async () => {
    const closed = await run(['diff', '-f', opened, '--against', example]);
    expect(closed.code).toBe(0);
    expect(closed.out).toContain('CLOSED (allowed before, denied after):');
    expect((await run(['diff', '-f', opened, '--against', example, '--fail-on', 'any'])).code).toBe(1);
    expect((await run(['diff', '-f', example, '--against', opened, '--fail-on', 'never'])).code).toBe(0);
    expect((await run(['diff', '-f', example, '--against', example, '--fail-on', 'any'])).code).toBe(0);
  });

  it('--json lists every change with decisions before and after and a witness gingham check agrees with', async () => {
    const { code, out } = await run(['diff', '-f', example, '--against', opened, '--json']);
    expect(code).toBe(1);
    const result = JSON.parse(out) as DiffResult;
    expect(result.opened).toBe(1);
    const [c] = result.changes;
    expect(c).toMatchObject({ change: 'opened', protocol: { name: 'TCP' }, dstPorts: [{ from: 6000, to: 6000 }], from: { endpoints: ['monitoring/prometheus-0'] }, to: { endpoints: ['shop/db-0'] } });
    expect(c!.after.ingress).toMatchObject({ policyId: 'knp/shop/db', ruleIndex: 1 });
    expect(c!.witness).toEqual({ src: '10.65.0.40', dst: '10.65.0.30', protocol: 6, srcPort: 49152, dstPort: 6000 });
    const check = await run(['check', '-f', opened, '--from', c!.witness.src, '--to', c!.witness.dst, '--port', '6000', '--json']);
    expect(JSON.parse(check.out).allowed).toBe(true);
  });

  it('--staged previews what enforcing the staged policies would change', async () => {
    const dir = variant('staged', '20-security-tier.yaml', (t) =>
      `${t}\n---\napiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata:\n  name: security.no-scrape\nspec:\n  tier: security\n  order: 1\n  selector: app == 'db'\n  types: [Ingress]\n  ingress:\n    - action: Deny\n      protocol: TCP\n      destination:\n        ports: [9090]\n    - action: Pass\n`,
    );
    const { code, out } = await run(['diff', '-f', dir, '--staged']);
    expect(code).toBe(0);
    expect(out).toContain('monitoring/prometheus -> shop/db  TCP 9090');
    expect(out).toContain('now denied by policy sgnp/security.no-scrape rule 0 in tier security');
  });

  it('refuses manifests with errors (exit 1) and usage mistakes (exit 2)', async () => {
    const broken = variant('broken', '40-shop-netpol.yaml', (t) => t.replace('policyTypes: [Ingress]\n  ingress:', 'policyTypes: [Sideways]\n  ingress:'));
    const bad = await run(['diff', '-f', example, '--against', broken]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/after \(--against\):\n.*40-shop-netpol\.yaml:\d+:\d+/);
    expect(bad.err).toMatch(/refusing to compare manifests with errors/);
    for (const argv of [
      ['diff', '-f', example],
      ['diff', '--against', example],
      ['diff', '-f', example, '--against', opened, '--fail-on', 'sometimes'],
      ['diff', '-f', example, '--against', opened, '--staged'],
      ['diff', '-f', example, '--against', opened, '--colour'],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/^gingham diff: /);
    }
    expect((await run(['diff', '--help'])).out).toMatch(/--fail-on WHAT/);
  });
});
