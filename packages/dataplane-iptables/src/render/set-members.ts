/**
 * Kernel members of IP sets: an Engine set's members for one family, in the form `ipset` takes
 * (`/0` split in halves, unsupported protocols of named-port sets dropped). Pure.
 */
import type { IpSetType } from '@gingham/core';

function familyOfMember(member: string): 4 | 6 {
  return member.split(',')[0]!.includes(':') ? 6 : 4;
}

/** `/0` cannot be stored in hash:net sets: split it into its two halves (same coverage). */
function expandAny(member: string): string[] {
  const [net, rest] = member.split(/,(.*)/s, 2) as [string, string | undefined];
  const tail = rest === undefined ? '' : `,${rest}`;
  if (net === '0.0.0.0/0') return [`0.0.0.0/1${tail}`, `128.0.0.0/1${tail}`];
  if (net === '::/0') return [`::/1${tail}`, `8000::/1${tail}`];
  return [member];
}

/** The kernel members of an Engine set for one family (sorted; `/0` split; unsupported protocols dropped). */
export function setMembers(type: IpSetType, members: Iterable<string>, family: 4 | 6): string[] {
  return [...members]
    .filter((m) => familyOfMember(m) === family)
    .filter((m) => type === 'nets' || /,(tcp|udp|sctp):\d+$/.test(m))
    .flatMap(expandAny)
    .sort();
}

