import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../keys.js';
import type { WireguardPeer } from '../peers.js';
import { encodeUapiSet, hexToKey, keyToHex, parseUapiErrno, parseUapiGet, uapiGet, uapiRequest, uapiSet } from './uapi.js';

const me = generateKeyPair();
const a = generateKeyPair();
const b = generateKeyPair();
const peer = (key: string, extra: Partial<WireguardPeer> = {}): WireguardPeer => ({ node: 'n', publicKey: key, endpoint: '192.168.0.2:51820', allowedIPs: ['10.244.2.0/24', '10.99.0.2/32'], persistentKeepalive: 0, ...extra });

describe('UAPI encoding', () => {
  it('converts keys between base64 and hex both ways', () => {
    const hex = keyToHex(a.publicKey);
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(hexToKey(hex)).toBe(a.publicKey);
    expect(() => hexToKey('abc')).toThrow(expect.objectContaining({ code: 'WG_DUMP_PARSE' }));
  });

  it('renders removals first, then peers with replaced allowed IPs, and interface changes on top', () => {
    const req = encodeUapiSet({ add: [peer(a.publicKey, { persistentKeepalive: 25 })], update: [peer(b.publicKey, { allowedIPs: [], endpoint: '[fd00::2]:51820' })], remove: [me.publicKey], unchanged: 3 }, { privateKey: me.privateKey, listenPort: 51821, fwmark: 0x100000 });
    expect(req).toBe(
      [
        'set=1',
        `private_key=${keyToHex(me.privateKey)}`,
        'listen_port=51821',
        'fwmark=1048576',
        `public_key=${keyToHex(me.publicKey)}`,
        'remove=true',
        `public_key=${keyToHex(a.publicKey)}`,
        'endpoint=192.168.0.2:51820',
        'persistent_keepalive_interval=25',
        'replace_allowed_ips=true',
        'allowed_ip=10.244.2.0/24',
        'allowed_ip=10.99.0.2/32',
        `public_key=${keyToHex(b.publicKey)}`,
        'endpoint=[fd00::2]:51820',
        'persistent_keepalive_interval=0',
        'replace_allowed_ips=true',
        '',
        '',
      ].join('\n'),
    );
  });

  it('renders nothing when nothing changes', () => {
    expect(encodeUapiSet({ add: [], update: [], remove: [], unchanged: 5 })).toBeUndefined();
  });
});

describe('UAPI get parsing', () => {
  const reply = [
    `private_key=${keyToHex(me.privateKey)}`,
    'listen_port=51820',
    'fwmark=1048576',
    `public_key=${keyToHex(a.publicKey)}`,
    `preshared_key=${'0'.repeat(64)}`,
    'protocol_version=1',
    'endpoint=192.168.0.2:51820',
    'last_handshake_time_sec=1700000000',
    'last_handshake_time_nsec=5',
    'tx_bytes=100',
    'rx_bytes=200',
    'persistent_keepalive_interval=25',
    'allowed_ip=10.99.0.2/32',
    'allowed_ip=10.244.2.0/24',
    `public_key=${keyToHex(b.publicKey)}`,
    `preshared_key=${keyToHex(me.publicKey)}`,
    'protocol_version=1',
    'last_handshake_time_sec=0',
    'last_handshake_time_nsec=0',
    'tx_bytes=0',
    'rx_bytes=0',
    'persistent_keepalive_interval=0',
    'errno=0',
    '',
    '',
  ].join('\n');

  it('parses interface and peers into the wg show dump shape', () => {
    const d = parseUapiGet(reply);
    expect(d.interface).toEqual({ privateKey: me.privateKey, publicKey: me.publicKey, listenPort: 51820, fwmark: 0x100000 });
    expect(d.peers).toEqual([
      { publicKey: a.publicKey, endpoint: '192.168.0.2:51820', allowedIPs: ['10.99.0.2/32', '10.244.2.0/24'], latestHandshake: 1700000000, rxBytes: 200, txBytes: 100, persistentKeepalive: 25 },
      { publicKey: b.publicKey, presharedKey: me.publicKey, allowedIPs: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 0 },
    ]);
  });

  it('treats absent port, mark and key as zero / unset', () => {
    expect(parseUapiGet('errno=0\n\n')).toEqual({ interface: { listenPort: 0, fwmark: 0 }, peers: [] });
  });

  it('rejects non-zero errno, malformed lines and bad values without echoing secrets', () => {
    expect(() => parseUapiGet('errno=1\n\n')).toThrow(expect.objectContaining({ code: 'WG_COMMAND_FAILED' }));
    expect(() => parseUapiGet('listen_port=x\nerrno=0\n\n')).toThrow(expect.objectContaining({ code: 'WG_DUMP_PARSE' }));
    expect(() => parseUapiGet(`public_key=${keyToHex(a.publicKey)}\nallowed_ip=10.0.0.0/99\nerrno=0\n\n`)).toThrow(/allowed_ip/);
    expect(() => parseUapiGet('garbage\nerrno=0\n\n')).toThrow(expect.objectContaining({ code: 'WG_DUMP_PARSE' }));
    const secret = keyToHex(me.privateKey);
    expect(() => parseUapiGet(`private_key=${secret.slice(2)}\nerrno=0\n\n`)).toThrow(expect.not.objectContaining({ message: expect.stringContaining(secret.slice(2)) }));
    expect(() => parseUapiErrno('nothing')).toThrow(expect.objectContaining({ code: 'WG_DUMP_PARSE' }));
    expect(parseUapiErrno('errno=-22\n\n')).toBe(-22);
  });
});

describe('UAPI over a unix socket (fake wireguard-go)', () => {
  let dir: string;
  let server: Server;
  const received: string[] = [];
  let mode: 'ok' | 'fail' | 'close' | 'silent' | 'chunked' = 'ok';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ghwg-uapi-'));
    server = createServer((sock) => {
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString();
        if (!buf.endsWith('\n\n')) return;
        received.push(buf);
        buf = '';
        if (mode === 'close') sock.destroy();
        else if (mode === 'fail') sock.write('errno=22\n\n');
        else if (mode === 'silent') return;
        else if (mode === 'chunked') {
          // A big reply, byte by byte at the end, as a slow socket would deliver it.
          const text = `listen_port=51820\n${`public_key=${keyToHex(a.publicKey)}\nallowed_ip=10.0.0.0/8\n`}errno=0\n\n`;
          const head = text.slice(0, -10);
          sock.write(head);
          for (const ch of text.slice(-10)) sock.write(ch);
        } else if (received[received.length - 1]!.startsWith('get=1')) sock.write(`listen_port=51820\npublic_key=${keyToHex(a.publicKey)}\nendpoint=10.0.0.1:1\nallowed_ip=10.1.0.0/16\nerrno=0\n\n`);
        else sock.write('errno=0\n\n');
      });
    });
    await new Promise<void>((r) => server.listen(join(dir, 'wgt0.sock'), r));
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('gets a device over the socket', async () => {
    mode = 'ok';
    const d = await uapiGet(join(dir, 'wgt0.sock'));
    expect(received[received.length - 1]).toBe('get=1\n\n');
    expect(d.interface.listenPort).toBe(51820);
    expect(d.peers).toEqual([{ publicKey: a.publicKey, endpoint: '10.0.0.1:1', allowedIPs: ['10.1.0.0/16'], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 0 }]);
  });

  it('reassembles a reply split across many chunks', async () => {
    mode = 'chunked';
    const d = await uapiGet(join(dir, 'wgt0.sock'));
    expect(d.peers[0]!.allowedIPs).toEqual(['10.0.0.0/8']);
  });

  it('sets, and reports a failing set by errno without the request', async () => {
    mode = 'ok';
    const req = encodeUapiSet({ add: [], update: [], remove: [a.publicKey], unchanged: 0 }, { privateKey: me.privateKey })!;
    await uapiSet(join(dir, 'wgt0.sock'), req);
    expect(received[received.length - 1]).toBe(req);
    mode = 'fail';
    const err = await uapiSet(join(dir, 'wgt0.sock'), req).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'WG_COMMAND_FAILED', message: expect.stringContaining('errno=22') });
    expect((err as Error).message).not.toContain(keyToHex(me.privateKey));
  });

  it('rejects when the connection closes early, times out, or there is no socket', async () => {
    mode = 'close';
    await expect(uapiRequest(join(dir, 'wgt0.sock'), 'get=1\n\n')).rejects.toMatchObject({ code: 'WG_COMMAND_FAILED', message: expect.stringContaining('closed') });
    mode = 'silent';
    await expect(uapiRequest(join(dir, 'wgt0.sock'), 'get=1\n\n', 100)).rejects.toMatchObject({ message: expect.stringContaining('no reply within 100 ms') });
    await expect(uapiGet(join(dir, 'missing.sock'))).rejects.toMatchObject({ code: 'WG_COMMAND_FAILED', message: expect.stringContaining('ENOENT') });
  });
});
