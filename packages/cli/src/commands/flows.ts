/**
 * `gingham flows`: flow records with the policy and rule that decided each one (and what staged
 * policies would decide), read from the collector's local stream or from its JSON lines files,
 * with the habits of `hubble observe`: the recent history, then `--follow`; filters by endpoint,
 * namespace, verdict, port, protocol and policy; a table for people, JSON lines for machines.
 */
import { parseArgs } from 'node:util';
import { formatPolicyHit, type FlowRecord, type PolicyHit } from '@gingham/core';
import { DEFAULT_FLOWS_SOCKET, matchesFilter, readFlowFiles, readFlowStream, rotatedFiles, type FlowFilter, type FlowLine } from '@gingham/flows';
import { UsageError, type CliIo } from '../io.js';
import { renderTable } from '../table.js';
import { escapeText } from '../term.js';

export const flowsHelp = `gingham flows [--follow] [filters] [-o table|json|wide] [--socket PATH | --file PATH]

Flow records (Calico's shape) with the policy and rule that decided each flow at each end, and
the verdict staged policies would give. Reads the local stream of an agent run with --flow-logs
(default ${DEFAULT_FLOWS_SOCKET}, its --flow-logs-socket) or JSON lines files (--file, rotated
siblings included, oldest first).

  -f, --follow                 keep printing records as each aggregation window closes
      --last N                 only the last N records of the history (default 20 in a table)
      --all                    the whole history
      --from ENDPOINT          source: namespace/name-prefix, a name prefix or an IP (repeatable)
      --to ENDPOINT            destination, the same forms (repeatable)
  -n, --namespace NS           either side's namespace (repeatable)
      --verdict allowed|denied the enforced verdict
      --port N                 destination port (repeatable, or comma separated)
      --protocol P             tcp, udp, sctp, icmp (repeatable)
      --reporter src|dst       the end that reported
      --policy NAME            a policy in the enforced trace: name, ns/name, tier.name or kind:ns/name
      --pending                only flows whose verdict or trace staged policies would change
      --pending-verdict allowed|denied   the verdict with staged policies enforced
      --since TIME, --until TIME   a duration ago (30s, 5m, 2h) or an RFC 3339 time
  -o, --output table|json|wide json: one record per line; wide: labels and IPs too
      --socket PATH            the collector's stream (default ${DEFAULT_FLOWS_SOCKET})
      --file PATH              read JSON lines files instead (no --follow)

Examples:
  gingham flows --follow --namespace shop --verdict denied
  gingham flows --policy default.db-ingress -o json
  gingham flows --pending --file /var/log/gingham/flows.jsonl`;

/** A duration ago (`30s`, `5m`, `2h`, `1d`) or an RFC 3339 time, in unix seconds. */
export function parseTime(text: string, nowMs: number, flag: string): number {
  const d = /^(\d+)(s|m|h|d)$/.exec(text);
  if (d) return Math.floor(nowMs / 1000) - Number(d[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[d[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(text);
  if (!/^\d{4}-\d\d-\d\dT/.test(text) || Number.isNaN(t)) throw new UsageError(`${flag} takes a duration (30s, 5m, 2h) or an RFC 3339 time, got "${text}"`);
  return Math.floor(t / 1000);
}

function verdictOf(text: string | undefined, flag: string): 'allow' | 'deny' | undefined {
  if (text === undefined) return undefined;
  const t = text.toLowerCase();
  if (t === 'allowed' || t === 'allow') return 'allow';
  if (t === 'denied' || t === 'deny') return 'deny';
  throw new UsageError(`${flag} takes allowed or denied, got "${text}"`);
}

/** The filter of the flags (exported for tests). */
export function filterOf(values: Record<string, string | boolean | string[] | undefined>, nowMs: number): FlowFilter {
  const list = (k: string): string[] | undefined => {
    const v = values[k];
    const all = (Array.isArray(v) ? v : typeof v === 'string' ? [v] : []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
    return all.length > 0 ? all : undefined;
  };
  const ports = list('port')?.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port takes 0-65535, got "${p}"`);
    return n;
  });
  const reporter = values.reporter as string | undefined;
  if (reporter !== undefined && reporter !== 'src' && reporter !== 'dst') throw new UsageError(`--reporter takes src or dst, got "${reporter}"`);
  const f: Record<string, unknown> = {
    from: list('from'),
    to: list('to'),
    namespace: list('namespace'),
    verdict: verdictOf(values.verdict as string | undefined, '--verdict'),
    pendingVerdict: verdictOf(values['pending-verdict'] as string | undefined, '--pending-verdict'),
    pendingChanges: values.pending === true || undefined,
    port: ports,
    protocol: list('protocol')?.map((p) => p.toLowerCase()),
    reporter,
    policy: list('policy'),
    since: typeof values.since === 'string' ? parseTime(values.since, nowMs, '--since') : undefined,
    until: typeof values.until === 'string' ? parseTime(values.until, nowMs, '--until') : undefined,
  };
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as FlowFilter;
}

/** `tier|kind:ns/name|action|rule` without the index (the table's short form). */
function hitShort(h: PolicyHit): string {
  return formatPolicyHit(h).split('|').slice(1).join('|');
}

const time = (s: number): string => new Date(s * 1000).toISOString().slice(11, 19);

function endpoint(name: string, ns: string, ip: string | undefined, port: number | undefined, wide: boolean): string {
  const who = name === '-' || name === '' ? (ip ?? name) : ns && ns !== '-' ? `${ns}/${name}` : name;
  const extra = wide && ip !== undefined && who !== ip ? ` (${ip}${port !== undefined ? `:${port}` : ''})` : '';
  return escapeText(who + extra);
}

/** One table row of a record. */
export function recordRow(r: FlowRecord, wide: boolean): string[] {
  const last = r.policies.enforced.at(-1);
  const pendingLast = r.policies.pending.at(-1);
  const pendingAction = pendingLast === undefined ? r.action : pendingLast.action === 'allow' ? 'allow' : 'deny';
  const changed = r.policies.enforced.map(formatPolicyHit).join() !== r.policies.pending.map(formatPolicyHit).join();
  const row = [
    `${time(r.start_time)}-${time(r.end_time)}`,
    r.reporter,
    endpoint(r.source_name, r.source_namespace, r.source_ip, r.source_port, wide),
    endpoint(r.dest_name, r.dest_namespace, r.dest_ip, undefined, wide),
    `${r.proto}/${r.dest_port}`,
    r.action === 'allow' ? 'ALLOWED' : 'DENIED',
    escapeText(last ? hitShort(last) : '-'),
    changed ? `${pendingAction === 'allow' ? 'ALLOWED' : 'DENIED'} ${escapeText(pendingLast ? hitShort(pendingLast) : '-')}` : '=',
    `${r.num_connections_started}/${r.num_connections_completed}`,
    `${r.packets_out}/${r.packets_in}`,
    `${r.bytes_out}/${r.bytes_in}`,
  ];
  if (wide) row.push(escapeText(r.source_labels.join(',') || '-'), escapeText(r.dest_labels.join(',') || '-'));
  return row;
}

const HEADER = ['TIME', 'REPORTER', 'SOURCE', 'DESTINATION', 'PORT', 'VERDICT', 'DECIDED BY', 'STAGED', 'CONN S/C', 'PKTS OUT/IN', 'BYTES OUT/IN'];

export async function flowsCommand(argv: string[], io: CliIo, options: { signal?: AbortSignal; nowMs?: number } = {}): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      follow: { type: 'boolean', short: 'f' },
      last: { type: 'string' },
      all: { type: 'boolean' },
      from: { type: 'string', multiple: true },
      to: { type: 'string', multiple: true },
      namespace: { type: 'string', short: 'n', multiple: true },
      verdict: { type: 'string' },
      port: { type: 'string', multiple: true },
      protocol: { type: 'string', multiple: true },
      reporter: { type: 'string' },
      policy: { type: 'string', multiple: true },
      pending: { type: 'boolean' },
      'pending-verdict': { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      socket: { type: 'string' },
      file: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const output = values.json ? 'json' : (values.output ?? 'table');
  if (output !== 'table' && output !== 'json' && output !== 'wide') throw new UsageError(`-o takes table, json or wide, got "${output}"`);
  if (values.file && values.socket) throw new UsageError('--file and --socket exclude each other');
  if (values.file && values.follow) throw new UsageError('--follow reads the agent\'s stream, not files (drop --file)');
  let last: number | undefined;
  if (values.last !== undefined) {
    last = Number(values.last);
    if (!Number.isInteger(last) || last < 0) throw new UsageError(`--last takes a count, got "${values.last}"`);
  } else if (!values.all && output !== 'json') last = 20;
  const filter = filterOf(values, options.nowMs ?? Date.now());

  const wide = output === 'wide';
  let shown = 0;
  let invalid = 0;
  let headerDone = false;
  const history: FlowRecord[] = [];
  let following = false;
  const print = (records: readonly FlowRecord[]): void => {
    if (records.length === 0) return;
    shown += records.length;
    if (output === 'json') {
      io.stdout(records.map((r) => JSON.stringify(r)).join('\n'));
      return;
    }
    const rows = records.map((r) => recordRow(r, wide));
    const header = wide ? [...HEADER, 'SOURCE LABELS', 'DEST LABELS'] : HEADER;
    // A table is aligned over what is printed at once; following prints one block per window.
    const text = renderTable(headerDone ? rows : [header, ...rows]);
    headerDone = true;
    io.stdout(text);
  };
  const onLine = (l: FlowLine): void => {
    switch (l.kind) {
      case 'record':
        if (!matchesFilter(l.record, filter)) return;
        history.push(l.record);
        return;
      case 'dropped':
        io.stderr(`gingham flows: ${l.records} record(s) dropped: this reader did not keep up (narrow the filter)`);
        return;
      case 'error':
        io.stderr(`gingham flows: the collector says: ${l.message}`);
        return;
      case 'invalid':
        invalid++;
        if (invalid <= 5) io.stderr(`gingham flows: skipping a bad line: ${l.issue.file}:${l.issue.line}:${l.issue.col}: ${l.issue.message}`);
        return;
      case 'window':
        if (following) flushHistory(); // one block per closed window
        return;
    }
  };
  const flushHistory = (): void => {
    print(last === undefined || following ? history : history.slice(Math.max(0, history.length - last)));
    history.length = 0;
  };

  if (values.file) {
    const files = values.file.flatMap((f) => {
      const all = rotatedFiles(f);
      if (all.length === 0) throw new UsageError(`no flow log at ${f}`);
      return all;
    });
    await readFlowFiles(files, onLine);
    flushHistory();
  } else {
    const path = values.socket ?? DEFAULT_FLOWS_SOCKET;
    // The history comes first (the collector filters it too); then, following, each window.
    await readFlowStream({ path, request: { filter, follow: false, ...(last !== undefined ? { last } : {}) } }, onLine);
    flushHistory();
    if (values.follow) {
      following = true;
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      options.signal?.addEventListener('abort', stop, { once: true });
      process.once('SIGINT', stop);
      try {
        await readFlowStream({ path, request: { filter, follow: true, noHistory: true, summaries: true }, signal: controller.signal }, onLine);
        flushHistory();
      } finally {
        process.off('SIGINT', stop);
        options.signal?.removeEventListener('abort', stop);
      }
    }
  }
  if (shown === 0 && output !== 'json' && !values.follow) io.stderr('no flow records match (widen the filter, or wait for the next window: --follow)');
  return invalid > 0 && shown === 0 ? 1 : 0;
}
