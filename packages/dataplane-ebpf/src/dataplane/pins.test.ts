import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PinLayout } from './pins.js';

describe('the pin layout read back (on an ordinary directory: the layout is names, not kernel objects)', () => {
  const dirs: string[] = [];
  const layout = (): PinLayout => {
    const d = mkdtempSync(join(tmpdir(), 'gh-pins-'));
    dirs.push(d);
    return new PinLayout(d, 'node-a');
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('a tc marker is pending until confirmed, and keeps its qdisc ownership, ifindex and escaped name', () => {
    const l = layout();
    l.mark(l.tcMarker('eth0.100', 'ingress', true, 7, true));
    l.mark(l.tcMarker('cali1', 'egress', false, 9));
    expect(l.attachments()).toEqual([
      { ifname: 'cali1', direction: 'egress', kind: 'tc', createdQdisc: false, ifindex: 9, pending: false, path: join(l.root, 'tc', 'egress-k-9-cali1') },
      { ifname: 'eth0.100', direction: 'ingress', kind: 'tc', createdQdisc: true, ifindex: 7, pending: true, path: join(l.root, 'tc', 'pending-ingress-q-7-eth0%2e100') },
    ]);
    l.confirm(l.attachments().find((a) => a.pending)!);
    expect(l.attachments().map((a) => [a.ifname, a.pending, a.createdQdisc])).toEqual([['cali1', false, false], ['eth0.100', false, true]]);
  });

  it('removeTree and removeAll count the pins they remove; <bpffs>/gingham goes when it is empty', () => {
    const l = layout();
    l.mark(join(l.root, 'g3'));
    for (const f of ['g3/verdicts', 'g3/gingham_tc', 'conntrack', 'tmp/tc-1-ab']) {
      l.mark(join(l.root, f, '..'));
      writeFileSync(join(l.root, f), '');
    }
    expect(l.countPins()).toBe(4);
    expect(l.removeTree(l.tmpDir)).toBe(1);
    expect(l.removeAll()).toBe(3);
    expect(l.siblings()).toEqual([]);
  });

  it('stray temporary pins of older versions at the bpffs root are found only when their process is gone', () => {
    const l = layout();
    const dead = join(l.bpffs, 'gingham_tc_2147483646_0123abcd');
    const live = join(l.bpffs, `gingham_tc_${process.pid}_0123abcd`);
    for (const p of [dead, live, join(l.bpffs, 'gingham_tc_notours')]) writeFileSync(p, '');
    expect(l.legacyTempPins()).toEqual([dead]);
  });

  it('an instance name outside [a-z0-9-]{1,32} is refused', () => {
    expect(() => new PinLayout('/sys/fs/bpf', 'Bad.Name')).toThrow(expect.objectContaining({ code: 'EBPF_INVALID_ARGUMENT' }));
  });
});
