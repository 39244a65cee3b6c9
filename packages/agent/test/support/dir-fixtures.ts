/** Helpers of the agent's directory-datastore unit tests: a free loopback port, a workload endpoint manifest, an atomic file write. */
import { rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

/** A WorkloadEndpoint of node-1 in namespace shop, at 10.0.0.IP. */
export const wep = (name: string, app: string, ip: number) => `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: ${name}, namespace: shop, labels: {app: ${app}}}
spec: {node: node-1, orchestrator: k8s, workload: ${name}, endpoint: eth0, interfaceName: cali${name}, ipNetworks: [10.0.0.${ip}/32]}
`;

/** Writes a file the way an operator's tool should: a temporary name, then a rename. */
export async function put(dir: string, name: string, text: string): Promise<void> {
  await writeFile(join(dir, `.${name}.tmp`), text);
  await rename(join(dir, `.${name}.tmp`), join(dir, name));
}
