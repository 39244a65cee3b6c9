/**
 * Keystone options from the `OS_*` variables an OpenStack RC file (`openrc`, `clouds.yaml`'s
 * `openstack --os-cloud … configuration show`) exports, as the OpenStack CLI reads them:
 * application credentials when `OS_APPLICATION_CREDENTIAL_SECRET` is set, a password otherwise.
 */
import { OpenStackError } from '../errors.js';
import type { EndpointInterface, KeystoneOptions } from './keystone.js';

type Env = Readonly<Record<string, string | undefined>>;

const value = (env: Env, ...names: string[]): string | undefined => {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
};

/** The Keystone options the environment describes; throws OPENSTACK_INVALID_OPTIONS naming what is missing. */
export function keystoneOptionsFromEnv(env: Env): Omit<KeystoneOptions, 'fetch' | 'now' | 'timeoutMs'> {
  const authUrl = value(env, 'OS_AUTH_URL');
  if (!authUrl) throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', 'OS_AUTH_URL is not set: source your OpenStack RC file (openrc) first');
  const regionName = value(env, 'OS_REGION_NAME');
  const rawInterface = value(env, 'OS_INTERFACE', 'OS_ENDPOINT_TYPE')?.replace(/URL$/, '');
  if (rawInterface !== undefined && !['public', 'internal', 'admin'].includes(rawInterface)) {
    throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', `OS_INTERFACE must be public, internal or admin, not ${JSON.stringify(rawInterface)}`);
  }
  const common = { authUrl, ...(regionName ? { regionName } : {}), ...(rawInterface ? { interface: rawInterface as EndpointInterface } : {}) };
  const user = {
    ...optional('username', value(env, 'OS_USERNAME')),
    ...optional('userId', value(env, 'OS_USER_ID')),
    ...optional('userDomainName', value(env, 'OS_USER_DOMAIN_NAME')),
    ...optional('userDomainId', value(env, 'OS_USER_DOMAIN_ID')),
  };
  const secret = value(env, 'OS_APPLICATION_CREDENTIAL_SECRET');
  if (secret !== undefined) {
    const id = value(env, 'OS_APPLICATION_CREDENTIAL_ID');
    const name = value(env, 'OS_APPLICATION_CREDENTIAL_NAME');
    if (!id && !name) throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', 'OS_APPLICATION_CREDENTIAL_SECRET is set but neither OS_APPLICATION_CREDENTIAL_ID nor OS_APPLICATION_CREDENTIAL_NAME is');
    return { ...common, credentials: { kind: 'application-credential', secret, ...optional('id', id), ...optional('name', name), ...user } };
  }
  const password = value(env, 'OS_PASSWORD');
  if (password === undefined) throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', 'set OS_PASSWORD (with OS_USERNAME and OS_PROJECT_NAME) or OS_APPLICATION_CREDENTIAL_ID and OS_APPLICATION_CREDENTIAL_SECRET');
  if (!user.username && !user.userId) throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', 'OS_PASSWORD is set but neither OS_USERNAME nor OS_USER_ID is');
  return {
    ...common,
    credentials: {
      kind: 'password',
      password,
      ...user,
      ...optional('projectName', value(env, 'OS_PROJECT_NAME', 'OS_TENANT_NAME')),
      ...optional('projectId', value(env, 'OS_PROJECT_ID', 'OS_TENANT_ID')),
      ...optional('projectDomainName', value(env, 'OS_PROJECT_DOMAIN_NAME')),
      ...optional('projectDomainId', value(env, 'OS_PROJECT_DOMAIN_ID')),
    },
  };
}

function optional<K extends string>(key: K, v: string | undefined): { [P in K]?: string } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: string };
}
