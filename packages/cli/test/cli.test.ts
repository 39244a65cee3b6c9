// The `gingham` command end to end, through the BUILT package (so a broken exports map or bin
// fails here): lint output format and exit codes, check with a trace, --flows order, and the
// quick-start example's matrix, cell by cell.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '@gingham/cli';

const root = new URL('../../../', import.meta.url).pathname;
const example = join(root, 'examples/quickstart');
const bin = join(root, 'node_modules/.bin/gingham');
const scratch = mkdtempSync(join(tmpdir(), 'gingham-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (s) => (out += `${s}\n`), stderr: (s) => (err += `${s}\n`) };
  const code = await runCli(argv, io);
  return { code, out, err };
}

describe('gingham matrix on the quick-start example', () => {
  it('reproduces the expected connectivity, cell by cell', async () => {
    const { code, out } = await run(['matrix', '-f', example, '--ports', '8080/TCP,5432/TCP,9090/TCP,53/UDP', '--json']);
    expect(code).toBe(0);
    const cells = JSON.parse(out) as { from: string; to: string; port: number; protocol: string; allowed: boolean }[];
    expect(cells).toHaveLength(4 * 3 * 4);
    const allowed = cells.filter((c) => c.allowed).map((c) => `${c.from} -> ${c.to} ${c.port}/${c.protocol}`).sort();
    expect(allowed).toEqual(
      [
        // frontend serves 8080 to anyone; frontend may call the backend's named port http.
        'monitoring/prometheus-0 -> shop/frontend-0 8080/TCP',
        'shop/frontend-0 -> shop/backend-0 8080/TCP',
        // only the backend reaches the database; the security tier denies other namespaces.
        'shop/backend-0 -> shop/db-0 5432/TCP',
        // the AdminNetworkPolicy lets Prometheus scrape everywhere, over the shop's default deny.
        'monitoring/prometheus-0 -> shop/backend-0 9090/TCP',
        'monitoring/prometheus-0 -> shop/db-0 9090/TCP',
        'monitoring/prometheus-0 -> shop/frontend-0 9090/TCP',
        // shop pods may send DNS anywhere; monitoring is not isolated, so it accepts.
        'shop/backend-0 -> monitoring/prometheus-0 53/UDP',
        'shop/db-0 -> monitoring/prometheus-0 53/UDP',
        'shop/frontend-0 -> monitoring/prometheus-0 53/UDP',
      ].sort(),
    );
  });

  it('refuses a matrix of more than 1,000,000 cells before computing it', async () => {
    const pods = Array.from({ length: 1001 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p${i}`, namespace: 'big' },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] },
      status: { podIP: `10.9.${i >> 8}.${i & 255}` },
    }));
    const path = join(scratch, 'big.json');
    writeFileSync(path, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }));
    const { code, out, err } = await run(['matrix', '-f', path, '--ports', '80']);
    expect({ code, out }).toEqual({ code: 1, out: '' });
    expect(err).toBe('gingham matrix: 1001 endpoints × 1 port(s) make 1001000 cells, more than 1000000; ask about the flows you care about with gingham check --flows FILE instead\n');
  });

  it('prints one table per port for people', async () => {
    const { code, out } = await run(['matrix', '-f', example, '--ports', '5432/TCP']);
    expect(code).toBe(0);
    expect(out).toMatch(/5432\/TCP/);
    expect(out.split('\n').find((l) => l.startsWith('shop/backend-0'))).toMatch(/allow/);
  });
});

describe('gingham check', () => {
  it('explains a denied flow with the tier that decided it', async () => {
    const { code, out } = await run([
      'check', '-f', example, '--from', 'shop/frontend-0', '--to', 'shop/db-0', '--port', '5432', '--protocol', 'TCP',
    ]);
    expect(code).toBe(0);
    expect(out).toMatch(/^DENIED/);
    expect(out).toMatch(/default/);
  });

  it('answers --flows in input order, with traces, as JSON', async () => {
    const flows = join(scratch, 'flows.json');
    writeFileSync(flows, JSON.stringify([
      { from: 'shop/backend-0', to: 'shop/db-0', port: 5432, protocol: 'TCP' },
      { from: 'monitoring/prometheus-0', to: 'shop/db-0', port: 5432, protocol: 'TCP' },
      { from: 'shop/frontend-0', to: '10.65.0.20', port: 8080 },
    ]));
    const { code, out } = await run(['check', '-f', example, '--flows', flows, '--json']);
    expect(code).toBe(0);
    const rows = JSON.parse(out) as { from: string; allowed: boolean; trace: unknown }[];
    expect(rows.map((r) => r.allowed)).toEqual([true, false, true]);
    expect(rows.map((r) => r.from)).toEqual(['shop/backend-0', 'monitoring/prometheus-0', 'shop/frontend-0']);
    expect(rows[1]!.trace).toBeTypeOf('object');
  });

  it('refuses to answer from manifests with errors', async () => {
    const bad = join(scratch, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: x\nspec:\n  selector: "a ==="\n');
    const { code, err } = await run(['check', '-f', bad, '--from', '10.0.0.1', '--to', '10.0.0.2']);
    expect(code).toBe(1);
    expect(err).toMatch(/bad\.yaml:6:\d+: GlobalNetworkPolicy\/x spec\.selector: /);
  });

  it('--via NODE checks a flow forwarded through that node against its applyOnForward host policy', async () => {
    const file = join(scratch, 'forward.yaml');
    writeFileSync(
      file,
      `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec: {nodeName: node-1, containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-1-all, labels: {hep: all}}
spec: {node: node-1, interfaceName: '*', expectedIPs: [192.168.0.10]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: fwd}
spec: {selector: "hep == 'all'", applyOnForward: true, types: [Ingress], ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]}
`,
    );
    const flow = ['check', '-f', file, '--from', '198.51.100.7', '--to', 'default/web'];
    expect((await run([...flow, '--port', '443'])).code).toBe(0);
    const denied = await run([...flow, '--port', '443', '--via', 'node-1', '--json']);
    expect(denied.code).toBe(0);
    expect(JSON.parse(denied.out)).toMatchObject({ allowed: false, trace: { trace: { via: { node: 'node-1', in: { decision: { stage: 'end-of-tier' } } } } } });
    const unknown = await run([...flow, '--via', 'node-9']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/unknown node "node-9"/);
  });
});

describe('gingham lint', () => {
  it('passes the example', async () => {
    const { code, out } = await run(['lint', '-f', example]);
    expect(code).toBe(0);
    expect(out).toMatch(/^ok: /m);
  });

  it('lists every problem as file:line:col: kind/name path: reason and exits 1', async () => {
    const bad = join(scratch, 'two-problems.yaml');
    writeFileSync(bad, [
      'apiVersion: projectcalico.org/v3',
      'kind: NetworkPolicy',
      'metadata:',
      '  name: web',
      '  namespace: shop',
      'spec:',
      '  ingress:',
      '    - action: Allow',
      '      source:',
      '        nets: ["10.0.0.1/24"]',
      '      destination:',
      '        ports: [70000]',
      '      protocol: TCP',
    ].join('\n'));
    const { code, err } = await run(['lint', '-f', bad]);
    expect(code).toBe(1);
    expect(err).toMatch(/two-problems\.yaml:10:\d+: NetworkPolicy\/shop\/web spec\.ingress\[0\]\.source\.nets\[0\]: /);
    expect(err).toMatch(/two-problems\.yaml:12:\d+: NetworkPolicy\/shop\/web spec\.ingress\[0\]\.destination\.ports\[0\]: /);
  });

  it('gives usage errors exit code 2 with a hint', async () => {
    const { code, err } = await run(['matrix', '-f', example]);
    expect(code).toBe(2);
    expect(err).toMatch(/--ports is required/);
  });
});

describe('the built bin', () => {
  it('runs as a real process and prints help', () => {
    const out = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(out).toMatch(/gingham lint/);
  });

  it('exits 1 on lint errors', () => {
    const bad = join(scratch, 'unknown-kind.yaml');
    writeFileSync(bad, 'apiVersion: v1\nkind: Gadget\nmetadata: { name: g }\n');
    const res = spawnSync(process.execPath, [bin, 'lint', '-f', bad], { encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/unknown-kind\.yaml:2:\d+: /);
  });
});
