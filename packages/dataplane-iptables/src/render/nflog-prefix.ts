/**
 * Flow-log NFLOG prefixes: the Calico-style text an NFLOG rule carries to say which policy,
 * profile or tier decided, and its parser (used by the flow source). Pure.
 */
import { hashText } from './names.js';

/** What an NFLOG prefix of flow logs says decided. */
export interface NflogDecision {
  readonly action: 'allow' | 'deny';
  readonly direction: 'ingress' | 'egress';
  /** `policy`: a policy rule; `profile`: a profile rule; `end-of-tier`: the tier's default; `no-profile`: nothing allowed. */
  readonly kind: 'policy' | 'profile' | 'end-of-tier' | 'no-profile';
  /** Policy id, profile id or tier name ('' for no-profile; a `~hash` token when too long, see `nflogNames`). */
  readonly name: string;
  readonly rule: number;
}

const PREFIX_NAME_MAX = 48;

/**
 * The flow-log NFLOG prefix, Calico's shape `<A|D><P|R|T|N><I|E><rule>|<name>`: action, owner
 * (policy, profile, tier end, no profile), direction, rule index, then the policy/profile id or
 * tier (hashed as `~<hash>` past 48 characters: NFLOG prefixes hold 63).
 */
export function nflogPrefix(d: NflogDecision): { prefix: string; hashed?: string } {
  const owner = d.kind === 'policy' ? 'P' : d.kind === 'profile' ? 'R' : d.kind === 'end-of-tier' ? 'T' : 'N';
  const head = `${d.action === 'allow' ? 'A' : 'D'}${owner}${d.direction === 'ingress' ? 'I' : 'E'}${d.kind === 'policy' || d.kind === 'profile' ? d.rule : ''}|`;
  const plain = d.name.length <= PREFIX_NAME_MAX && /^[A-Za-z0-9_.:/-]*$/.test(d.name);
  if (plain) return { prefix: head + d.name };
  const token = `~${hashText(d.name, 20)}`;
  return { prefix: head + token, hashed: token };
}

const PREFIX = /^([AD])([PRTN])([IE])(\d*)\|(.*)$/;

/** Parses a flow-log NFLOG prefix (`names` resolves hashed tokens); undefined for other prefixes (Log rules). */
export function parseNflogPrefix(prefix: string, names?: ReadonlyMap<string, string>): NflogDecision | undefined {
  const m = PREFIX.exec(prefix);
  if (!m) return undefined;
  const [, a, owner, dir, rule, rawName] = m as unknown as [string, string, string, string, string, string];
  const kind = owner === 'P' ? 'policy' : owner === 'R' ? 'profile' : owner === 'T' ? 'end-of-tier' : 'no-profile';
  const name = rawName.startsWith('~') ? (names?.get(rawName) ?? rawName) : rawName;
  return { action: a === 'A' ? 'allow' : 'deny', direction: dir === 'I' ? 'ingress' : 'egress', kind, name, rule: rule === '' ? -1 : Number(rule) };
}

