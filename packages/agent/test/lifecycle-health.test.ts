import { describe, expect, it } from 'vitest';
import { HealthAggregator, Lifecycle } from '@gingham/agent';

describe('lifecycle', () => {
  it('starts parts in order and stops them in reverse', async () => {
    const seen: string[] = [];
    const l = new Lifecycle();
    for (const name of ['a', 'b', 'c']) l.append({ name, start: () => void seen.push(`start ${name}`), stop: () => void seen.push(`stop ${name}`) });
    await l.start();
    await l.stop();
    await l.stop();
    expect(seen).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('a part that cannot start stops the ones started before it and is named', async () => {
    const seen: string[] = [];
    const l = new Lifecycle();
    l.append({ name: 'lock', start: () => void seen.push('start lock'), stop: () => void seen.push('stop lock') });
    l.append({ name: 'dataplane', start: () => Promise.reject(new Error('no iptables')), stop: () => void seen.push('stop dataplane') });
    l.append({ name: 'source', start: () => void seen.push('start source') });
    await expect(l.start()).rejects.toMatchObject({ code: 'AGENT_START_FAILED', message: 'gingham: dataplane could not start: no iptables' });
    expect(seen).toEqual(['start lock', 'stop lock']);
  });
});

describe('health aggregator', () => {
  it('is ready when every reporter is, and a reporter that stops reporting goes stale', () => {
    let now = 0;
    const h = new HealthAggregator(() => now);
    const a = h.register('datastore', { readinessTimeoutMs: 1000, livenessTimeoutMs: 5000 });
    const b = h.register('dataplane', { livenessTimeoutMs: 5000 });
    expect(h.summary()).toMatchObject({ ready: false, live: true });
    a.report({ ready: true, live: true });
    b.report({ ready: false, live: true, detail: 'waiting for the first complete sync to be applied' });
    expect(h.summary().ready).toBe(false);
    b.report({ ready: true, live: true });
    expect(h.summary()).toMatchObject({ ready: true, live: true });
    now = 2000;
    expect(h.summary()).toMatchObject({ ready: false, live: true });
    expect(h.summary().reporters[0]).toMatchObject({ name: 'datastore', ready: false, detail: 'no report for 2 s' });
    now = 6000;
    expect(h.summary()).toMatchObject({ ready: false, live: false });
  });
});
