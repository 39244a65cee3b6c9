/** Conversions between core's addresses/CIDRs and the 16-byte wire form. */
import { type Cidr, type IpAddr, parseIp } from '@gingham/core';
import type { WireAddr } from './wire.js';

export function wireAddr(a: IpAddr): WireAddr {
  const bytes = new Uint8Array(16);
  if (a.version === 4) {
    const v = a.value >>> 0;
    bytes[0] = v >>> 24;
    bytes[1] = (v >>> 16) & 0xff;
    bytes[2] = (v >>> 8) & 0xff;
    bytes[3] = v & 0xff;
  } else {
    let v = a.value;
    for (let i = 15; i >= 0; i--) {
      bytes[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  return { family: a.version, bytes };
}

export function wireCidr(c: Cidr): { addr: WireAddr; prefix: number } {
  const addr = c.version === 4 ? wireAddr({ version: 4, value: c.base }) : wireAddr({ version: 6, value: c.base });
  return { addr, prefix: c.prefix };
}

export function parseWireAddr(text: string): WireAddr | undefined {
  const ip = parseIp(text);
  return ip ? wireAddr(ip) : undefined;
}
