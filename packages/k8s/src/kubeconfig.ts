/**
 * Loading credentials as kubectl does, through `@kubernetes/client-node`'s `KubeConfig`: an
 * explicit file, else `$KUBECONFIG`, `~/.kube/config`, or the pod's service account when running
 * in a cluster. Unlike the client's `loadFromDefault`, finding nothing is an error
 * (`K8S_CONFIG`), not a silent fallback to `http://localhost:8080`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesError } from './errors.js';

export interface LoadKubeConfigOptions {
  /** A kubeconfig file; default: `$KUBECONFIG`, `~/.kube/config`, then in-cluster. */
  readonly kubeconfig?: string;
  /** A context other than the file's current-context. */
  readonly context?: string;
  /** Environment to read `KUBECONFIG` and `KUBERNETES_SERVICE_HOST` from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  const file = options.kubeconfig;
  try {
    if (file !== undefined) {
      if (!existsSync(file)) throw new KubernetesError('K8S_CONFIG', `kubeconfig ${file} does not exist`);
      kc.loadFromFile(file);
    } else if (env['KUBECONFIG']) {
      kc.loadFromDefault();
    } else if (existsSync(join(homedir(), '.kube', 'config'))) {
      kc.loadFromFile(join(homedir(), '.kube', 'config'));
    } else if (env['KUBERNETES_SERVICE_HOST'] && existsSync(SERVICE_ACCOUNT_TOKEN)) {
      kc.loadFromCluster();
    } else {
      throw new KubernetesError('K8S_CONFIG', 'no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod with a service account');
    }
  } catch (cause) {
    if (cause instanceof KubernetesError) throw cause;
    throw new KubernetesError('K8S_CONFIG', `cannot read kubeconfig${file ? ` ${file}` : ''}: ${(cause as Error).message}`, { cause });
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      throw new KubernetesError('K8S_CONFIG', `kubeconfig has no context "${options.context}" (contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) throw new KubernetesError('K8S_CONFIG', `kubeconfig${file ? ` ${file}` : ''} has no current cluster (set current-context)`);
  return kc;
}
