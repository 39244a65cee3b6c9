import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  attachTc, createCollection, detachPinnedTcxLink, hasTcx, loadCollectionSpec, pinnedTcxLinkInfo, programId, type Collection, type TcDirection,
} from '../src/index.js';
import { mountScratchBpffs, type ScratchBpffs } from '../src/testing.js';
import { probeBpfCapabilities } from './support/capabilities.js';
import { fixture } from './support/fixtures.js';
import { run, sleep, VethPair, waitFor, type UdpReceiver } from './support/netns.js';
import { skipIfNotSupported } from './support/not-supported.js';
import { readU64, u32 } from './support/packets.js';

const caps = probeBpfCapabilities(['socat', 'ss', 'tc']);

describe.skipIf(!caps.ok && !caps.mustRun)('tc attach with real packets between namespaces', () => {
  const net = new VethPair();
  let c: Collection;
  let pass: UdpReceiver;
  let drop: UdpReceiver;
  // The tc-mode attach pins for a moment; it does so in a bpffs of our own, not the host's.
  let bpffs: ScratchBpffs | undefined;

  beforeAll(async () => {
    if (!caps.ok) return;
    bpffs = mountScratchBpffs();
    net.create();
    c = createCollection(loadCollectionSpec(fixture('udp_drop')));
    c.map('drop_port').update(u32(0), u32(9999));
    pass = await net.receiver(8888);
    drop = await net.receiver(9999);
  });

  afterAll(() => {
    c?.close();
    net.destroy();
    bpffs?.release();
  });

  it('has what the kernel suites need (root, binding, bpf(2), bpffs, netns, socat, ss, tc)', () => {
    expect(caps.missing).toEqual([]);
  });

  it('hasTcx agrees with what attachTc does in auto mode', () => {
    const link = attachTc({ program: c.program('udp_drop'), direction: 'ingress', netns: net.b, ifname: 'vb' });
    try {
      expect(link.kind).toBe(hasTcx() ? 'tcx' : 'tc');
    } finally {
      link.detach();
    }
  });

  const cases: Array<{ mode: 'tcx' | 'tc'; direction: TcDirection; side: 'a' | 'b' }> = [
    { mode: 'tcx', direction: 'ingress', side: 'b' },
    { mode: 'tcx', direction: 'egress', side: 'a' },
    { mode: 'tc', direction: 'ingress', side: 'b' },
  ];
  for (const { mode, direction, side } of cases) {
    it(`${mode} ${direction}: drops UDP to the stored port, passes the rest, counts; detach restores delivery`, (ctx) => skipIfNotSupported(ctx, async () => {
      const counts = c.map('pkt_count');
      const dropped = () => readU64(counts.lookup(u32(1))) ?? 0n;
      const before = dropped();
      const tag = `${mode}-${direction}`;
      const link = attachTc({
        program: c.program('udp_drop'), direction, mode,
        netns: side === 'a' ? net.a : net.b, ifname: side === 'a' ? 'va' : 'vb',
        ...(mode === 'tc' ? { bpffs: bpffs!.path } : {}),
      });
      try {
        expect(link.kind).toBe(mode);
        if (mode === 'tc') {
          expect(run('ip', ['netns', 'exec', net.b, 'tc', 'filter', 'show', 'dev', 'vb', 'ingress'])).toMatch(/bpf .*direct-action/);
        }
        net.send(8888, `pass-${tag}\n`);
        net.send(9999, `drop-${tag}\n`);
        expect(await waitFor(() => pass.received().includes(`pass-${tag}`))).toBe(true);
        await sleep(300);
        expect(drop.received()).not.toContain(`drop-${tag}`);
        expect(dropped()).toBe(before + 1n);
      } finally {
        link.detach();
      }
      if (mode === 'tc') {
        expect(run('ip', ['netns', 'exec', net.b, 'tc', 'qdisc', 'show', 'dev', 'vb'])).not.toMatch(/clsact/);
      }
      net.send(9999, `after-${tag}\n`);
      expect(await waitFor(() => drop.received().includes(`after-${tag}`))).toBe(true);
      expect(dropped()).toBe(before + 1n);
    }));
  }

  it('pinnedTcxLinkInfo reads the program and interface of a pinned tcx link, and ifindex 0 once it is detached', (ctx) => skipIfNotSupported(ctx, () => {
    const link = attachTc({ program: c.program('udp_drop'), direction: 'ingress', netns: net.b, ifname: 'vb', mode: 'tcx' });
    const path = join(bpffs!.path, 'link-info-test');
    try {
      link.pin(path);
      link.release();
      const info = pinnedTcxLinkInfo(path);
      expect(info.programId).toBe(programId(c.program('udp_drop')));
      expect(info.ifindex).toBe(link.ifindex);
      expect(info.ifindex).toBeGreaterThan(0);
      run('bpftool', ['link', 'detach', 'pinned', path]);
      expect(pinnedTcxLinkInfo(path).ifindex).toBe(0);
    } finally {
      detachPinnedTcxLink(path);
    }
  }));

  it('reports a missing interface in the namespace as BPF_ATTACH', () => {
    expect(() => attachTc({ program: c.program('udp_drop'), direction: 'ingress', netns: net.b, ifname: 'nope0' }))
      .toThrow(expect.objectContaining({ code: 'BPF_ATTACH' }));
  });
});
