/**
 * Interface changes as the kernel reports them: an rtnetlink socket in this process's network
 * namespace, member of the link and IPv4/IPv6 address multicast groups (the `netlink` package's
 * N-API binding). Every new, changed, renamed or removed link and every address change calls
 * `onChange` at once with the interface's index and name; the agent coalesces those into one
 * interface re-check of the dataplane, instead of waiting for the next policy change. Only the
 * fixed header and the name attribute of each message are read (a full rtnetlink decode of a
 * link message, ~1.5 KB of attributes, cost 0.3-0.9 ms each, two per new veth pair, on the way to
 * the re-check). It only listens: it never changes a link.
 */
import { createNetlink, Protocol, type NetlinkMessage, type NetlinkSocket } from 'netlink';

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
/** rtnetlink multicast groups (RTNLGRP_*). */
const GROUPS = { link: 1, ipv4Address: 5, ipv6Address: 9 } as const;
/** IFLA_IFNAME and IFA_LABEL share the number. */
const NAME_ATTRIBUTE = 3;
/** struct ifinfomsg and struct ifaddrmsg; the index sits at offset 4 in both. */
const LINK_HEADER = 16;
const ADDRESS_HEADER = 8;

/** The kind, index and name (IFLA_IFNAME / IFA_LABEL; IPv6 addresses carry none) of one message. */
export function decodeInterfaceMessage(type: number, data: Buffer): { kind: 'link' | 'address'; index?: number; name?: string } | undefined {
  const kind = type === RTM_NEWLINK || type === RTM_DELLINK ? 'link' : type === RTM_NEWADDR || type === RTM_DELADDR ? 'address' : undefined;
  if (!kind) return undefined;
  const header = kind === 'link' ? LINK_HEADER : ADDRESS_HEADER;
  if (data.length < header) return { kind };
  const index = data.readUInt32LE(4);
  for (let off = header; off + 4 <= data.length; ) {
    const len = data.readUInt16LE(off);
    if (len < 4 || off + len > data.length) break;
    if ((data.readUInt16LE(off + 2) & 0x3fff) === NAME_ATTRIBUTE) {
      const end = data.indexOf(0, off + 4);
      return { kind, index, name: data.toString('utf8', off + 4, end < 0 || end > off + len ? off + len : end) };
    }
    off += (len + 3) & ~3;
  }
  return { kind, index };
}

export interface LinkWatcherOptions {
  /** A link or address changed (`kind`: `link` or `address`, and the interface index). */
  readonly onChange: (event: { readonly kind: string; readonly index?: number; readonly name?: string }) => void;
  /** The socket failed (e.g. the kernel dropped events: ENOBUFS); a full re-check is due. */
  readonly onError: (error: Error) => void;
}

export interface LinkWatcher {
  readonly events: number;
  close(): void;
}

export function createLinkWatcher(options: LinkWatcherOptions): LinkWatcher {
  const socket: NetlinkSocket = createNetlink(Protocol.ROUTE);
  let events = 0;
  let closed = false;
  socket.addMembership(GROUPS.link);
  socket.addMembership(GROUPS.ipv4Address);
  socket.addMembership(GROUPS.ipv6Address);
  socket.on('message', (msg: NetlinkMessage | NetlinkMessage[]) => {
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      const e = decodeInterfaceMessage(m.type, m.data);
      if (!e) continue;
      events++;
      options.onChange(e);
    }
  });
  // The raw socket reports receive errors (ENOBUFS when the kernel dropped events for us).
  socket.socket.on('error', (err: Error) => {
    if (!closed) options.onError(err);
  });
  return {
    get events() {
      return events;
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
