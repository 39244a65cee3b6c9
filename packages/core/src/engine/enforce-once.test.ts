import { describe, expect, it } from 'vitest';
import { RecordingDataplane } from '../dataplane/recording-dataplane.js';
import { createMemoryFs } from '../load/memory-fs.js';
import { enforceOnce } from './enforce-once.js';

const files: Record<string, string> = {
  'ok.yaml': `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.65.0.10}
`,
  'bad.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: Bad_Name}
spec: {selector: "app == 'web'"}
`,
};

const fs = createMemoryFs({ ...files, '/dev/zero': { type: 'char-device' } });

async function run(paths: string[], node = 'node-1') {
  const dataplane = new RecordingDataplane();
  const lines: string[] = [];
  const stats = await enforceOnce({ paths, node, dataplane, fs, report: (l) => lines.push(l), command: 'gingham enforce' });
  return { stats, lines, batches: dataplane.batches.length };
}

describe('enforceOnce', () => {
  it('feeds the node\'s Engine and flushes it into the dataplane', async () => {
    const r = await run(['ok.yaml']);
    expect(r.stats?.localEndpoints).toBe(1);
    expect(r.lines).toEqual([]);
    expect(r.batches).toBeGreaterThan(0);
  });

  it('warns when the node has no endpoints', async () => {
    const r = await run(['ok.yaml'], 'node-9');
    expect(r.stats?.localEndpoints).toBe(0);
    expect(r.lines).toEqual(['gingham enforce: warning: node "node-9" has no endpoints in these manifests']);
  });

  it('changes nothing when a path is missing or a manifest has an error', async () => {
    const missing = await run(['ok.yaml', 'nope.yaml']);
    expect(missing).toEqual({ stats: undefined, lines: ['gingham enforce: no such file or directory: nope.yaml; nothing was changed'], batches: 0 });
    const bad = await run(['ok.yaml', 'bad.yaml']);
    expect(bad.stats).toBeUndefined();
    expect(bad.batches).toBe(0);
    expect(bad.lines.at(-1)).toBe('gingham enforce: the manifests have errors; nothing was changed');
    expect(bad.lines[0]).toMatch(/^bad\.yaml:3:\d+: GlobalNetworkPolicy\/Bad_Name metadata\.name: /);
  });

  it('changes nothing when a path is refused (a device is never read)', async () => {
    const r = await run(['ok.yaml', '/dev/zero']);
    expect(r).toEqual({
      stats: undefined,
      lines: ['gingham enforce: /dev/zero: is a character device; only regular files, directories and pipes are read; nothing was changed'],
      batches: 0,
    });
  });
});
