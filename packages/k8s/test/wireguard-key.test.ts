/**
 * The agent's one write: its WireGuard public key on its own Node, as Calico records it in the
 * Kubernetes datastore, through the Node's status subresource; skipped when already there.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNodeWireguardKey } from '../src/index.js';
import { createTestApiServer, type TestApiServer } from '../src/testing.js';

let server: TestApiServer;
let kubeConfig: KubeConfig;
const KEY = `${'Q'.repeat(42)}E=`;

beforeAll(async () => {
  server = await createTestApiServer();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(await server.kubeconfig({ auth: 'client-certificate' }));
  server.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', annotations: { other: 'kept' } } });
});
afterAll(() => server.close());

const annotations = (): Record<string, string> => (server.get({ apiVersion: 'v1', kind: 'Node', name: 'node-1' })!.metadata['annotations'] ?? {}) as Record<string, string>;

describe('writeNodeWireguardKey', () => {
  it('sets projectcalico.org/WireguardPublicKey with a merge patch of nodes/status, and leaves other annotations alone', async () => {
    expect(await writeNodeWireguardKey({ kubeConfig, node: 'node-1', publicKey: KEY })).toMatchObject({ changed: true });
    expect(annotations()).toEqual({ other: 'kept', 'projectcalico.org/WireguardPublicKey': KEY });
    const patch = server.requests.filter((r) => r.verb === 'patch');
    expect(patch.map((r) => r.path)).toEqual(['/api/v1/nodes/node-1/status']);
  });

  it('writes nothing when the key is already there', async () => {
    const patches = server.count({ verb: 'patch' });
    expect(await writeNodeWireguardKey({ kubeConfig, node: 'node-1', publicKey: KEY })).toMatchObject({ changed: false });
    expect(server.count({ verb: 'patch' })).toBe(patches);
  });

  it('the IPv6 key has its own annotation, and null removes a key', async () => {
    await writeNodeWireguardKey({ kubeConfig, node: 'node-1', publicKey: KEY, family: 6 });
    expect(annotations()['projectcalico.org/WireguardPublicKeyV6']).toBe(KEY);
    await writeNodeWireguardKey({ kubeConfig, node: 'node-1', publicKey: null });
    expect(annotations()).toEqual({ other: 'kept', 'projectcalico.org/WireguardPublicKeyV6': KEY });
  });

  it('refuses a malformed key or node name before any request, and explains a 403', async () => {
    const before = server.requests.length;
    await expect(writeNodeWireguardKey({ kubeConfig, node: 'node-1', publicKey: 'short' })).rejects.toMatchObject({ code: 'K8S_INVALID_ARGUMENT' });
    await expect(writeNodeWireguardKey({ kubeConfig, node: 'Bad_Name', publicKey: KEY })).rejects.toMatchObject({ code: 'K8S_INVALID_ARGUMENT' });
    expect(server.requests.length).toBe(before);
    server.fail({ verb: 'patch', status: 403, message: 'nodes "node-1" is forbidden' });
    await expect(writeNodeWireguardKey({ kubeConfig, node: 'node-1', publicKey: `${'R'.repeat(42)}E=` })).rejects.toMatchObject({ code: 'K8S_FORBIDDEN', message: expect.stringContaining('patch" on nodes/status') });
    await expect(writeNodeWireguardKey({ kubeConfig, node: 'node-9', publicKey: KEY })).rejects.toMatchObject({ code: 'K8S_NOT_FOUND' });
  });
});
