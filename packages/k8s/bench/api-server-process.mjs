// The test API server for `npm run bench:sources`, in its own process (as a real API server
// is): it holds a synthetic cluster shaped like real API objects, then takes commands on stdin
// (one JSON object a line) and answers on stdout. Uses the BUILT packages. Benchmark code only.
import { createInterface } from 'node:readline';
import { generateCluster } from '@gingham/testkit';
import { calicoCrdObject, createTestApiServer } from '@gingham/k8s/testing';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = await createTestApiServer({ bookmarkIntervalMs: 60_000 });
const cluster = generateCluster({ seed: 7, namespaces: options.namespaces, endpoints: options.pods, nodes: options.nodes, policies: options.policies, localNode: 'node-0', localEndpoints: 50 });

// What the API server really returns carries much more than the Engine reads: managedFields,
// owner references, annotations, container specs, status conditions.
const time = '2026-01-01T00:00:00Z';
function apiPod(p, i) {
  const containers = (p.spec.containers ?? []).map((c, j) => ({
    ...c,
    name: c.name ?? `c${j}`,
    image: `registry.example.com/team/app-${i % 50}:1.${i % 7}.${j}`,
    imagePullPolicy: 'IfNotPresent',
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
    terminationMessagePath: '/dev/termination-log',
  }));
  return {
    ...p,
    metadata: {
      ...p.metadata,
      generateName: `${p.metadata.name.replace(/-\d+$/, '')}-`,
      labels: { ...p.metadata.labels, 'pod-template-hash': `h${i % 997}` },
      annotations: { 'kubectl.kubernetes.io/restartedAt': time, 'cni.projectcalico.org/podIP': `${p.status.podIP}/32` },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${i % 997}`, uid: '4b7f0c2e-0000-4000-8000-000000000000', controller: true, blockOwnerDeletion: true }],
      managedFields: [
        { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:generateName': {}, 'f:labels': {}, 'f:ownerReferences': {} }, 'f:spec': { 'f:containers': {} } } },
        { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time, fieldsType: 'FieldsV1', subresource: 'status', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:podIP': {}, 'f:podIPs': {} } } },
      ],
    },
    spec: {
      ...p.spec,
      containers,
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      terminationGracePeriodSeconds: 30,
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
    },
    status: {
      phase: 'Running',
      podIP: p.status.podIP,
      podIPs: [{ ip: p.status.podIP }],
      hostIP: '172.16.0.1',
      startTime: time,
      qosClass: 'Burstable',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: time })),
      containerStatuses: containers.map((c) => ({ name: c.name, ready: true, restartCount: 0, image: c.image, imageID: `${c.image}@sha256:${'0'.repeat(64)}`, containerID: `containerd://${'1'.repeat(64)}`, started: true, state: { running: { startedAt: time } } })),
    },
  };
}

const counts = { pods: 0, namespaces: 0, networkPolicies: 0, calico: 0, nodes: 0 };
for (const r of cluster.resources) {
  if (r.apiVersion === 'projectcalico.org/v3') {
    server.put(calicoCrdObject(r));
    counts.calico++;
  } else if (r.kind === 'Pod') server.put(apiPod(r, counts.pods++));
  else {
    server.put(r);
    if (r.kind === 'Namespace') counts.namespaces++;
    if (r.kind === 'NetworkPolicy') counts.networkPolicies++;
    if (r.kind === 'Node') counts.nodes++;
  }
}
// The label-change probe: a pod on node-0 selected by a policy whose peer set holds `bench/peer`
// while its label says so.
server.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
server.put(apiPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'target', namespace: 'bench', labels: { bench: 'target' } }, spec: { nodeName: 'node-0', containers: [{ name: 'c' }] }, status: { podIP: '10.250.0.1' } }, 0));
const peer = (on) => apiPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'peer', namespace: 'bench', labels: { bench: 'peer', allowed: on ? 'yes' : 'no' } }, spec: { nodeName: 'node-1', containers: [{ name: 'c' }] }, status: { podIP: '10.250.0.2' } }, 1);
server.put(peer(false));
server.put(calicoCrdObject({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'bench-probe' }, spec: { selector: "bench == 'target'", ingress: [{ action: 'Allow', source: { selector: "allowed == 'yes'" } }] } }));

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
say({ ready: true, kubeconfig: await server.kubeconfig(), counts });
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  if (cmd.op === 'label') {
    server.put(peer(cmd.on));
    say({ done: cmd.i });
  } else if (cmd.op === 'exit') break;
}
await server.close();
process.exit(0);
