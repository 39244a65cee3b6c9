/**
 * Listing Neutron collections (`GET /v2.0/<collection>`) with the API's own query features:
 * attribute filters (`binding:host_id=<host>`), `fields` to fetch only what is read,
 * `changed_since` (the standard-attr-timestamp extension: objects whose `updated_at` is at or
 * after the given second), and `limit`/`marker` pagination through `<collection>_links`. A 401
 * renews the Keystone token once and repeats the request.
 */
import { OpenStackError, OpenStackHttpError } from '../errors.js';
import { joinUrl, requestJson, type FetchLike } from './http.js';
import type { KeystoneSession } from './keystone.js';

/** The collections the source reads: URL path and body key. */
export const NEUTRON_COLLECTIONS = {
  ports: { path: 'ports', key: 'ports' },
  securityGroups: { path: 'security-groups', key: 'security_groups' },
  networks: { path: 'networks', key: 'networks' },
  subnets: { path: 'subnets', key: 'subnets' },
  floatingIps: { path: 'floatingips', key: 'floatingips' },
  qosPolicies: { path: 'qos/policies', key: 'policies' },
} as const;

export type NeutronCollectionName = keyof typeof NEUTRON_COLLECTIONS;

export interface ListQuery {
  /** Attribute filters; a list repeats the parameter (`id=a&id=b`). */
  readonly filters?: Readonly<Record<string, string | readonly string[]>>;
  /** Only these attributes (`fields=id&fields=fixed_ips`). */
  readonly fields?: readonly string[];
  /** `changed_since=YYYY-MM-DDTHH:MM:SSZ`. */
  readonly changedSince?: string;
}

export interface NeutronClientOptions {
  readonly session: KeystoneSession;
  /** The Neutron URL (`http://controller:9696`); default: the catalog's `network` endpoint. */
  readonly endpoint?: string;
  readonly timeoutMs?: number;
  /** Items per page (`limit`; default 1000). */
  readonly pageSize?: number;
  readonly fetch?: FetchLike;
}

/** A listing and the server's clock when it answered the first page (its `Date` header), if it sent one. */
export interface NeutronListing<T> {
  readonly items: T[];
  readonly serverTime?: number;
}

export interface NeutronClient {
  list<T>(collection: NeutronCollectionName, query?: ListQuery, signal?: AbortSignal): Promise<NeutronListing<T>>;
  /** HTTP requests sent (pages, retries), for metrics and tests. */
  readonly requests: number;
}

const MAX_PAGES = 100_000;

export function createNeutronClient(options: NeutronClientOptions): NeutronClient {
  const fetchFn: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pageSize = options.pageSize ?? 1000;
  let base: string | undefined = options.endpoint === undefined ? undefined : apiBase(options.endpoint);
  let requests = 0;

  const get = async (url: string, signal?: AbortSignal): Promise<{ json: unknown; headers: Headers }> => {
    for (let attempt = 0; ; attempt++) {
      const token = await options.session.token(signal);
      requests++;
      try {
        return await requestJson(fetchFn, { method: 'GET', url, headers: { 'x-auth-token': token }, timeoutMs, ...(signal ? { signal } : {}) });
      } catch (e) {
        if (attempt === 0 && e instanceof OpenStackHttpError && e.status === 401) {
          options.session.invalidate();
          continue;
        }
        throw e;
      }
    }
  };

  return {
    get requests() {
      return requests;
    },
    async list<T>(collection: NeutronCollectionName, query: ListQuery = {}, signal?: AbortSignal): Promise<NeutronListing<T>> {
      base ??= apiBase(await options.session.endpoint('network', signal));
      const { path, key } = NEUTRON_COLLECTIONS[collection];
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query.filters ?? {})) for (const x of typeof v === 'string' ? [v] : v) params.append(k, x);
      for (const f of query.fields ?? []) params.append('fields', f);
      if (query.changedSince) params.append('changed_since', query.changedSince);
      params.append('limit', String(pageSize));
      const first = `${joinUrl(base, path)}?${params.toString()}`;
      const out: T[] = [];
      let serverTime: number | undefined;
      let url: string | undefined = first;
      for (let page = 0; url !== undefined; page++) {
        if (page >= MAX_PAGES) throw new OpenStackError('OPENSTACK_BAD_RESPONSE', `GET ${first}: more than ${MAX_PAGES} pages`);
        const res = await get(url, signal);
        if (page === 0) {
          const date = Date.parse(res.headers.get('date') ?? '');
          if (!Number.isNaN(date)) serverTime = date;
        }
        const body = res.json as Record<string, unknown> | undefined;
        const items = body?.[key];
        if (!Array.isArray(items)) throw new OpenStackError('OPENSTACK_BAD_RESPONSE', `GET ${url}: expected {"${key}": […]}`);
        out.push(...(items as T[]));
        url = nextPage(body?.[`${key}_links`], base);
        // Neutron may cap `limit` (pagination_max_limit), so only the links tell; an empty page ends.
        if (items.length === 0) url = undefined;
      }
      return serverTime === undefined ? { items: out } : { items: out, serverTime };
    },
  };
}

/** `<endpoint>/v2.0` (the catalog URL usually has no version; some deployments include it). */
function apiBase(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return /\/v2\.0$/.test(trimmed) ? trimmed : `${trimmed}/v2.0`;
}

/**
 * The `next` link of a page. Behind a proxy Neutron may advertise its internal origin, so the
 * link's path and query are kept and the origin is the one requests already go to.
 */
function nextPage(links: unknown, base: string): string | undefined {
  if (!Array.isArray(links)) return undefined;
  const next = links.find((l): l is { rel: string; href: string } => typeof l === 'object' && l !== null && (l as { rel?: unknown }).rel === 'next' && typeof (l as { href?: unknown }).href === 'string');
  if (!next) return undefined;
  const href = new URL(next.href, base);
  const origin = new URL(base);
  href.protocol = origin.protocol;
  href.host = origin.host;
  return href.toString();
}
