/**
 * The retry timing every long-running part shares: growth to the cap, the jittered share of
 * each window, reset after a success, jittered periods, and a sleep that an abort cuts short.
 */
import { describe, expect, it } from 'vitest';
import { createBackoff, jittered, sleep } from '../src/index.js';

describe('createBackoff', () => {
  it('grows by the factor up to the cap, with the jittered share on top of the fixed one, and resets', () => {
    const high = createBackoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5, random: () => 1 });
    expect([high.next(), high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(high.attempts).toBe(6);
    high.reset();
    expect(high.attempts).toBe(0);
    expect(high.next()).toBe(100);
    const low = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect([low.next(), low.next()]).toEqual([50, 100]);
    const fixed = createBackoff({ initialMs: 100, jitter: 0, random: () => 0.99 });
    expect([fixed.next(), fixed.next()]).toEqual([100, 200]);
  });

  it('defaults to 500 ms doubling to 30 s, never above the cap', () => {
    const b = createBackoff({ random: () => 1 });
    const delays = Array.from({ length: 12 }, () => b.next());
    expect(delays[0]).toBe(500);
    expect(Math.max(...delays)).toBe(30_000);
  });
});

describe('jittered', () => {
  it('scales within [1 - spread, 1 + spread]', () => {
    expect(jittered(1000, 0.1, () => 0)).toBe(900);
    expect(jittered(1000, 0.1, () => 1)).toBe(1100);
  });
});

describe('sleep', () => {
  it('resolves early when its signal aborts, and at once when it is already aborted', async () => {
    const stop = new AbortController();
    const t0 = performance.now();
    const slept = sleep(60_000, stop.signal);
    stop.abort();
    await slept;
    await sleep(60_000, stop.signal);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});
