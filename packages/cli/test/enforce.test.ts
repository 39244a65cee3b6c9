// `gingham enforce` without a kernel: one parser for every dataplane (a flag of one dataplane
// given to another is a usage error, --lock-wait is checked for both), --help per dataplane,
// bad input refused before any dataplane is created, and the eBPF clean report's wording. The
// kernel side is in the dataplanes' enforce/quickstart kernel suites.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flushNode, formatEbpfCleanReport, readEnforceInput } from '@gingham/cli';
import { RecordingDataplane } from '@gingham/core';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './run-cli.js';

const example = new URL('../../../examples/quickstart', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'gh-enforce-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gingham enforce: one parser, a row per dataplane', () => {
  it.each([
    [['--dataplane', 'ebpf', '--backend', 'nft', '-f', example, '--node', 'n'], '--backend is an option of --dataplane iptables, not ebpf'],
    [['--ipv6', '--dataplane', 'ebpf', '-f', example, '--node', 'n'], '--ipv6 is an option of --dataplane iptables, not ebpf'],
    [['--bpffs', '/sys/fs/bpf', '-f', example, '--node', 'n'], '--bpffs is an option of --dataplane ebpf, not iptables'],
    [['--group-dispatch', 'jump', '-f', example, '--node', 'n'], 'unknown --group-dispatch "jump" (chain, ipset)'],
    [['--dataplane', 'ebpf', '--group-dispatch', 'ipset', '-f', example, '--node', 'n'], '--group-dispatch is an option of --dataplane iptables, not ebpf'],
    [['--dataplane', 'iptables', '--mode', 'tc', '--clean'], '--mode is an option of --dataplane ebpf, not iptables'],
    [['--dataplane', 'ebpf', '--name', 'Bad_Name', '--clean'], '--name "Bad_Name" must match [a-z0-9-]{1,32}'],
    [['--lock-wait', 'soon', '--clean'], '--lock-wait "soon" must be a number of seconds'],
    [['--dataplane', 'ebpf', '--lock-wait=-1', '--clean'], '--lock-wait "-1" must be a number of seconds'],
  ])('%j', async (argv, message) => {
    const r = await run(['enforce', ...argv]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`gingham enforce: ${message}\nrun 'gingham enforce --help' for usage\n`);
    expect(r.out).toBe('');
  });

  it('--help shows both dataplanes, or only the one --dataplane names', async () => {
    const both = (await run(['enforce', '--help'])).out;
    expect(both).toMatch(/^Usage: gingham enforce -f PATH\.\.\. --node NAME \[--dataplane iptables\|ebpf\]/);
    expect(both).toMatch(/--backend nft\|legacy/);
    expect(both).toMatch(/--mode auto\|tcx\|tc/);
    expect(both).toMatch(/--lock-wait SECONDS/);
    const ebpf = await run(['enforce', '--dataplane', 'ebpf', '--help']);
    expect(ebpf.code).toBe(0);
    expect(ebpf.out).toMatch(/--bpffs DIR/);
    expect(ebpf.out).not.toMatch(/--backend/);
    const iptables = (await run(['enforce', '--dataplane=iptables', '-h'])).out;
    expect(iptables).toMatch(/--ipv6/);
    expect(iptables).toMatch(/--group-dispatch chain\|ipset/);
    expect(iptables).not.toMatch(/--bpffs/);
  });

  it('refuses bad input before creating a dataplane: a missing path, a manifest with an error (exit 1, nothing changed)', async () => {
    for (const dataplane of ['iptables', 'ebpf']) {
      const missing = await run(['enforce', '-f', join(dir, 'absent.yaml'), '--node', 'n', '--dataplane', dataplane]);
      expect(missing.code).toBe(1);
      expect(missing.err).toBe(`gingham enforce: no such file or directory: ${join(dir, 'absent.yaml')}; nothing was changed\n`);
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec: {selector: "app ==", ingress: [{action: Allow}]}\n');
      const invalid = await run(['enforce', '-f', bad, '--node', 'n', '--dataplane', dataplane]);
      expect(invalid.code).toBe(1);
      expect(invalid.err).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:\\d+: `));
      expect(invalid.err).toMatch(/gingham enforce: the manifests have errors; nothing was changed\n$/);
      expect(invalid.out).toBe('');
    }
  });

  it('reads manifests from standard input with -f -', async () => {
    const r = await run(['enforce', '-f', '-', '--node', 'n'], { stdin: 'kind: [unclosed\n' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/gingham enforce: the manifests have errors; nothing was changed\n$/);
  });
});

describe('the load -> validate -> Engine -> flush step', () => {
  const pod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.65.0.10}
`;
  const lines: string[] = [];
  const io = { stdout: (s: string) => void lines.push(s), stderr: (s: string) => void lines.push(s) };

  it("feeds the node's Engine and flushes it into the dataplane; warns when the node has no endpoints", async () => {
    writeFileSync(join(dir, 'pod.yaml'), pod);
    lines.length = 0;
    const resources = await readEnforceInput([join(dir, 'pod.yaml')], io);
    expect(resources).toHaveLength(1);
    const dataplane = new RecordingDataplane();
    expect((await flushNode(resources!, 'node-1', dataplane, io)).localEndpoints).toBe(1);
    expect(dataplane.batches.length).toBeGreaterThan(0);
    expect(lines).toEqual([]);
    expect((await flushNode(resources!, 'node-9', new RecordingDataplane(), io)).localEndpoints).toBe(0);
    expect(lines).toEqual(['gingham enforce: warning: node "node-9" has no endpoints in these manifests']);
  });

  it('refuses a device (never read) with everything else, and nothing reaches a dataplane', async () => {
    lines.length = 0;
    expect(await readEnforceInput([join(dir, 'pod.yaml'), '/dev/zero'], io)).toBeUndefined();
    expect(lines).toEqual(['gingham enforce: /dev/zero: is a character device; only regular files, directories and pipes are read; nothing was changed']);
  });
});

describe('the eBPF clean report', () => {
  const base = { pinPath: '/sys/fs/bpf/gingham/default', nothingFound: false, noBpffs: false, detached: [], qdiscsDeleted: [], pinsRemoved: 0, strayPinsRemoved: [], orphans: [] };

  it('says what was removed, or that nothing of ours was there, and gives the command for orphans', () => {
    expect(formatEbpfCleanReport({ ...base, nothingFound: true } as never)).toBe("gingham enforce: nothing of Gingham's found for /sys/fs/bpf/gingham/default (no pins, no hooks); nothing was changed.");
    expect(formatEbpfCleanReport({
      ...base,
      detached: [{ ifname: 'eth0', direction: 'ingress', kind: 'tcx' }, { ifname: 'eth0', direction: 'egress', kind: 'tc', unrecorded: true }],
      qdiscsDeleted: ['eth0'],
      pinsRemoved: 1,
      orphans: [{ command: 'tc filter del dev eth1 ingress pref 49152' }],
    } as never)).toBe([
      'gingham enforce: cleaned /sys/fs/bpf/gingham/default:',
      '  detached 2 hooks: eth0 ingress (tcx), eth0 egress (tc, unrecorded)',
      '  deleted 1 clsact qdisc: eth0',
      '  removed 1 pin',
      'gingham enforce: warning: 1 Gingham tc filter(s) here belong to no instance in this bpffs (left by a run whose pins vanished); left alone. Remove them with:',
      '  tc filter del dev eth1 ingress pref 49152',
    ].join('\n'));
  });
});
