/**
 * The one write the agent makes to the Kubernetes API: its WireGuard public key on its own Node,
 * where Calico keeps it in the Kubernetes datastore (the `projectcalico.org/WireguardPublicKey`
 * annotation, `…V6` for the IPv6 device). A JSON merge patch of the Node's status subresource
 * (what `nodes/status: patch` in RBAC allows; the spec cannot change through it), skipped when
 * the annotation already holds the key. Removing the key is writing `null`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { createApiClient, type ApiClient } from './api/http-client.js';
import { KubernetesError } from './errors.js';
import { ANNOTATION_WIREGUARD_PUBLIC_KEY, ANNOTATION_WIREGUARD_PUBLIC_KEY_V6 } from './reduce/calico-node.js';

export interface WriteNodeWireguardKeyOptions {
  readonly kubeConfig: KubeConfig;
  /** The agent's own Node. */
  readonly node: string;
  /** The base64 public key (32 bytes), or null to remove it. */
  readonly publicKey: string | null;
  /** The IPv4 (default) or IPv6 WireGuard device's key. */
  readonly family?: 4 | 6;
}

export interface WriteNodeWireguardKeyResult {
  /** False when the Node already held this key (nothing was written). */
  readonly changed: boolean;
  /** The Node's resourceVersion after the write (or as read). */
  readonly resourceVersion: string;
}

const KEY = /^[A-Za-z0-9+/]{43}=$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export async function writeNodeWireguardKey(options: WriteNodeWireguardKeyOptions): Promise<WriteNodeWireguardKeyResult> {
  const { node, publicKey } = options;
  if (!NODE_NAME.test(node)) throw new KubernetesError('K8S_INVALID_ARGUMENT', `"${node}" is not a valid Node name`);
  if (publicKey !== null && (!KEY.test(publicKey) || Buffer.from(publicKey, 'base64').length !== 32)) {
    throw new KubernetesError('K8S_INVALID_ARGUMENT', 'a WireGuard public key is the base64 encoding of exactly 32 bytes');
  }
  const annotation = options.family === 6 ? ANNOTATION_WIREGUARD_PUBLIC_KEY_V6 : ANNOTATION_WIREGUARD_PUBLIC_KEY;
  const client = createApiClient(options.kubeConfig);
  const path = `/api/v1/nodes/${encodeURIComponent(node)}`;
  const hint = (e: unknown): never => {
    if (e instanceof KubernetesError && e.code === 'K8S_FORBIDDEN') {
      throw new KubernetesError('K8S_FORBIDDEN', `${e.message}; the agent's ClusterRole needs "get" on nodes and "patch" on nodes/status (see examples/kubernetes)`, { cause: e, status: 403 });
    }
    throw e;
  };
  try {
    return await write(client, path, annotation, publicKey, hint);
  } finally {
    client.close();
  }
}

async function write(client: ApiClient, path: string, annotation: string, publicKey: string | null, hint: (e: unknown) => never): Promise<WriteNodeWireguardKeyResult> {
  const current = await client.request<{ metadata?: { annotations?: Record<string, string>; resourceVersion?: string } }>('GET', path).catch(hint);
  const had = current.metadata?.annotations?.[annotation];
  if ((had ?? null) === publicKey) return { changed: false, resourceVersion: current.metadata?.resourceVersion ?? '' };
  const patched = await client
    .request<{ metadata?: { resourceVersion?: string } }>('PATCH', `${path}/status`, {
      body: { metadata: { annotations: { [annotation]: publicKey } } },
      contentType: 'application/merge-patch+json',
    })
    .catch(hint);
  return { changed: true, resourceVersion: patched.metadata?.resourceVersion ?? '' };
}
