/** The agent's rtnetlink decoding: index and name from link and address messages, nothing else read. */
import { describe, expect, it } from 'vitest';
import { decodeInterfaceMessage } from './link-watcher.js';

/** One rtnetlink attribute (length, type, payload, padded to 4). */
function attr(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc((4 + payload.length + 3) & ~3);
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}
const str = (s: string): Buffer => Buffer.from(`${s}\0`);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
/** struct ifinfomsg (16 bytes) with the index, then attributes. */
const link = (index: number, ...attrs: Buffer[]): Buffer => {
  const h = Buffer.alloc(16);
  h.writeUInt16LE(1, 2); // ARPHRD_ETHER
  h.writeInt32LE(index, 4);
  return Buffer.concat([h, ...attrs]);
};
/** struct ifaddrmsg (8 bytes) with the index, then attributes. */
const address = (family: number, index: number, ...attrs: Buffer[]): Buffer => {
  const h = Buffer.alloc(8);
  h.writeUInt8(family, 0);
  h.writeUInt8(24, 1);
  h.writeUInt32LE(index, 4);
  return Buffer.concat([h, ...attrs]);
};

describe('rtnetlink interface messages', () => {
  it('reads the index and the name of link messages (new and deleted), past other attributes', () => {
    const msg = link(27, attr(4, u32(1500)), attr(3, str('cali0000000000c')), attr(13, u32(0)));
    expect(decodeInterfaceMessage(16, msg)).toEqual({ kind: 'link', index: 27, name: 'cali0000000000c' });
    expect(decodeInterfaceMessage(17, msg)).toEqual({ kind: 'link', index: 27, name: 'cali0000000000c' });
  });

  it('reads the label of IPv4 address messages; IPv6 ones carry none (index only)', () => {
    expect(decodeInterfaceMessage(20, address(2, 5, attr(1, Buffer.from([10, 0, 0, 1])), attr(3, str('eth0'))))).toEqual({ kind: 'address', index: 5, name: 'eth0' });
    expect(decodeInterfaceMessage(21, address(10, 6, attr(1, Buffer.alloc(16))))).toEqual({ kind: 'address', index: 6 });
  });

  it('ignores other message types and survives truncated or malformed attributes', () => {
    expect(decodeInterfaceMessage(24, link(1, attr(3, str('x'))))).toBeUndefined();
    expect(decodeInterfaceMessage(16, Buffer.alloc(8))).toEqual({ kind: 'link' });
    const bad = link(9, Buffer.from([2, 0, 3, 0]));
    expect(decodeInterfaceMessage(16, bad)).toEqual({ kind: 'link', index: 9 });
    const long = link(9, Buffer.from([200, 0, 3, 0, 0x61, 0x62, 0, 0]));
    expect(decodeInterfaceMessage(16, long)).toEqual({ kind: 'link', index: 9 });
  });
});
