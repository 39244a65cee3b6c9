/**
 * What of the iptables dataplane is left in a network namespace: every rule, chain or comment
 * of ours (`gh-` chains, `gh:` comments) in the IPv4 and IPv6 tables of both backends, and our
 * IP sets (`gh4…`, `gh6…`). Empty once `clean()` or `gingham enforce --clean` ran. Reads only.
 */
import { spawnSync } from 'node:child_process';

const SAVERS = ['iptables-nft-save', 'iptables-legacy-save', 'ip6tables-nft-save', 'ip6tables-legacy-save'];

export function iptablesResidue(netns: string): string[] {
  const inNs = (argv: string[]): string => spawnSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8', timeout: 60_000 }).stdout ?? '';
  const lines = (text: string): string[] => text.split('\n').filter(Boolean);
  return [
    ...SAVERS.flatMap((tool) => lines(inNs([tool])).filter((l) => l.includes('gh-') || l.includes('gh:')).map((l) => `${tool}: ${l}`)),
    ...lines(inNs(['ipset', 'list', '-n'])).filter((l) => /^gh[46]/.test(l)).map((l) => `ipset: ${l}`),
  ];
}
