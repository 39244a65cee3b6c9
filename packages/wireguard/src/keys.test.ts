import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireguardError } from './errors.js';
import { assertValidKey, generateKeyFile, generateKeyPair, isValidKey, publicKeyFromPrivate, readPrivateKeyFile, rotateKeyFile, writePrivateKeyFile } from './keys.js';

// RFC 7748 §6.1 test vector (Alice), in WireGuard's base64 format.
const ALICE_PRIVATE = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
const ALICE_PUBLIC = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ghwg-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('key format', () => {
  it('accepts base64 of exactly 32 bytes and nothing else', () => {
    expect(isValidKey(ALICE_PUBLIC)).toBe(true);
    expect(isValidKey(Buffer.alloc(32).toString('base64'))).toBe(true);
    expect(isValidKey(Buffer.alloc(31).toString('base64'))).toBe(false);
    expect(isValidKey(Buffer.alloc(33).toString('base64'))).toBe(false);
    expect(isValidKey(`${ALICE_PUBLIC.slice(0, 42)}B=`)).toBe(false); // non-canonical trailing bits
    expect(isValidKey(Buffer.alloc(32).toString('base64url'))).toBe(false);
    expect(isValidKey(` ${ALICE_PUBLIC}`)).toBe(false);
    expect(isValidKey('')).toBe(false);
  });

  it('names the key but never echoes it in the error', () => {
    const secret = 'not-a-key-but-a-secret';
    try {
      assertValidKey(secret, 'private key in /x');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WireguardError);
      expect((e as WireguardError).code).toBe('WG_INVALID_KEY');
      expect((e as Error).message).toMatch(/^gingham: private key in \/x is not a WireGuard key/);
      expect((e as Error).message).not.toContain(secret);
    }
  });
});

describe('x25519', () => {
  it('derives the RFC 7748 public key', () => {
    expect(publicKeyFromPrivate(ALICE_PRIVATE)).toBe(ALICE_PUBLIC);
  });

  it('generates clamped keys whose public half matches derivation', () => {
    for (let i = 0; i < 20; i++) {
      const k = generateKeyPair();
      expect(isValidKey(k.privateKey)).toBe(true);
      expect(isValidKey(k.publicKey)).toBe(true);
      const raw = Buffer.from(k.privateKey, 'base64');
      expect(raw[0]! & 7).toBe(0);
      expect(raw[31]! & 0xc0).toBe(0x40);
      expect(publicKeyFromPrivate(k.privateKey)).toBe(k.publicKey);
    }
  });

  it.skipIf(spawnSync('wg', ['--version']).status !== 0)('agrees with wg pubkey', () => {
    const k = generateKeyPair();
    const out = spawnSync('wg', ['pubkey'], { input: `${k.privateKey}\n`, encoding: 'utf8' });
    expect(out.stdout.trim()).toBe(k.publicKey);
  });
});

describe('key files', () => {
  it('are written with mode 0600 whatever the umask, and read back', async () => {
    const path = join(dir, 'a.key');
    const old = process.umask(0);
    try {
      const pair = await generateKeyFile(path);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(await readFile(path, 'utf8')).toBe(`${pair.privateKey}\n`);
      expect(pair.createdDirectories).toEqual([]);
      expect(await readPrivateKeyFile(path)).toEqual({ privateKey: pair.privateKey, publicKey: pair.publicKey });
    } finally {
      process.umask(old);
    }
  });

  it('create their missing parent directories with mode 0700 when asked, and say which', async () => {
    const path = join(dir, 'etc', 'gingham', 'wg.key');
    const old = process.umask(0);
    try {
      const pair = await generateKeyFile(path, { createParents: true });
      expect(pair.createdDirectories).toEqual([join(dir, 'etc'), join(dir, 'etc', 'gingham')]);
      for (const d of pair.createdDirectories) expect((await stat(d)).mode & 0o777).toBe(0o700);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('name the real path and directory when the directory is missing, never a temporary file', async () => {
    const path = join(dir, 'absent', 'wg.key');
    const err = await generateKeyFile(path).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'WG_KEY_FILE', message: `gingham: cannot create key file ${path}: directory ${join(dir, 'absent')} does not exist` });
    expect((err as Error).message).not.toMatch(/\.tmp/);
  });

  it('say when a parent is a file', async () => {
    await writeFile(join(dir, 'plain'), 'x');
    const path = join(dir, 'plain', 'sub', 'wg.key');
    await expect(generateKeyFile(path, { createParents: true })).rejects.toMatchObject({ code: 'WG_KEY_FILE', message: `gingham: cannot create key file ${path}: a parent of ${join(dir, 'plain', 'sub')} is not a directory` });
  });

  it('that are larger than a key are refused before they are read', async () => {
    const path = join(dir, 'huge.key');
    await writeFile(path, 'x'.repeat(10_000), { mode: 0o600 });
    await expect(readPrivateKeyFile(path)).rejects.toMatchObject({ code: 'WG_KEY_FILE', message: `gingham: private key file ${path} is 10000 bytes; a key file holds one 44-character key` });
  });

  it('are not overwritten unless asked', async () => {
    const path = join(dir, 'b.key');
    await generateKeyFile(path);
    await expect(generateKeyFile(path)).rejects.toMatchObject({ code: 'WG_KEY_FILE' });
    const replaced = await generateKeyFile(path, { overwrite: true });
    expect((await readPrivateKeyFile(path)).publicKey).toBe(replaced.publicKey);
  });

  it('with group or other permissions are refused, naming the mode', async () => {
    const path = join(dir, 'c.key');
    await generateKeyFile(path);
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o602]) {
      await chmod(path, mode);
      await expect(readPrivateKeyFile(path)).rejects.toMatchObject({
        code: 'WG_KEY_FILE_PERMISSIONS',
        message: expect.stringContaining(`mode 0${mode.toString(8)}`),
      });
    }
    await chmod(path, 0o400);
    await expect(readPrivateKeyFile(path)).resolves.toBeDefined();
  });

  it('that are symlinks, missing or malformed are refused', async () => {
    const target = join(dir, 'd.key');
    await generateKeyFile(target);
    const link = join(dir, 'd.link');
    await symlink(target, link);
    await expect(readPrivateKeyFile(link)).rejects.toMatchObject({ code: 'WG_KEY_FILE' });
    await expect(readPrivateKeyFile(join(dir, 'missing.key'))).rejects.toMatchObject({ code: 'WG_KEY_FILE', message: expect.stringContaining('no such file') });
    const bad = join(dir, 'bad.key');
    await writeFile(bad, 'hello\n', { mode: 0o600 });
    await expect(readPrivateKeyFile(bad)).rejects.toMatchObject({ code: 'WG_INVALID_KEY' });
    await expect(writePrivateKeyFile(join(dir, 'e.key'), 'nope')).rejects.toMatchObject({ code: 'WG_INVALID_KEY' });
  });

  it('rotate to a new key and report old and new public keys', async () => {
    const path = join(dir, 'r.key');
    const first = await generateKeyFile(path);
    const r = await rotateKeyFile(path);
    expect(r.oldPublicKey).toBe(first.publicKey);
    expect(r.publicKey).not.toBe(first.publicKey);
    expect(publicKeyFromPrivate(r.privateKey)).toBe(r.publicKey);
    expect((await readPrivateKeyFile(path)).publicKey).toBe(r.publicKey);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('are not rotated when their permissions are already too loose', async () => {
    const path = join(dir, 'loose.key');
    const first = await generateKeyFile(path);
    await chmod(path, 0o644);
    await expect(rotateKeyFile(path)).rejects.toMatchObject({ code: 'WG_KEY_FILE_PERMISSIONS' });
    await chmod(path, 0o600);
    expect((await readPrivateKeyFile(path)).publicKey).toBe(first.publicKey);
  });
});
