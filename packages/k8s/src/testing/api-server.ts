/**
 * A test Kubernetes API server that speaks the real protocol, driven by the shapes in the
 * Kubernetes API reference: HTTPS with a test CA, bearer-token or client-certificate auth,
 * discovery (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`), lists with
 * `metadata.resourceVersion`, `limit` and `continue` (pages of one consistent snapshot),
 * watches from a resourceVersion (`?watch=true&resourceVersion=R&allowWatchBookmarks=true
 * &timeoutSeconds=T`, newline-delimited `{"type","object"}` events, BOOKMARKs), a compaction
 * horizon (a watch from an older revision gets an `ERROR` event with a `Status` of code 410,
 * an expired continue token gets HTTP 410 with a `Status` body), and JSON merge patches.
 *
 * It can be told to misbehave as real clusters do: reset connections, stall open watches
 * silently, end or expire them, answer errors, or accept a request and never answer it.
 *
 * Test code: one process, in memory, loopback only. Never use it as a real API server.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { API_RESOURCES, groupVersion, type ApiResource } from '../api/resource-types.js';
import { testCertificates } from './certs.js';

/** Every group/version the source reads. */
export const ALL_TEST_APIS: readonly string[] = [...new Set(API_RESOURCES.map(groupVersion))];

export interface TestApiServerOptions {
  /** Group/versions served (`v1`, `networking.k8s.io/v1`, …); default `ALL_TEST_APIS`. */
  readonly apis?: readonly string[];
  /** The bearer token clients must send; a random one by default. */
  readonly token?: string;
  /** Send a BOOKMARK to every watch that asked for them this often (default 0: only before a timeout ends it). */
  readonly bookmarkIntervalMs?: number;
  /** Address to listen on (default 127.0.0.1). */
  readonly host?: string;
}

export type TestVerb = 'discovery' | 'list' | 'watch' | 'get' | 'patch';

export interface TestRequestRecord {
  readonly verb: TestVerb;
  /** The resource's plural (`pods`), when the request named one. */
  readonly resource?: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The HTTP status answered (0 when the request was left hanging). */
  readonly status: number;
}

export interface TestFault {
  readonly verb?: TestVerb;
  /** A plural (`pods`) or an id (`networkpolicies.crd.projectcalico.org`); any resource when absent. */
  readonly resource?: string;
  /** The HTTP status to answer with (ignored with `hang`). */
  readonly status?: number;
  readonly reason?: string;
  readonly message?: string;
  /** Accept the request and never answer it. */
  readonly hang?: boolean;
  /** How many requests this applies to (default 1). */
  readonly count?: number;
}

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

export type ApiObject = Record<string, unknown> & { metadata: Record<string, unknown> };

export interface TestApiServer extends AsyncDisposable {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly caPem: string;
  readonly token: string;
  /** A kubeconfig for this server: bearer token (default) or the CA-signed client certificate. */
  kubeconfig(options?: { auth?: 'token' | 'client-certificate'; token?: string }): Promise<string>;
  /** Writes `kubeconfig(options)` to `file` (mode 0600). */
  writeKubeconfig(file: string, options?: { auth?: 'token' | 'client-certificate'; token?: string }): Promise<void>;
  /**
   * Creates or replaces an object (new resourceVersion, ADDED or MODIFIED to watchers); returns
   * what is stored. `silent`: no watch event at all, as if the event were lost.
   */
  put(object: Record<string, unknown>, options?: { silent?: boolean }): ApiObject;
  /** Deletes an object (DELETED to watchers, unless `silent`); false when absent. */
  remove(ref: ObjectRef, options?: { silent?: boolean }): boolean;
  get(ref: ObjectRef): ApiObject | undefined;
  /** Stored objects of one kind (every kind when absent). */
  objects(apiVersion?: string, kind?: string): ApiObject[];
  /** The newest resourceVersion (of any resource). */
  resourceVersion(): string;
  /** The resourceVersion of the newest change to one resource (`pods`), or `'0'`. */
  lastChange(resource: string): string;
  /** Forgets history: watches from any older resourceVersion and older continue tokens get 410. */
  compact(): void;
  /** Resets open watch connections (TCP RST); returns how many. */
  resetWatches(resource?: string): number;
  /** Open watches stop receiving anything (events, bookmarks) but stay open. */
  stallWatches(resource?: string): number;
  /** Open watches end gracefully. */
  endWatches(resource?: string): number;
  /** Open watches get an ERROR event with a 410 `Status` (as after compaction), then end. */
  expireWatches(resource?: string): number;
  /** Makes the next matching request(s) fail or hang. */
  fail(fault: TestFault): void;
  /** Changes the group/versions served (discovery and paths). */
  setApis(apis: readonly string[]): void;
  readonly requests: readonly TestRequestRecord[];
  /** How many requests matched. */
  count(filter?: { verb?: TestVerb; resource?: string }): number;
  /** Watches open right now (stalled ones included). */
  openWatches(resource?: string): number;
  close(): Promise<void>;
}

interface Watcher {
  readonly resource: ApiResource;
  readonly namespace: string | undefined;
  readonly res: ServerResponse;
  readonly bookmarks: boolean;
  stalled: boolean;
  timers: NodeJS.Timeout[];
}

interface Snapshot {
  readonly rv: number;
  readonly items: readonly ApiObject[];
}

interface LogEntry {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: ApiObject;
}

const MAX_RECORDS = 20_000;

/** Starts a test API server on a loopback port. Close it (or `await using`) when done. */
export async function createTestApiServer(options: TestApiServerOptions = {}): Promise<TestApiServer> {
  const certs = await testCertificates();
  const token = options.token ?? randomBytes(16).toString('hex');
  let apis = new Set(options.apis ?? ALL_TEST_APIS);
  const store = new Map<string, Map<string, ApiObject>>();
  const log = new Map<string, LogEntry[]>();
  const lastChangeOf = new Map<string, number>();
  const watchers = new Set<Watcher>();
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const snapshots = new Map<string, Snapshot>();
  const faults: (TestFault & { remaining: number })[] = [];
  const requests: TestRequestRecord[] = [];
  let rv = 1000;
  let horizon = 0;

  const byKind = new Map(API_RESOURCES.map((r) => [`${groupVersion(r)} ${r.kind}`, r]));
  const served = (r: ApiResource): boolean => apis.has(groupVersion(r));
  const keyOf = (ns: string | undefined, name: string): string => `${ns ?? ''}\u0000${name}`;
  const matches = (r: ApiResource, filter: string | undefined): boolean => filter === undefined || filter === r.plural || filter === r.id;

  function resourceOf(ref: { apiVersion?: unknown; kind?: unknown }): ApiResource {
    const r = byKind.get(`${String(ref.apiVersion)} ${String(ref.kind)}`);
    if (!r) throw new Error(`gingham test API server: no resource for ${String(ref.apiVersion)} ${String(ref.kind)}`);
    return r;
  }

  function record(rec: TestRequestRecord): void {
    if (requests.length >= MAX_RECORDS) requests.splice(0, requests.length - MAX_RECORDS + 1);
    requests.push(rec);
  }

  function append(r: ApiResource, entry: LogEntry): void {
    let entries = log.get(r.id);
    if (!entries) log.set(r.id, (entries = []));
    entries.push(entry);
    lastChangeOf.set(r.id, entry.rv);
    for (const w of watchers) {
      if (w.resource !== r || w.stalled) continue;
      if (w.namespace !== undefined && entry.object.metadata['namespace'] !== w.namespace) continue;
      writeEvent(w.res, entry.type, entry.object);
    }
  }

  function writeEvent(res: ServerResponse, type: string, object: unknown): void {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
  }

  function status(res: ServerResponse, code: number, reason: string, message: string): void {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  function json(res: ServerResponse, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function authorized(req: IncomingMessage): boolean {
    if (req.headers.authorization === `Bearer ${token}`) return true;
    const socket = req.socket as TLSSocket;
    return socket.authorized === true && socket.getPeerCertificate?.()?.subject?.CN === certs.clientName;
  }

  function takeFault(verb: TestVerb, r: ApiResource | undefined): (TestFault & { remaining: number }) | undefined {
    const i = faults.findIndex((f) => (f.verb === undefined || f.verb === verb) && (f.resource === undefined || (r !== undefined && matches(r, f.resource))));
    if (i === -1) return undefined;
    const f = faults[i]!;
    if (--f.remaining <= 0) faults.splice(i, 1);
    return f;
  }

  function discovery(path: string, res: ServerResponse): boolean {
    if (path === '/api') {
      json(res, { kind: 'APIVersions', versions: apis.has('v1') ? ['v1'] : [], serverAddressByClientCIDRs: [] });
      return true;
    }
    if (path === '/apis') {
      const groups = new Map<string, string[]>();
      for (const gv of apis) {
        if (!gv.includes('/')) continue;
        const [group, version] = gv.split('/') as [string, string];
        groups.set(group, [...(groups.get(group) ?? []), version]);
      }
      json(res, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      });
      return true;
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (!m) return false;
    const gv = m[1] ?? `${m[2]}/${m[3]}`;
    if (!apis.has(gv)) {
      status(res, 404, 'NotFound', 'the server could not find the requested resource');
      return true;
    }
    json(res, {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv,
      resources: API_RESOURCES.filter((r) => groupVersion(r) === gv).flatMap((r) => [
        { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'list', 'watch', 'patch'] },
        ...(r.kind === 'Node' ? [{ name: 'nodes/status', singularName: '', namespaced: false, kind: 'Node', verbs: ['get', 'patch'] }] : []),
      ]),
    });
    return true;
  }

  /** `{resource, namespace?, name?, subresource?}` of a resource path, or undefined. */
  function route(path: string): { r: ApiResource; namespace?: string; name?: string; sub?: string } | undefined {
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(path);
    if (!m) return undefined;
    const gv = m[1] ?? `${m[2]}/${m[3]}`;
    const segs = m[4]!.split('/').map(decodeURIComponent);
    const inGv = API_RESOURCES.filter((r) => groupVersion(r) === gv);
    if (segs[0] === 'namespaces' && segs.length >= 3) {
      const r = inGv.find((x) => x.plural === segs[2] && x.namespaced);
      if (r) return { r, namespace: segs[1]!, ...(segs[3] !== undefined ? { name: segs[3] } : {}), ...(segs[4] !== undefined ? { sub: segs[4] } : {}) };
    }
    const r = inGv.find((x) => x.plural === segs[0]);
    if (!r) return undefined;
    return { r, ...(segs[1] !== undefined ? { name: segs[1] } : {}), ...(segs[2] !== undefined ? { sub: segs[2] } : {}) };
  }

  function itemsOf(r: ApiResource, namespace: string | undefined): ApiObject[] {
    const all = [...(store.get(r.id)?.values() ?? [])];
    const filtered = namespace === undefined ? all : all.filter((o) => o.metadata['namespace'] === namespace);
    return filtered.sort((a, b) => (keyOf(a.metadata['namespace'] as string, a.metadata['name'] as string) < keyOf(b.metadata['namespace'] as string, b.metadata['name'] as string) ? -1 : 1));
  }

  /**
   * An item as a list shows it, serialized once per stored version (objects are never mutated):
   * built-in kinds are listed without `apiVersion`/`kind`, as the API server does.
   */
  const listJson = new WeakMap<ApiObject, string>();
  function listItem(r: ApiResource, o: ApiObject): string {
    let text = listJson.get(o);
    if (text === undefined) {
      if (r.group.endsWith('projectcalico.org')) text = JSON.stringify(o);
      else {
        const { apiVersion: _a, kind: _k, ...rest } = o;
        text = JSON.stringify(rest);
      }
      listJson.set(o, text);
    }
    return text;
  }

  function list(r: ApiResource, namespace: string | undefined, query: URLSearchParams, res: ServerResponse): number {
    const limit = Number(query.get('limit') ?? 0);
    const cont = query.get('continue');
    let snap: Snapshot | undefined;
    let offset = 0;
    let id: string;
    if (cont) {
      let token: { id?: string; offset?: number } = {};
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { id?: string; offset?: number };
      } catch {
        status(res, 400, 'BadRequest', 'continue key is not valid');
        return 400;
      }
      snap = snapshots.get(token.id ?? '');
      if (!snap || snap.rv < horizon) {
        status(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
        return 410;
      }
      id = token.id!;
      offset = token.offset ?? 0;
    } else {
      snap = { rv, items: itemsOf(r, namespace) };
      id = randomUUID();
    }
    const end = limit > 0 ? Math.min(offset + limit, snap.items.length) : snap.items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(snap.rv) };
    if (end < snap.items.length) {
      snapshots.set(id, snap);
      metadata['continue'] = Buffer.from(JSON.stringify({ id, offset: end })).toString('base64url');
      metadata['remainingItemCount'] = snap.items.length - end;
    } else {
      snapshots.delete(id);
    }
    const head = JSON.stringify({ kind: `${r.kind}List`, apiVersion: groupVersion(r), metadata });
    const text = `${head.slice(0, -1)},"items":[${snap.items.slice(offset, end).map((o) => listItem(r, o)).join(',')}]}`;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
    return 200;
  }

  function watch(r: ApiResource, namespace: string | undefined, query: URLSearchParams, res: ServerResponse): number {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const from = query.get('resourceVersion');
    const w: Watcher = { resource: r, namespace, res, bookmarks: query.get('allowWatchBookmarks') === 'true', stalled: false, timers: [] };
    if (from && from !== '0' && Number(from) < horizon) {
      writeEvent(res, 'ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${from} (${horizon})`,
        reason: 'Expired',
        code: 410,
      });
      res.end();
      return 200;
    }
    if (!from || from === '0') {
      for (const o of itemsOf(r, namespace)) writeEvent(res, 'ADDED', o);
    } else {
      const since = Number(from);
      for (const e of log.get(r.id) ?? []) {
        if (e.rv <= since) continue;
        if (namespace !== undefined && e.object.metadata['namespace'] !== namespace) continue;
        writeEvent(res, e.type, e.object);
      }
    }
    watchers.add(w);
    const bookmark = (): void => {
      if (w.bookmarks && !w.stalled) writeEvent(res, 'BOOKMARK', { kind: r.kind, apiVersion: groupVersion(r), metadata: { resourceVersion: String(rv) } });
    };
    if (w.bookmarks && (options.bookmarkIntervalMs ?? 0) > 0) w.timers.push(setInterval(bookmark, options.bookmarkIntervalMs));
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    if (timeout > 0) {
      w.timers.push(
        setTimeout(() => {
          if (w.stalled) return;
          bookmark();
          res.end();
        }, timeout * 1000),
      );
    }
    const drop = (): void => {
      watchers.delete(w);
      for (const t of w.timers) clearTimeout(t);
    };
    res.on('close', drop);
    res.on('finish', drop);
    return 200;
  }

  function patch(r: ApiResource, namespace: string | undefined, name: string, req: IncomingMessage, body: string, res: ServerResponse): number {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
      status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json`);
      return 415;
    }
    const existing = store.get(r.id)?.get(keyOf(r.namespaced ? namespace : undefined, name));
    if (!existing) {
      status(res, 404, 'NotFound', `${r.plural} "${name}" not found`);
      return 404;
    }
    let p: unknown;
    try {
      p = JSON.parse(body);
    } catch {
      status(res, 400, 'BadRequest', 'the patch is not valid JSON');
      return 400;
    }
    json(res, api.put(mergePatch(existing, p) as Record<string, unknown>));
    return 200;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const path = url.pathname.replace(/\/+$/, '');
    const query = url.searchParams;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const rt = route(path);
    const isWatch = query.get('watch') === 'true' || query.get('watch') === '1';
    const verb: TestVerb = !rt ? 'discovery' : req.method === 'PATCH' ? 'patch' : isWatch ? 'watch' : rt.name !== undefined ? 'get' : 'list';
    const rec = (code: number): void =>
      record({ verb, ...(rt ? { resource: rt.r.plural } : {}), path, query: Object.fromEntries(query), status: code });
    if (!authorized(req)) {
      status(res, 401, 'Unauthorized', 'Unauthorized');
      rec(401);
      return;
    }
    const fault = takeFault(verb, rt?.r);
    if (fault?.hang) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      rec(0);
      return;
    }
    if (fault) {
      const code = fault.status ?? 500;
      status(res, code, fault.reason ?? (code === 403 ? 'Forbidden' : code === 410 ? 'Expired' : 'InternalError'), fault.message ?? `injected ${code}`);
      rec(code);
      return;
    }
    if (!rt) {
      if (!discovery(path, res)) status(res, 404, 'NotFound', 'the server could not find the requested resource');
      rec(res.statusCode);
      return;
    }
    if (!served(rt.r)) {
      status(res, 404, 'NotFound', 'the server could not find the requested resource');
      rec(404);
      return;
    }
    if (req.method === 'PATCH' && rt.name !== undefined && (rt.sub === undefined || rt.sub === 'status')) {
      rec(patch(rt.r, rt.namespace, rt.name, req, body, res));
      return;
    }
    if (req.method !== 'GET') {
      status(res, 405, 'MethodNotAllowed', `${req.method} is not supported by the test API server`);
      rec(405);
      return;
    }
    if (rt.name !== undefined) {
      const o = store.get(rt.r.id)?.get(keyOf(rt.r.namespaced ? rt.namespace : undefined, rt.name));
      if (!o) status(res, 404, 'NotFound', `${rt.r.plural} "${rt.name}" not found`);
      else json(res, o);
      rec(res.statusCode);
      return;
    }
    rec(isWatch ? watch(rt.r, rt.namespace, query, res) : list(rt.r, rt.namespace, query, res));
  }

  const server: Server = createServer(
    { key: certs.serverKeyPem, cert: certs.serverCertPem, ca: certs.caPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) status(res, 500, 'InternalError', String(e));
        else res.destroy();
      });
    },
  );
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `https://${host}:${address.port}`;

  const selectWatchers = (resource: string | undefined): Watcher[] => [...watchers].filter((w) => matches(w.resource, resource));

  const api: TestApiServer = {
    url,
    caPem: certs.caPem,
    token,
    async kubeconfig(o = {}) {
      const b64 = (s: string): string => Buffer.from(s).toString('base64');
      const user =
        o.auth === 'client-certificate'
          ? `    client-certificate-data: ${b64(certs.clientCertPem)}\n    client-key-data: ${b64(certs.clientKeyPem)}\n`
          : `    token: ${o.token ?? token}\n`;
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: test',
        '  cluster:',
        `    server: ${url}`,
        `    certificate-authority-data: ${b64(certs.caPem)}`,
        'users:',
        '- name: gingham-agent',
        '  user:',
        user.trimEnd(),
        'contexts:',
        '- name: test',
        '  context: {cluster: test, user: gingham-agent}',
        'current-context: test',
        '',
      ].join('\n');
    },
    async writeKubeconfig(file, o) {
      await writeFile(file, await api.kubeconfig(o), { mode: 0o600 });
    },
    put(object, o = {}) {
      const r = resourceOf(object);
      const meta = { ...((object['metadata'] ?? {}) as Record<string, unknown>) };
      const name = meta['name'];
      if (typeof name !== 'string' || name === '') throw new Error('gingham test API server: metadata.name is required');
      if (r.namespaced) meta['namespace'] = typeof meta['namespace'] === 'string' && meta['namespace'] !== '' ? meta['namespace'] : 'default';
      else delete meta['namespace'];
      let byKey = store.get(r.id);
      if (!byKey) store.set(r.id, (byKey = new Map()));
      const key = keyOf(meta['namespace'] as string | undefined, name);
      const existing = byKey.get(key);
      meta['resourceVersion'] = String(++rv);
      meta['uid'] = existing?.metadata['uid'] ?? randomUUID();
      meta['creationTimestamp'] = existing?.metadata['creationTimestamp'] ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      if (r.kind === 'Namespace') meta['labels'] = { ...((meta['labels'] ?? {}) as Record<string, string>), 'kubernetes.io/metadata.name': name };
      const stored: ApiObject = { ...object, apiVersion: groupVersion(r), kind: r.kind, metadata: meta };
      byKey.set(key, stored);
      if (!o.silent) append(r, { rv, type: existing ? 'MODIFIED' : 'ADDED', object: stored });
      return stored;
    },
    remove(ref, o = {}) {
      const r = resourceOf(ref);
      const byKey = store.get(r.id);
      const key = keyOf(r.namespaced ? (ref.namespace ?? 'default') : undefined, ref.name);
      const existing = byKey?.get(key);
      if (!existing) return false;
      byKey!.delete(key);
      ++rv;
      if (!o.silent) append(r, { rv, type: 'DELETED', object: { ...existing, metadata: { ...existing.metadata, resourceVersion: String(rv) } } });
      return true;
    },
    get(ref) {
      const r = resourceOf(ref);
      return store.get(r.id)?.get(keyOf(r.namespaced ? (ref.namespace ?? 'default') : undefined, ref.name));
    },
    objects(apiVersion, kind) {
      return API_RESOURCES.filter((r) => (apiVersion === undefined || groupVersion(r) === apiVersion) && (kind === undefined || r.kind === kind)).flatMap((r) => itemsOf(r, undefined));
    },
    resourceVersion: () => String(rv),
    lastChange: (resource) => String(API_RESOURCES.filter((r) => matches(r, resource)).reduce((m, r) => Math.max(m, lastChangeOf.get(r.id) ?? 0), 0)),
    compact() {
      horizon = rv;
      log.clear();
      for (const [id, s] of snapshots) if (s.rv < horizon) snapshots.delete(id);
    },
    resetWatches(resource) {
      const ws = selectWatchers(resource);
      for (const w of ws) {
        watchers.delete(w);
        for (const t of w.timers) clearTimeout(t);
        // A TLS socket cannot be reset itself: reset the TCP socket under it (an RST on the wire).
        const tls = w.res.socket as (Socket & { _parent?: Socket & { resetAndDestroy?: () => void } }) | null;
        const tcp = tls?._parent;
        if (tcp?.resetAndDestroy) tcp.resetAndDestroy();
        else tls?.destroy();
      }
      return ws.length;
    },
    stallWatches(resource) {
      const ws = selectWatchers(resource).filter((w) => !w.stalled);
      for (const w of ws) w.stalled = true;
      return ws.length;
    },
    endWatches(resource) {
      const ws = selectWatchers(resource);
      for (const w of ws) w.res.end();
      return ws.length;
    },
    expireWatches(resource) {
      const ws = selectWatchers(resource);
      for (const w of ws) {
        writeEvent(w.res, 'ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 });
        w.res.end();
      }
      return ws.length;
    },
    fail(fault) {
      faults.push({ ...fault, remaining: fault.count ?? 1 });
    },
    setApis(next) {
      apis = new Set(next);
      for (const w of [...watchers]) if (!served(w.resource)) w.res.end();
    },
    requests,
    count(filter = {}) {
      return requests.filter((q) => (filter.verb === undefined || q.verb === filter.verb) && (filter.resource === undefined || q.resource === filter.resource || API_RESOURCES.some((r) => r.id === filter.resource && r.plural === q.resource))).length;
    },
    openWatches: (resource) => selectWatchers(resource).length,
    async close() {
      for (const w of watchers) for (const t of w.timers) clearTimeout(t);
      watchers.clear();
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async [Symbol.asyncDispose]() {
      await api.close();
    },
  };
  return api;
}

/** RFC 7386 JSON merge patch (what `application/merge-patch+json` means). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
