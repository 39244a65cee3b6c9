/** Crafted Ethernet/IPv4/UDP|TCP frames for BPF_PROG_TEST_RUN (checksums are not filled in). */

export interface FrameOptions {
  src?: string;
  dst: string;
  protocol?: 'udp' | 'tcp';
  srcPort?: number;
  dstPort?: number;
  payload?: Uint8Array;
}

function ip4(a: string): number[] {
  return a.split('.').map(Number);
}

export function ipv4Frame(o: FrameOptions): Uint8Array {
  const payload = o.payload ?? new Uint8Array(8);
  const l4len = (o.protocol === 'tcp' ? 20 : 8) + payload.length;
  const frame = new Uint8Array(14 + 20 + l4len);
  const dv = new DataView(frame.buffer);
  frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  dv.setUint16(12, 0x0800);
  frame[14] = 0x45;
  dv.setUint16(16, 20 + l4len);
  frame[22] = 64;
  frame[23] = o.protocol === 'tcp' ? 6 : 17;
  frame.set(ip4(o.src ?? '10.0.0.1'), 26);
  frame.set(ip4(o.dst), 30);
  dv.setUint16(34, o.srcPort ?? 40000);
  dv.setUint16(36, o.dstPort ?? 53);
  if (o.protocol === 'tcp') {
    frame[46] = 0x50;
    frame.set(payload, 54);
  } else {
    dv.setUint16(38, 8 + payload.length);
    frame.set(payload, 42);
  }
  return frame;
}

export const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

export const u64 = (n: number | bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};

export const readU32 = (b: Uint8Array | undefined): number | undefined =>
  b ? new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true) : undefined;

export const readU64 = (b: Uint8Array | undefined): bigint | undefined =>
  b ? new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true) : undefined;
