import { describe, expect, it } from 'vitest';
import type { Labels } from '../model/types.js';
import { parseSelector } from '../selector/index.js';
import { type EntityAddresses, IpSetMemberCalculator } from './ipset-member-calculator.js';

const TCP = 6;

function calculator() {
  const shapes = new Map<string, { labels: Labels; members: EntityAddresses[] }>();
  const calc = new IpSetMemberCalculator((id) => shapes.get(id)?.members ?? []);
  const add = (shapeId: string, labels: Labels, e: EntityAddresses): void => {
    const s = shapes.get(shapeId);
    if (s) {
      s.members.push(e);
      calc.restore(e, shapeId);
    } else {
      shapes.set(shapeId, { labels, members: [e] });
      calc.index.upsertItem(shapeId, labels);
    }
  };
  const remove = (shapeId: string, e: EntityAddresses): void => {
    const s = shapes.get(shapeId)!;
    calc.withdraw(e, shapeId);
    s.members.splice(s.members.indexOf(e), 1);
    if (s.members.length === 0) {
      shapes.delete(shapeId);
      calc.index.deleteItem(shapeId);
    }
  };
  return { calc, add, remove };
}

const web = { labels: { app: 'web' } };
const port = (name: string, p: number) => ({ name, protocol: TCP, port: p });

describe('IpSetMemberCalculator', () => {
  it('fills a named-port set with `<cidr>,tcp:<port>` for every matching port number of every member', () => {
    const { calc, add } = calculator();
    const all = parseSelector('all()');
    add('#0', web.labels, { addrs: '10.0.0.1/32', ports: [port('http', 80), port('metrics', 9090)] });
    add('#0', web.labels, { addrs: ['10.0.0.2/32', 'fd00::2/128'], ports: [port('http', 8080)] });
    add('#1', { app: 'db' }, { addrs: '10.0.0.3/32', ports: [] });
    calc.addRef('np', { kind: 'named-port', selectorId: all.uniqueId, selector: all, protocol: TCP, port: 'http' });
    calc.addRef('sel', { kind: 'selector', selectorId: all.uniqueId, selector: all });
    expect(calc.flush().updates).toEqual([
      { kind: 'ipset-replace', id: 'np', type: 'net-port-proto', members: ['10.0.0.1/32,tcp:80', '10.0.0.2/32,tcp:8080', 'fd00::2/128,tcp:8080'] },
      { kind: 'ipset-replace', id: 'sel', type: 'nets', members: ['10.0.0.1/32', '10.0.0.2/32', '10.0.0.3/32', 'fd00::2/128'] },
    ]);
  });

  it('a member shared by two entities leaves the set only with the last of them', () => {
    const { calc, add, remove } = calculator();
    const sel = parseSelector("app == 'web'");
    const a = { addrs: '10.0.0.1/32', ports: [port('http', 80)] };
    const b = { addrs: '10.0.0.1/32', ports: [port('http', 80)] };
    add('#0', web.labels, a);
    calc.addRef('np', { kind: 'named-port', selectorId: sel.uniqueId, selector: sel, protocol: TCP, port: 'http' });
    calc.flush();
    add('#0', web.labels, b);
    add('#0', web.labels, { addrs: '10.0.0.4/32', ports: [port('http', 81)] });
    expect(calc.flush().updates).toEqual([{ kind: 'ipset-add-members', id: 'np', members: ['10.0.0.4/32,tcp:81'] }]);
    remove('#0', a);
    expect(calc.flush().updates).toEqual([]);
    remove('#0', b);
    expect(calc.flush().updates).toEqual([{ kind: 'ipset-remove-members', id: 'np', members: ['10.0.0.1/32,tcp:80'] }]);
    calc.removeRef('np');
    expect(calc.flush()).toEqual({ updates: [], deletes: [{ kind: 'ipset-delete', id: 'np' }] });
  });

  it('a member that leaves and comes back between flushes sends nothing', () => {
    const { calc, add, remove } = calculator();
    const all = parseSelector('all()');
    const a = { addrs: '10.0.0.1/32', ports: [port('http', 80)] };
    add('#0', web.labels, a);
    calc.addRef('np', { kind: 'named-port', selectorId: all.uniqueId, selector: all, protocol: TCP, port: 'http' });
    calc.flush();
    remove('#0', a);
    add('#1', { app: 'other' }, { addrs: '10.0.0.1/32', ports: [port('http', 80)] });
    expect(calc.flush().updates).toEqual([]);
  });
});
