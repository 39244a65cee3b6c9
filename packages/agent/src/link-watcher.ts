/**
 * Interface changes as the kernel reports them: an rtnetlink socket in this process's network
 * namespace, member of the link and IPv4/IPv6 address multicast groups (the `netlink` package's
 * N-API binding). Every new, changed, renamed or removed link and every address change calls
 * `onChange` at once; the agent coalesces those into one interface re-check of the dataplane,
 * instead of waiting for the next policy change. It only listens: it never changes a link.
 */
import { createRtNetlink, type RtNetlinkSocket } from 'netlink';

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
  const socket: RtNetlinkSocket = createRtNetlink();
  let events = 0;
  let closed = false;
  socket.addMembership('LINK');
  socket.addMembership('IPV4_IFADDR');
  socket.addMembership('IPV6_IFADDR');
  socket.on('message', (messages) => {
    for (const m of messages) {
      const kind = (m as { kind?: string }).kind;
      if (kind !== 'link' && kind !== 'address') continue;
      events++;
      const data = (m as { data?: { index?: number } }).data;
      const attrs = (m as { attrs?: { ifname?: string; label?: string } }).attrs;
      const name = attrs?.ifname ?? attrs?.label;
      options.onChange({ kind, ...(data?.index !== undefined ? { index: data.index } : {}), ...(name !== undefined ? { name } : {}) });
    }
  });
  // The raw socket reports receive errors (ENOBUFS when the kernel dropped events for us).
  socket.socket.socket.on('error', (err: Error) => {
    if (!closed) options.onError(err);
  });
  return {
    get events() {
      return events;
    },
    close() {
      if (closed) return;
      closed = true;
      socket.socket.close();
    },
  };
}
