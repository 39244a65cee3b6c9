/**
 * A test OpenStack: Keystone v3 and Neutron v2.0 over real HTTP on 127.0.0.1, answering with
 * the shapes of the API references, for tests and benchmarks. It speaks:
 *   Keystone  POST /identity/v3/auth/tokens (password, application_credential; X-Subject-Token,
 *             expires_at, a catalog with the network endpoint), GET /identity/v3/projects;
 *   Neutron   GET /network/v2.0/{ports,security-groups,security-group-rules,networks,subnets,
 *             floatingips,qos/policies} with attribute filters (repeatable: `id=a&id=b`),
 *             `fields`, `changed_since` (updated_at ≥ the given second), `limit`/`marker`
 *             pagination with `<collection>_links`, X-Auth-Token checks (401), and a `Date`
 *             header from the cloud's clock.
 * Objects get `revision_number` and `updated_at` stamped on every change, as Neutron stamps
 * them. Faults (HTTP errors, slow answers, dropped connections, expired tokens) are injected on
 * demand. Never for production: it keeps everything in memory and trusts its callers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { NEUTRON_COLLECTIONS as PATHS, type NeutronCollectionName } from '../client/neutron.js';
import type { KeystoneProject, NeutronFloatingIp, NeutronNetwork, NeutronPort, NeutronQosPolicy, NeutronSecurityGroup, NeutronSubnet } from '../neutron-types.js';

/** The Neutron collections the test cloud serves (URL path and body key as the client reads them). */
export type TestCollection = NeutronCollectionName;

/** One injected fault, consumed by the next request whose path starts with `path` (any request when absent). */
export interface TestFault {
  readonly path?: string;
  /** Answer with this status and an OpenStack-style error body. */
  readonly status?: number;
  /** Wait this long before answering (or before dropping). */
  readonly delayMs?: number;
  /** Close the connection without an answer. */
  readonly drop?: boolean;
}

export interface TestCloudOptions {
  /** Users accepted by password authentication (default: admin/secret in project admin, domain Default). */
  readonly users?: readonly { readonly name: string; readonly password: string; readonly id?: string; readonly project?: string; readonly domain?: string }[];
  /** Application credentials accepted (`{id, secret}`). */
  readonly applicationCredentials?: readonly { readonly id: string; readonly name?: string; readonly secret: string }[];
  /** Token lifetime (default one hour). */
  readonly tokenTtlMs?: number;
  /** The region of the catalog's endpoints (default RegionOne). */
  readonly region?: string;
  /** The cloud's clock (default the real one). */
  readonly now?: () => number;
  /** Answer `GET /v3/projects` with 403 (a user without the reader role). */
  readonly projectsForbidden?: boolean;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: string;
}

export interface TestCloud {
  /** Keystone's URL, as `OS_AUTH_URL` would give it (`…/identity/v3`). */
  readonly authUrl: string;
  /** Neutron's URL, as the catalog gives it (`…/network`). */
  readonly neutronUrl: string;
  /** Adds or replaces an object, stamping revision_number and updated_at. Returns what is stored. */
  put<T extends { id: string }>(collection: TestCollection, object: T): T;
  /** Removes an object (Neutron keeps no trace of deletions). */
  remove(collection: TestCollection, id: string): boolean;
  /** Every stored object of a collection, as the API lists it. */
  list<T>(collection: TestCollection): T[];
  putProject(project: KeystoneProject): void;
  removeProject(id: string): void;
  /** Queues faults for the next requests. */
  inject(...faults: TestFault[]): void;
  /** Invalidates every issued token (services answer 401 until the client authenticates again). */
  expireTokens(): void;
  /** Requests received, oldest first. */
  readonly requests: readonly RequestRecord[];
  /** Successful authentications. */
  readonly authentications: number;
  /** Bytes of response bodies sent so far. */
  readonly bytesSent: number;
  close(): Promise<void>;
}

type Stored = Record<string, unknown> & { id: string };

/** `YYYY-MM-DDTHH:MM:SSZ`, as Neutron's timestamps are written. */
function stamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

export async function createTestCloud(options: TestCloudOptions = {}): Promise<TestCloud> {
  const now = options.now ?? Date.now;
  const ttl = options.tokenTtlMs ?? 3_600_000;
  const region = options.region ?? 'RegionOne';
  const users = options.users ?? [{ name: 'admin', password: 'secret', project: 'admin', domain: 'Default' }];
  const appCreds = options.applicationCredentials ?? [];
  const data = new Map<TestCollection, Map<string, Stored>>((Object.keys(PATHS) as TestCollection[]).map((c) => [c, new Map()]));
  /** Each collection sorted by id, with updated_at parsed, kept in order as objects change (what a database index gives). */
  const sorted = new Map<TestCollection, { id: string; item: Stored; updated: number }[]>((Object.keys(PATHS) as TestCollection[]).map((c) => [c, []]));
  const sortedOf = (c: TestCollection) => sorted.get(c)!;
  /** Index of the first row whose id is not below `id`. */
  const lowerBound = (rows: readonly { id: string }[], id: string): number => {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rows[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const index = (c: TestCollection, item: Stored): void => {
    const rows = sortedOf(c);
    const i = lowerBound(rows, item.id);
    const row = { id: item.id, item, updated: typeof item.updated_at === 'string' ? Date.parse(item.updated_at) : Number.NaN };
    if (rows[i]?.id === item.id) rows[i] = row;
    else rows.splice(i, 0, row);
  };
  const unindex = (c: TestCollection, id: string): void => {
    const rows = sortedOf(c);
    const i = lowerBound(rows, id);
    if (rows[i]?.id === id) rows.splice(i, 1);
  };
  const projects = new Map<string, KeystoneProject>();
  const tokens = new Map<string, number>();
  const faults: TestFault[] = [];
  const requests: RequestRecord[] = [];
  let authentications = 0;
  let bytesSent = 0;
  let base = '';

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = body === undefined ? '' : JSON.stringify(body);
    bytesSent += Buffer.byteLength(text);
    res.writeHead(status, { 'content-type': 'application/json', date: new Date(now()).toUTCString(), 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const neutronError = (res: ServerResponse, status: number, type: string, message: string): void =>
    send(res, status, { NeutronError: { type, message, detail: '' } });

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const authenticate = (body: unknown): { ok: true; user: string; project?: string } | { ok: false; why: string } => {
    const identity = (body as { auth?: { identity?: Record<string, unknown> } })?.auth?.identity;
    const methods = identity?.methods;
    if (!Array.isArray(methods) || methods.length === 0) return { ok: false, why: 'auth.identity.methods is required' };
    if (methods[0] === 'password') {
      const u = (identity?.password as { user?: { id?: string; name?: string; password?: string; domain?: { name?: string; id?: string } } })?.user;
      const found = users.find((x) => (u?.id !== undefined ? x.id === u.id : x.name === u?.name && (u?.domain?.name ?? u?.domain?.id) === (x.domain ?? 'Default')) && x.password === u?.password);
      return found ? { ok: true, user: found.name, ...(found.project ? { project: found.project } : {}) } : { ok: false, why: 'The request you have made requires authentication.' };
    }
    if (methods[0] === 'application_credential') {
      const c = identity?.application_credential as { id?: string; name?: string; secret?: string } | undefined;
      const found = appCreds.find((x) => (c?.id !== undefined ? x.id === c.id : x.name === c?.name) && x.secret === c?.secret);
      return found ? { ok: true, user: `app-${found.id}` } : { ok: false, why: 'The request you have made requires authentication.' };
    }
    return { ok: false, why: `unsupported method ${String(methods[0])}` };
  };

  const tokenValid = (req: IncomingMessage): boolean => {
    const t = req.headers['x-auth-token'];
    const exp = typeof t === 'string' ? tokens.get(t) : undefined;
    return exp !== undefined && exp > now();
  };

  const project = (item: Stored, fields: readonly string[]): Record<string, unknown> => {
    if (fields.length === 0) return item;
    const out: Record<string, unknown> = {};
    for (const f of fields) if (f in item) out[f] = item[f];
    return out;
  };

  const listCollection = (res: ServerResponse, url: URL, collection: TestCollection, flatten?: 'rules'): void => {
    const params = url.searchParams;
    const fields = params.getAll('fields');
    let changedSince: number | undefined;
    const cs = params.get('changed_since');
    if (cs !== null) {
      const t = Date.parse(/Z$|[+-]\d\d:\d\d$/.test(cs) ? cs : `${cs}Z`);
      if (Number.isNaN(t)) return neutronError(res, 400, 'InvalidInput', 'Invalid input for operation: The input changed_since must be in the following format: YYYY-MM-DDTHH:MM:SSZ.');
      changedSince = t;
    }
    const filters = new Map<string, string[]>();
    for (const [k, v] of params) {
      if (k === 'fields' || k === 'changed_since' || k === 'limit' || k === 'marker' || k === 'sort_key' || k === 'sort_dir' || k === 'page_reverse') continue;
      filters.set(k, [...(filters.get(k) ?? []), v]);
    }
    let rows = sortedOf(collection);
    if (changedSince !== undefined) rows = rows.filter((r) => r.updated >= changedSince!);
    let items = rows.map((r) => r.item);
    if (flatten === 'rules') {
      items = items.flatMap((sg) => ((sg.security_group_rules as Stored[] | undefined) ?? []).map((r) => ({ ...r, security_group_id: sg.id })));
      items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    if (filters.size > 0) {
      items = items.filter((it) => {
        for (const [k, vs] of filters) if (!vs.includes(String(it[k] ?? ''))) return false;
        return true;
      });
    }
    const key = flatten === 'rules' ? 'security_group_rules' : PATHS[collection].key;
    const limitText = params.get('limit');
    const limit = limitText === null ? 0 : Number(limitText);
    const marker = params.get('marker');
    let start = 0;
    if (marker !== null) {
      start = lowerBound(items, marker);
      if (items[start]?.id === marker) start++;
    }
    const page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
    const body: Record<string, unknown> = { [key]: page.map((it) => project(it, fields)) };
    if (limit > 0) {
      const links: { rel: string; href: string }[] = [];
      if (page.length === limit) {
        const next = new URL(url.toString());
        next.searchParams.set('marker', page[page.length - 1]!.id);
        links.push({ rel: 'next', href: `${base}${next.pathname}${next.search}` });
      }
      if (marker !== null && page.length > 0) {
        const prev = new URL(url.toString());
        prev.searchParams.set('marker', page[0]!.id);
        prev.searchParams.set('page_reverse', 'True');
        links.push({ rel: 'previous', href: `${base}${prev.pathname}${prev.search}` });
      }
      body[`${key}_links`] = links;
    }
    send(res, 200, body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.search });
    const fault = faults.findIndex((f) => f.path === undefined || url.pathname.startsWith(f.path));
    if (fault >= 0) {
      const [f] = faults.splice(fault, 1);
      if (f!.delayMs) await new Promise((r) => setTimeout(r, f!.delayMs));
      if (f!.drop) {
        req.socket.destroy();
        return;
      }
      if (f!.status) return send(res, f!.status, { error: { code: f!.status, title: 'Injected', message: 'injected fault' } });
    }
    const path = url.pathname;
    if (path === '/identity/v3/auth/tokens' && req.method === 'POST') {
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return send(res, 400, { error: { code: 400, title: 'Bad Request', message: 'Expecting to find valid JSON.' } });
      }
      const a = authenticate(body);
      if (!a.ok) return send(res, 401, { error: { code: 401, title: 'Unauthorized', message: a.why } });
      const token = randomBytes(16).toString('hex');
      const issued = now();
      tokens.set(token, issued + ttl);
      authentications++;
      const endpoint = (iface: string, url: string) => ({ id: randomBytes(4).toString('hex'), interface: iface, region_id: region, region, url });
      return send(
        res,
        201,
        {
          token: {
            methods: [((body as { auth: { identity: { methods: string[] } } }).auth.identity.methods[0])],
            user: { id: a.user, name: a.user, domain: { id: 'default', name: 'Default' } },
            ...(a.project ? { project: { id: a.project, name: a.project, domain: { id: 'default', name: 'Default' } } } : {}),
            issued_at: new Date(issued).toISOString(),
            expires_at: new Date(issued + ttl).toISOString(),
            catalog: [
              { type: 'identity', name: 'keystone', id: 'k', endpoints: [endpoint('public', `${base}/identity`)] },
              { type: 'network', name: 'neutron', id: 'n', endpoints: [endpoint('public', `${base}/network`), endpoint('internal', `${base}/network`)] },
            ],
          },
        },
        { 'x-subject-token': token },
      );
    }
    if (!tokenValid(req)) return send(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    if (path === '/identity/v3/projects' && req.method === 'GET') {
      if (options.projectsForbidden) return send(res, 403, { error: { code: 403, title: 'Forbidden', message: 'You are not authorized to perform the requested action: identity:list_projects.' } });
      return send(res, 200, { projects: [...projects.values()], links: { self: `${base}/identity/v3/projects`, next: null, previous: null } });
    }
    if (req.method === 'GET' && path.startsWith('/network/v2.0/')) {
      const rest = path.slice('/network/v2.0/'.length);
      if (rest === 'security-group-rules') return listCollection(res, url, 'securityGroups', 'rules');
      const c = (Object.keys(PATHS) as TestCollection[]).find((k) => PATHS[k].path === rest);
      if (c) return listCollection(res, url, c);
    }
    return neutronError(res, 404, 'HTTPNotFound', `The resource could not be found: ${path}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) send(res, 500, { error: { code: 500, message: e.message } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    authUrl: `${base}/identity/v3`,
    neutronUrl: `${base}/network`,
    put<T extends { id: string }>(collection: TestCollection, object: T): T {
      const store = data.get(collection)!;
      const had = store.get(object.id);
      const t = stamp(now());
      const stored = {
        ...object,
        created_at: (had?.created_at as string | undefined) ?? t,
        updated_at: t,
        revision_number: ((had?.revision_number as number | undefined) ?? 0) + 1,
      } as unknown as Stored;
      if (collection === 'securityGroups') {
        const rules = ((object as unknown as NeutronSecurityGroup).security_group_rules ?? []).map((r, i) => ({ ...r, id: r.id ?? `${object.id}-rule-${i}`, security_group_id: object.id }));
        stored.security_group_rules = rules;
      }
      store.set(object.id, stored);
      index(collection, stored);
      return structuredClone(stored) as unknown as T;
    },
    remove(collection, id) {
      unindex(collection, id);
      return data.get(collection)!.delete(id);
    },
    list<T>(collection: TestCollection): T[] {
      return [...data.get(collection)!.values()].map((x) => structuredClone(x) as unknown as T);
    },
    putProject(p) {
      projects.set(p.id, p);
    },
    removeProject(id) {
      projects.delete(id);
    },
    inject(...f) {
      faults.push(...f);
    },
    expireTokens() {
      tokens.clear();
    },
    get requests() {
      return requests;
    },
    get authentications() {
      return authentications;
    },
    get bytesSent() {
      return bytesSent;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Typed shorthands for tests: what each collection holds. */
export type TestCloudObjects = {
  ports: NeutronPort;
  securityGroups: NeutronSecurityGroup;
  networks: NeutronNetwork;
  subnets: NeutronSubnet;
  floatingIps: NeutronFloatingIp;
  qosPolicies: NeutronQosPolicy;
};
