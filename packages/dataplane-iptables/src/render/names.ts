/**
 * Names and ids: chain names (≤ 28 characters), IP set names (≤ 31), rule comment ids, and the
 * validation of everything that ends up as a token on an iptables or ipset line.
 */
import { createHash } from 'node:crypto';
import { IptablesError } from '../errors.js';

export const MAX_CHAIN_NAME = 28;
export const MAX_SET_NAME = 31;

export function hashText(text: string, length: number): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, length);
}

const READABLE = /^[A-Za-z0-9.:/-]+$/;

/**
 * `<prefix><kind>-<id>` when that fits and is plain; otherwise `<prefix><kind>_<hash of id>`
 * (the `_` keeps hashed names apart from readable ones).
 */
export function chainName(prefix: string, kind: string, id: string): string {
  const readable = `${prefix}${kind}-${id}`;
  if (readable.length <= MAX_CHAIN_NAME && READABLE.test(id)) return readable;
  const head = `${prefix}${kind}_`;
  return head + hashText(id, MAX_CHAIN_NAME - head.length);
}

/** `<prefix><family><0|t><id>`: main (`0`) and temporary (`t`) set names, as Felix's `cali40…`. */
export function setName(prefix: string, family: 4 | 6, temporary: boolean, id: string): string {
  const head = `${prefix}${family}${temporary ? 't' : '0'}`;
  const room = MAX_SET_NAME - head.length;
  if (id.length <= room && /^[A-Za-z0-9.:_-]+$/.test(id)) return head + id;
  return head + hashText(id, room);
}

/** Linux interface names (and the `+` wildcard prefix for dispatch). */
export function assertInterfaceName(name: string, allowWildcard = false): void {
  const re = allowWildcard ? /^[A-Za-z0-9_.-]{1,14}\+?$/ : /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/;
  if (!re.test(name)) throw new IptablesError('IPTABLES_INVALID_ARGUMENT', `invalid interface name "${name}"`);
}

/** Chain and set prefixes: short, plain, ending in a separator-friendly character. */
export function assertPrefix(what: string, prefix: string, max: number): void {
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(prefix) || prefix.length > max) {
    throw new IptablesError('IPTABLES_INVALID_ARGUMENT', `invalid ${what} "${prefix}" (letters, digits and '-', at most ${max} characters)`);
  }
}

/** NFLOG prefixes: printable, no quotes or backslashes, at most 64 bytes. */
export function assertLogPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9 _.:/-]{1,63}$/.test(prefix)) {
    throw new IptablesError('IPTABLES_INVALID_ARGUMENT', `invalid log prefix "${prefix}" (1-63 of [A-Za-z0-9 _.:/-])`);
  }
}
