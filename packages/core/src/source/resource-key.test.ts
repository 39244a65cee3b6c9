import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatResourceKey } from './resource-key.js';

describe('formatResourceKey', () => {
  it('names a resource by group, kind, namespace and name', () => {
    expect(formatResourceKey({ apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', namespace: 'ns1', name: 'w1' })).toBe('projectcalico.org/WorkloadEndpoint ns1/w1');
    expect(formatResourceKey({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-0' })).toBe('core/Pod shop/web-0');
    expect(formatResourceKey({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', name: 'p1' })).toBe('projectcalico.org/GlobalNetworkPolicy p1');
  });

  it('is a flat string (sources and the agent keep one per resource as a map key; a rope would stay beside it)', () => {
    // V8's own view of the string's representation, through %DebugPrint in a child process.
    const source = fileURLToPath(new URL('./resource-key.ts', import.meta.url));
    const script = `import { formatResourceKey } from ${JSON.stringify(source)};
const id = formatResourceKey({ apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', namespace: 'ns' + process.pid, name: 'w-' + process.pid });
new Map().set(id, 1);
%DebugPrint(id);`;
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const types = [...r.stdout.matchAll(/^ - type: (\S+)/gm)].map((m) => m[1]);
    expect(types).toEqual(['ONE_BYTE_STRING_TYPE']);
  });
});
