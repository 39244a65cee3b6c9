// Saved API bodies in, problems out at file:line:col with the field named.
import { describe, expect, it } from 'vitest';
import { convertNeutron } from './convert.js';
import { formatLocatedProblem, readBodies } from './read-bodies.js';

const SG = '1b7e5c1e-54d2-4e41-a3a4-7c1c3d1a5a01';
const sgs = JSON.stringify({ security_groups: [{ id: SG, name: 'default', security_group_rules: [] }] }, null, 2);
const PORT_A = '6f2d0a0e-3b7e-4d55-9a53-2b9b1b6f0a11';
const PORT_B = '0d1c4e55-8a2b-47a4-9c7e-5f6a2b3c4d22';
const port = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  device_id: 'c0ffee00-0000-4000-8000-000000000001',
  device_owner: 'compute:nova',
  'binding:host_id': 'compute-1',
  'binding:vif_type': 'ovs',
  mac_address: 'fa:16:3e:00:00:01',
  network_id: 'net-1',
  fixed_ips: [{ subnet_id: 'sub-1', ip_address: '10.0.0.5' }],
  security_groups: [SG],
  ...over,
});

describe('readBodies', () => {
  it('reads {"ports": […]} and {"security_groups": […]} bodies into converter inputs', () => {
    const r = readBodies([
      { collection: 'ports', file: 'ports.json', text: JSON.stringify({ ports: [port(PORT_A)] }) },
      { collection: 'securityGroups', file: 'sgs.json', text: sgs },
    ]);
    expect(r.problems).toEqual([]);
    expect(r.inputs.ports).toHaveLength(1);
    expect(convertNeutron(r.inputs).resources).toHaveLength(2);
  });

  it('joins paginated saves and accepts a single-object body', () => {
    const r = readBodies([
      { collection: 'ports', file: 'p1.json', text: JSON.stringify({ ports: [port(PORT_A)] }) },
      { collection: 'ports', file: 'p2.json', text: JSON.stringify({ port: port(PORT_B) }) },
      { collection: 'securityGroups', file: 'sgs.json', text: sgs },
    ]);
    expect(r.inputs.ports.map((p) => p.id)).toEqual([PORT_A, PORT_B]);
  });

  it('places a JSON syntax error at its line and column', () => {
    const r = readBodies([{ collection: 'ports', file: 'ports.json', text: '{\n  "ports": [\n    {"id": "x",}\n  ]\n}\n' }]);
    expect(r.problems).toHaveLength(1);
    expect(formatLocatedProblem(r.problems[0]!)).toMatch(/^ports\.json:3:16: body: not valid JSON: /);
  });

  it('says which body it expected when the shape is wrong', () => {
    const r = readBodies([{ collection: 'securityGroups', file: 'sgs.json', text: '[{"id": "x"}]' }]);
    expect(formatLocatedProblem(r.problems[0]!)).toBe('sgs.json:1:1: body: expected the API body {"security_groups": […]} (as GET /v2.0/security-groups returns it)');
  });

  it('places conversion problems on the object and field in the file they came from', () => {
    const text = JSON.stringify({ ports: [port(PORT_A), port(PORT_B, { fixed_ips: [{ subnet_id: 'sub-1' }] })] }, null, 2);
    const r = readBodies([
      { collection: 'ports', file: 'ports.json', text: JSON.stringify({ ports: [port('aa00')] }) },
      { collection: 'ports', file: 'more-ports.json', text },
      { collection: 'securityGroups', file: 'sgs.json', text: sgs },
    ]);
    const located = r.locate(convertNeutron(r.inputs).problems).map(formatLocatedProblem);
    // The object that lacks the field: port B's first fixed IP, whose `{` is the line before its subnet_id.
    const lines = text.split('\n');
    const subnetLines = lines.flatMap((l, i) => (l.includes('"subnet_id": "sub-1"') ? [i + 1] : []));
    const line = subnetLines[1]! - 1;
    expect(lines[line - 1]!.trim()).toBe('{');
    expect(located).toEqual([`more-ports.json:${line}:9: port ${PORT_B} ports[1].fixed_ips[0].ip_address: missing field ip_address`]);
  });
});
