/**
 * WireGuard keys: x25519 with `node:crypto`, in WireGuard's text format (standard base64 of the
 * raw 32 bytes, as `wg genkey` / `wg pubkey` print them), and private key files that only their
 * owner can read. Reading a key file with looser permissions is refused, never "fixed": a key
 * that others could read must be treated as leaked and rotated.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmod, link, lstat, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { WireguardError } from './errors.js';

/** A key pair in WireGuard text format. */
export interface KeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

/** Standard base64 of exactly 32 bytes: 43 characters, the last of which carries 4 bits, then `=`. */
const KEY_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** PKCS#8 DER prefix of an X25519 private key (RFC 8410); the raw 32 bytes follow. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** True when `key` is a WireGuard key: the base64 encoding of exactly 32 bytes. */
export function isValidKey(key: string): boolean {
  return KEY_RE.test(key);
}

/**
 * Throws `WG_INVALID_KEY` unless `key` is a valid WireGuard key. `what` names the key in the
 * message (`private key in /etc/gingham/wg.key`, `public key of node n2`); the key itself is
 * never echoed, since it may be a private key.
 */
export function assertValidKey(key: string, what: string): void {
  if (!isValidKey(key)) {
    throw new WireguardError('WG_INVALID_KEY', `${what} is not a WireGuard key (base64 of exactly 32 bytes, 44 characters ending in "=")`);
  }
}

function fromBase64Url(s: string): Buffer {
  return Buffer.from(s, 'base64url');
}

/** Generates a new key pair. The private key is clamped, byte for byte what `wg genkey` makes. */
export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string') throw new Error('gingham: node:crypto exported an X25519 key without "d"');
  const raw = fromBase64Url(jwk.d);
  raw[0] = raw[0]! & 248;
  raw[31] = (raw[31]! & 127) | 64;
  const priv = raw.toString('base64');
  return { privateKey: priv, publicKey: publicKeyFromPrivate(priv) };
}

/** Derives the public key of a private key (both in WireGuard text format). */
export function publicKeyFromPrivate(privateKey: string): string {
  assertValidKey(privateKey, 'private key');
  const der = Buffer.concat([PKCS8_X25519_PREFIX, Buffer.from(privateKey, 'base64')]);
  const pub = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  const jwk = pub.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('gingham: node:crypto exported an X25519 public key without "x"');
  return fromBase64Url(jwk.x).toString('base64');
}

/** Options for writing a private key file. */
export interface WriteKeyFileOptions {
  /** Replace an existing file (atomically). Default false: an existing file is an error. */
  readonly overwrite?: boolean;
  /** Create missing parent directories, mode 0700 (only the owner may enter them). Default false. */
  readonly createParents?: boolean;
}

/** What writing a key file did besides the file itself. */
export interface KeyFileWritten {
  /** Directories created for it (`createParents`), outermost first; empty when all existed. */
  readonly createdDirectories: readonly string[];
}

/**
 * Why `dir` cannot take a new file, in words about `dir` (never the temporary file's name):
 * `directory /etc/gingham does not exist`, `permission denied in /etc/gingham`.
 */
function directoryProblem(dir: string, cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return `directory ${dir} does not exist`;
    case 'ENOTDIR':
      return `a parent of ${dir} is not a directory`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied in ${dir}`;
    case 'EROFS':
      return `${dir} is on a read-only file system`;
    case 'ENOSPC':
      return `no space left on the device of ${dir}`;
    default:
      return `${code ?? 'error'} in ${dir}`;
  }
}

/** Creates the missing directories above `path` (mode 0700, whatever the umask), outermost first. */
async function createParents(path: string): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const info = await stat(dir).catch((cause: NodeJS.ErrnoException) => {
      if (cause.code === 'ENOENT') return undefined;
      throw new WireguardError('WG_KEY_FILE', `cannot create key file ${path}: ${directoryProblem(dir, cause)}`, { cause });
    });
    if (info) {
      if (!info.isDirectory()) throw new WireguardError('WG_KEY_FILE', `cannot create key file ${path}: ${dir} is not a directory`);
      break;
    }
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  const created: string[] = [];
  for (const dir of missing) {
    try {
      await mkdir(dir, { mode: 0o700 });
      await chmod(dir, 0o700);
      created.push(dir);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') continue; // made by someone else meanwhile
      throw new WireguardError('WG_KEY_FILE', `cannot create directory ${dir} for key file ${path}: ${directoryProblem(dirname(dir), cause)}`, { cause });
    }
  }
  return created;
}

function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/**
 * Writes a private key to `path` with mode 0600 (whatever the umask), followed by a newline,
 * as `wg genkey > file` would. The key is written to a temporary file in the same directory
 * and renamed into place, so a reader never sees a half-written or world-readable key. Errors
 * name `path` and its directory, never the temporary file.
 */
export async function writePrivateKeyFile(path: string, privateKey: string, options: WriteKeyFileOptions = {}): Promise<KeyFileWritten> {
  assertValidKey(privateKey, 'private key');
  if (!options.overwrite) {
    const existing = await lstat(path).catch(() => undefined);
    if (existing) throw new WireguardError('WG_KEY_FILE', `key file ${path} already exists; refusing to overwrite it (rotate it instead)`);
  }
  const createdDirectories = options.createParents ? await createParents(path) : [];
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let handle;
  try {
    handle = await open(tmp, 'wx', 0o600);
  } catch (cause) {
    throw new WireguardError('WG_KEY_FILE', `cannot create key file ${path}: ${directoryProblem(dirname(path), cause)}`, { cause });
  }
  try {
    try {
      await handle.chmod(0o600);
      await handle.writeFile(`${privateKey}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.overwrite) {
      await rename(tmp, path).catch((cause: unknown) => {
        throw new WireguardError('WG_KEY_FILE', `cannot replace key file ${path}: ${directoryProblem(dirname(path), cause)}`, { cause });
      });
    } else {
      // link(2) fails when `path` exists, so two writers cannot both win.
      await link(tmp, path).catch((cause: NodeJS.ErrnoException) => {
        if (cause.code === 'EEXIST') throw new WireguardError('WG_KEY_FILE', `key file ${path} already exists; refusing to overwrite it (rotate it instead)`, { cause });
        throw new WireguardError('WG_KEY_FILE', `cannot create key file ${path}: ${directoryProblem(dirname(path), cause)}`, { cause });
      });
    }
  } catch (cause) {
    if (cause instanceof WireguardError) throw cause;
    throw new WireguardError('WG_KEY_FILE', `cannot write key file ${path}: ${directoryProblem(dirname(path), cause)}`, { cause });
  } finally {
    await rm(tmp, { force: true });
  }
  return { createdDirectories };
}

/**
 * Reads a private key file. Refuses (`WG_KEY_FILE_PERMISSIONS`) a file that group or others may
 * read or write, and (`WG_KEY_FILE`) anything that is not a regular file, such as a symlink a
 * less privileged user could redirect. Returns the key and its public key.
 */
export async function readPrivateKeyFile(path: string): Promise<KeyPair> {
  let info;
  try {
    info = await lstat(path);
  } catch (cause) {
    throw new WireguardError('WG_KEY_FILE', `cannot read private key file ${path}: ${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message}`, { cause });
  }
  if (!info.isFile()) {
    throw new WireguardError('WG_KEY_FILE', `private key file ${path} is not a regular file${info.isSymbolicLink() ? ' (symlinks are refused)' : ''}`);
  }
  if ((info.mode & 0o077) !== 0) {
    throw new WireguardError(
      'WG_KEY_FILE_PERMISSIONS',
      `private key file ${path} has mode ${modeText(info.mode)}; it must be readable only by its owner (chmod 600 ${path}, and rotate the key if others may have read it)`,
    );
  }
  if (info.size > 4096) {
    throw new WireguardError('WG_KEY_FILE', `private key file ${path} is ${info.size} bytes; a key file holds one 44-character key`);
  }
  const text = (await readFile(path, 'utf8')).trim();
  assertValidKey(text, `private key in ${path}`);
  return { privateKey: text, publicKey: publicKeyFromPrivate(text) };
}

/** Generates a key pair and stores the private key in `path` (mode 0600). Returns both keys and the directories it created. */
export async function generateKeyFile(path: string, options: WriteKeyFileOptions = {}): Promise<KeyPair & KeyFileWritten> {
  const pair = generateKeyPair();
  const written = await writePrivateKeyFile(path, pair.privateKey, options);
  return { ...pair, ...written };
}

/** Result of a key rotation. */
export interface KeyRotation {
  readonly oldPublicKey: string;
  readonly publicKey: string;
  readonly privateKey: string;
}

/**
 * Replaces the key in `path` with a new one (atomically, mode 0600) and returns the old and new
 * public keys: publish the new one in the node's manifest, then re-apply this node and its peers.
 * The old file must itself pass the permission check.
 */
export async function rotateKeyFile(path: string): Promise<KeyRotation> {
  const old = await readPrivateKeyFile(path);
  const pair = generateKeyPair();
  await writePrivateKeyFile(path, pair.privateKey, { overwrite: true });
  await chmod(path, 0o600);
  return { oldPublicKey: old.publicKey, publicKey: pair.publicKey, privateKey: pair.privateKey };
}
