// OS_* variables → Keystone options, as the OpenStack CLI reads an RC file.
import { describe, expect, it } from 'vitest';
import { keystoneOptionsFromEnv } from './os-env.js';

describe('keystoneOptionsFromEnv', () => {
  it('reads a password RC file with domains, region and interface', () => {
    expect(
      keystoneOptionsFromEnv({
        OS_AUTH_URL: 'https://keystone:5000/v3',
        OS_USERNAME: 'neutron',
        OS_PASSWORD: 'pw',
        OS_PROJECT_NAME: 'service',
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_DOMAIN_ID: 'default',
        OS_REGION_NAME: 'RegionOne',
        OS_INTERFACE: 'internal',
      }),
    ).toEqual({
      authUrl: 'https://keystone:5000/v3',
      regionName: 'RegionOne',
      interface: 'internal',
      credentials: { kind: 'password', password: 'pw', username: 'neutron', userDomainName: 'Default', projectName: 'service', projectDomainId: 'default' },
    });
  });

  it('prefers an application credential, and takes the legacy tenant and endpoint-type names', () => {
    expect(keystoneOptionsFromEnv({ OS_AUTH_URL: 'http://k', OS_APPLICATION_CREDENTIAL_ID: 'id', OS_APPLICATION_CREDENTIAL_SECRET: 's', OS_PASSWORD: 'ignored', OS_ENDPOINT_TYPE: 'publicURL' })).toEqual({
      authUrl: 'http://k',
      interface: 'public',
      credentials: { kind: 'application-credential', secret: 's', id: 'id' },
    });
    expect(keystoneOptionsFromEnv({ OS_AUTH_URL: 'http://k', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_TENANT_NAME: 't' }).credentials).toMatchObject({ projectName: 't' });
  });

  it('says what is missing', () => {
    expect(() => keystoneOptionsFromEnv({})).toThrow(/OS_AUTH_URL is not set/);
    expect(() => keystoneOptionsFromEnv({ OS_AUTH_URL: 'http://k' })).toThrow(/set OS_PASSWORD/);
    expect(() => keystoneOptionsFromEnv({ OS_AUTH_URL: 'http://k', OS_PASSWORD: 'p' })).toThrow(/neither OS_USERNAME nor OS_USER_ID/);
    expect(() => keystoneOptionsFromEnv({ OS_AUTH_URL: 'http://k', OS_APPLICATION_CREDENTIAL_SECRET: 's' })).toThrow(/OS_APPLICATION_CREDENTIAL_ID/);
    expect(() => keystoneOptionsFromEnv({ OS_AUTH_URL: 'http://k', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_INTERFACE: 'private' })).toThrow(/public, internal or admin/);
  });
});
