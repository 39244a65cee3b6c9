/**
 * The agent's one datastore connection, by kind: the `Source` it watches, the writer that
 * publishes this node's WireGuard key where peers read it, and how to close both. etcd and the
 * directory go through `@gingham/datastore` (the key in `status.wireguardPublicKey` of the
 * node's `projectcalico.org/v3` Node, compare-and-swap); Kubernetes through `@gingham/k8s`
 * (`writeNodeWireguardKey`: the Node annotation Calico uses); OpenStack (Keystone from the
 * `OS_*` environment, agent mode for this host) has no Node resources and so no key writer.
 * The Kubernetes source is an optional dependency, imported only when chosen.
 */
import { GinghamError, type Resource, type Source } from '@gingham/core';
import { createDirDatastore, createEtcdDatastore, isDatastoreError, resolveEtcdConfig, type Datastore } from '@gingham/datastore';
import type { AgentConfig } from './config.js';
import type { KeyPublisher } from './wireguard-manager.js';

export interface SourceLogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly code?: string;
  readonly message: string;
  readonly where?: string;
}

export interface DatastoreConnection {
  /** `etcd http://…`, `directory /etc/…`, `kubernetes`, `openstack`. */
  readonly description: string;
  readonly source: Source;
  /** Publishes the WireGuard public key (undefined: the datastore has no Node resources). */
  readonly publishKey?: KeyPublisher;
  close(): Promise<void>;
}

/** get → update with compare-and-swap (retried on a conflict), or create when the Node is missing. */
export function datastoreKeyPublisher(ds: Datastore, node: string): KeyPublisher {
  return async (publicKey) => {
    const key = { apiVersion: 'projectcalico.org/v3', kind: 'Node', name: node };
    for (let attempt = 0; ; attempt++) {
      const stored = await ds.get(key);
      try {
        if (!stored) {
          const created: Resource = { apiVersion: key.apiVersion, kind: 'Node', metadata: { name: node }, spec: {}, status: { wireguardPublicKey: publicKey } };
          await ds.create(created);
          return 'created (the Node had no resource yet: give it spec.bgp.ipv4Address or spec.addresses so peers can reach it)';
        }
        const status = (stored.status ?? {}) as Record<string, unknown>;
        if (status['wireguardPublicKey'] === publicKey) return 'already published';
        await ds.update({ ...stored, status: { ...status, wireguardPublicKey: publicKey } } as Resource);
        return 'published';
      } catch (err) {
        if (attempt < 5 && isDatastoreError(err) && (err.code === 'DS_CONFLICT' || err.code === 'DS_ALREADY_EXISTS' || err.code === 'DS_NOT_FOUND')) continue;
        throw err;
      }
    }
  };
}

async function importK8s(): Promise<typeof import('@gingham/k8s')> {
  try {
    return await import('@gingham/k8s');
  } catch (cause) {
    if ((cause as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw cause;
    throw new GinghamError('K8S_SOURCE_MISSING', 'the Kubernetes source is not installed (@gingham/k8s is optional): npm install @gingham/k8s', { cause });
  }
}

/** Opens the configured datastore (nothing is read until the source starts). */
export async function openDatastoreConnection(config: AgentConfig, env: Readonly<Record<string, string | undefined>>, log: (e: SourceLogEntry) => void): Promise<DatastoreConnection> {
  if (config.datastore === 'dir' || config.datastore === 'etcd') {
    let ds: Datastore;
    if (config.datastore === 'dir') {
      ds = createDirDatastore({ dir: config.dir });
    } else {
      const etcd = await resolveEtcdConfig({
        flags: {
          ...(config.etcdEndpoints !== undefined ? { endpoints: config.etcdEndpoints } : {}),
          ...(config.etcdCaCertFile !== undefined ? { caCertFile: config.etcdCaCertFile } : {}),
          ...(config.etcdCertFile !== undefined ? { certFile: config.etcdCertFile } : {}),
          ...(config.etcdKeyFile !== undefined ? { keyFile: config.etcdKeyFile } : {}),
          ...(config.etcdUsername !== undefined ? { username: config.etcdUsername } : {}),
          ...(config.etcdPassword !== undefined ? { password: config.etcdPassword } : {}),
        },
        // The agent's own precedence already read the environment (flags > env > file).
        env: {},
      });
      ds = createEtcdDatastore({ config: etcd });
    }
    const source = ds.source({ log: (e) => log(e) });
    return {
      description: ds.type === 'etcd' ? `etcd ${ds.description}` : `directory ${ds.description}`,
      source,
      publishKey: datastoreKeyPublisher(ds, config.node),
      close: async () => {
        await source.close();
        await ds.close();
      },
    };
  }
  if (config.datastore === 'kubernetes') {
    const k8s = await importK8s();
    const kubeConfig = k8s.loadKubeConfig(config.kubeconfig !== undefined ? { kubeconfig: config.kubeconfig } : {});
    const source = k8s.createKubernetesSource({ kubeConfig, log: (e) => log({ level: e.level, message: e.message, ...(e.code ? { code: e.code } : {}), ...(e.resource ? { where: e.resource } : {}) }) });
    return {
      description: `kubernetes ${kubeConfig.getCurrentCluster()?.server ?? ''}`.trim(),
      source,
      publishKey: async (publicKey) => ((await k8s.writeNodeWireguardKey({ kubeConfig, node: config.node, publicKey })).changed ? 'published' : 'already published'),
      close: () => source.close(),
    };
  }
  const { createOpenStackSource, keystoneOptionsFromEnv } = await import('@gingham/openstack');
  const source = createOpenStackSource({
    keystone: keystoneOptionsFromEnv(env),
    host: config.node,
    ...(config.openstackRegion !== undefined ? { region: config.openstackRegion } : {}),
  });
  return { description: `openstack ${env['OS_AUTH_URL'] ?? ''}`.trim(), source, close: () => source.close() };
}
