/**
 * A Keystone v3 session: authenticates with a password or an application credential
 * (`POST /v3/auth/tokens`), keeps the token (`X-Subject-Token`) and renews it before
 * `expires_at`, finds the network endpoint in the token's catalog, and lists projects. The token
 * and secrets never appear in errors or status.
 */
import { OpenStackError } from '../errors.js';
import type { KeystoneProject } from '../neutron-types.js';
import { joinUrl, requestJson, type FetchLike } from './http.js';

/** Password authentication, scoped to a project. Users and projects by id, or by name plus domain. */
export interface PasswordCredentials {
  readonly kind: 'password';
  readonly username?: string;
  readonly userId?: string;
  /** Default `Default` when the user is given by name and no domain id is given. */
  readonly userDomainName?: string;
  readonly userDomainId?: string;
  readonly password: string;
  readonly projectName?: string;
  readonly projectId?: string;
  readonly projectDomainName?: string;
  readonly projectDomainId?: string;
}

/** Application credential authentication (already scoped to its project). */
export interface ApplicationCredentials {
  readonly kind: 'application-credential';
  readonly id?: string;
  /** With `name`, the owning user must be given (by id, or by name plus domain). */
  readonly name?: string;
  readonly username?: string;
  readonly userId?: string;
  readonly userDomainName?: string;
  readonly userDomainId?: string;
  readonly secret: string;
}

export type KeystoneCredentials = PasswordCredentials | ApplicationCredentials;

export type EndpointInterface = 'public' | 'internal' | 'admin';

export interface KeystoneOptions {
  /** Keystone's URL, with or without the trailing `/v3` (`http://controller:5000/v3`). */
  readonly authUrl: string;
  readonly credentials: KeystoneCredentials;
  /** The catalog region to take endpoints from (default: the first endpoint of the interface). */
  readonly regionName?: string;
  /** Catalog interface (default `public`). */
  readonly interface?: EndpointInterface;
  readonly timeoutMs?: number;
  /** Renew the token when it has less than this left (default 60 s). */
  readonly renewBeforeMs?: number;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
}

interface CatalogEntry {
  readonly type?: string;
  readonly endpoints?: readonly { readonly interface?: string; readonly region_id?: string; readonly region?: string; readonly url?: string }[];
}

interface Token {
  readonly value: string;
  readonly expiresAt: number;
  readonly catalog: readonly CatalogEntry[];
}

export interface KeystoneSession {
  /** A valid token, authenticating or renewing first when needed. */
  token(signal?: AbortSignal): Promise<string>;
  /** Forget the token (after a 401 from a service): the next `token()` authenticates again. */
  invalidate(): void;
  /** The URL of the first catalog endpoint of `type` (`network`) for the configured interface and region. */
  endpoint(type: string, signal?: AbortSignal): Promise<string>;
  /** Every project (`GET /v3/projects`, following `links.next`). */
  listProjects(signal?: AbortSignal): Promise<KeystoneProject[]>;
  /** Authentications so far (first one and renewals). */
  readonly authentications: number;
}

/** The Keystone base URL ending in `/v3`, as networking-calico normalises `auth_url`. */
export function keystoneV3Url(authUrl: string): string {
  return `${authUrl.replace(/\/+$/, '').replace(/\/v3$/, '')}/v3`;
}

function user(c: { username?: string; userId?: string; userDomainName?: string; userDomainId?: string }): Record<string, unknown> {
  if (c.userId) return { id: c.userId };
  if (!c.username) throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', 'Keystone credentials need a user id or a user name');
  return { name: c.username, domain: c.userDomainId ? { id: c.userDomainId } : { name: c.userDomainName ?? 'Default' } };
}

/** The `POST /v3/auth/tokens` body for the credentials. */
export function authRequestBody(c: KeystoneCredentials): unknown {
  if (c.kind === 'password') {
    const scope = c.projectId
      ? { project: { id: c.projectId } }
      : c.projectName
        ? { project: { name: c.projectName, domain: c.projectDomainId ? { id: c.projectDomainId } : { name: c.projectDomainName ?? 'Default' } } }
        : undefined;
    return { auth: { identity: { methods: ['password'], password: { user: { ...user(c), password: c.password } } }, ...(scope ? { scope } : {}) } };
  }
  if (!c.id && !c.name) throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', 'an application credential needs its id, or its name and user');
  const credential = c.id ? { id: c.id, secret: c.secret } : { name: c.name, user: user(c), secret: c.secret };
  return { auth: { identity: { methods: ['application_credential'], application_credential: credential } } };
}

export function createKeystoneSession(options: KeystoneOptions): KeystoneSession {
  const base = keystoneV3Url(options.authUrl);
  const fetchFn: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const renewBeforeMs = options.renewBeforeMs ?? 60_000;
  const iface = options.interface ?? 'public';
  const body = authRequestBody(options.credentials);
  let current: Token | undefined;
  let pending: Promise<Token> | undefined;
  let authentications = 0;

  const authenticate = async (signal?: AbortSignal): Promise<Token> => {
    const url = joinUrl(base, 'auth/tokens');
    const res = await requestJson(fetchFn, { method: 'POST', url, body, timeoutMs, ...(signal ? { signal } : {}) }, true);
    const value = res.headers.get('x-subject-token');
    const token = (res.json as { token?: { expires_at?: unknown; catalog?: unknown } } | undefined)?.token;
    if (!value || !token || typeof token.expires_at !== 'string') {
      throw new OpenStackError('OPENSTACK_BAD_RESPONSE', `POST ${url}: no X-Subject-Token header or token.expires_at in the answer`);
    }
    const expiresAt = Date.parse(token.expires_at);
    if (Number.isNaN(expiresAt)) throw new OpenStackError('OPENSTACK_BAD_RESPONSE', `POST ${url}: token.expires_at ${JSON.stringify(token.expires_at)} is not a time`);
    authentications++;
    return { value, expiresAt, catalog: Array.isArray(token.catalog) ? (token.catalog as CatalogEntry[]) : [] };
  };

  const valid = async (signal?: AbortSignal): Promise<Token> => {
    if (current && current.expiresAt - now() > renewBeforeMs) return current;
    pending ??= authenticate(signal).finally(() => {
      pending = undefined;
    });
    current = await pending;
    return current;
  };

  return {
    get authentications() {
      return authentications;
    },
    async token(signal) {
      return (await valid(signal)).value;
    },
    invalidate() {
      current = undefined;
    },
    async endpoint(type, signal) {
      const token = await valid(signal);
      for (const entry of token.catalog) {
        if (entry.type !== type) continue;
        for (const ep of entry.endpoints ?? []) {
          if (ep.interface !== iface || typeof ep.url !== 'string') continue;
          if (options.regionName && ep.region_id !== options.regionName && ep.region !== options.regionName) continue;
          return ep.url;
        }
      }
      throw new OpenStackError(
        'OPENSTACK_NO_ENDPOINT',
        `the Keystone catalog has no ${iface} "${type}" endpoint${options.regionName ? ` in region ${options.regionName}` : ''}; give the Neutron URL explicitly or check the catalog (openstack catalog list)`,
      );
    },
    async listProjects(signal) {
      const out: KeystoneProject[] = [];
      let url: string | undefined = joinUrl(base, 'projects');
      for (let page = 0; url !== undefined; page++) {
        if (page > 10_000) throw new OpenStackError('OPENSTACK_BAD_RESPONSE', `GET ${url}: more than 10000 pages of projects`);
        const res = await requestJson(fetchFn, { method: 'GET', url, headers: { 'x-auth-token': (await valid(signal)).value }, timeoutMs, ...(signal ? { signal } : {}) });
        const b = res.json as { projects?: unknown; links?: { next?: unknown } } | undefined;
        if (!b || !Array.isArray(b.projects)) throw new OpenStackError('OPENSTACK_BAD_RESPONSE', `GET ${url}: expected {"projects": […]}`);
        out.push(...(b.projects as KeystoneProject[]));
        url = typeof b.links?.next === 'string' && b.links.next !== '' ? b.links.next : undefined;
      }
      return out;
    },
  };
}
