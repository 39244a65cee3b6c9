import { createLocalRunner, type CommandRunner, type InteractiveProcess, type SessionOptions } from '@gingham/host';
import { describe, expect, it } from 'vitest';
import { IpBatchStderrParser, IpSession, SENTINEL_DEVICE } from './ipsession.js';

describe('ip -batch stderr parser', () => {
  it('attributes messages to the line named by "Command failed"', () => {
    const p = new IpBatchStderrParser();
    expect(p.feed('RTNETLINK answers: No such process\nCommand failed -:2\n')).toEqual([{ line: 2, message: 'RTNETLINK answers: No such process' }]);
    expect(p.feed('Device "ghwg.sentinel" does not exist.\nComm')).toEqual([]);
    expect(p.feed('and failed -:3\nError: any valid prefix is expected rather than "x".\nCommand failed -:7\n')).toEqual([
      { line: 3, message: 'Device "ghwg.sentinel" does not exist.' },
      { line: 7, message: 'Error: any valid prefix is expected rather than "x".' },
    ]);
  });
});

/** A scripted `ip -force -batch -`: fails the lines matching `failing`, exits on `exitOn`. */
function fakeIp(failing: RegExp = /^$/, exitOn?: RegExp): InteractiveProcess & { input: string[]; closed: boolean } {
  let listener: ((s: 'stdout' | 'stderr', t: string) => void) | undefined;
  let line = 0;
  let done = false;
  let exit: (v: { code: number | null; signal: NodeJS.Signals | null }) => void = () => undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => (exit = (v) => ((done = true), r(v))));
  const proc = {
    pid: 4242,
    input: [] as string[],
    closed: false,
    exited,
    alive: () => !done,
    onOutput: (l: (s: 'stdout' | 'stderr', t: string) => void) => void (listener = l),
    write: (text: string) => {
      for (const l of text.split('\n').filter((x) => x !== '')) {
        line++;
        proc.input.push(l);
        if (exitOn?.test(l)) {
          setTimeout(() => exit({ code: 255, signal: null }), 1);
          return;
        }
        if (l.includes(SENTINEL_DEVICE)) setTimeout(() => listener?.('stderr', `Device "${SENTINEL_DEVICE}" does not exist.\nCommand failed -:${line}\n`), 1);
        else if (failing.test(l)) {
          const n = line;
          setTimeout(() => listener?.('stderr', `RTNETLINK answers: No such process\nCommand failed -:${n}\n`), 1);
        }
      }
    },
    close: async () => {
      proc.closed = true;
      exit({ code: null, signal: 'SIGTERM' });
    },
  };
  return proc;
}

/** Opens a session on the scripted `ip` (through a runner, as the handle does). */
async function session(ip: InteractiveProcess, options?: SessionOptions): Promise<IpSession> {
  const runner: CommandRunner = { ...createLocalRunner(), open: async () => ip };
  return (await IpSession.open(runner, options))!;
}

describe('ip session', () => {
  it('ends each batch with the sentinel and resolves when it comes back', async () => {
    const ip = fakeIp();
    const s = await session(ip);
    await s.batch(['route replace 10.0.0.0/24 dev wg0 table 1']);
    await s.batch(['route del 10.0.1.0/24 dev wg0 table 1', 'route replace 10.0.2.0/24 dev wg0 table 1']);
    expect(ip.input).toEqual([
      'route replace 10.0.0.0/24 dev wg0 table 1',
      `link show dev ${SENTINEL_DEVICE}`,
      'route del 10.0.1.0/24 dev wg0 table 1',
      'route replace 10.0.2.0/24 dev wg0 table 1',
      `link show dev ${SENTINEL_DEVICE}`,
    ]);
    expect(s.batches).toBe(2);
    await s.close();
    expect(ip.closed).toBe(true);
    expect(s.alive).toBe(false);
  });

  it('rejects a batch with the failing lines (numbered within the batch) and stays usable', async () => {
    const ip = fakeIp(/^route del/);
    const s = await session(ip);
    await s.batch(['route replace 10.0.0.0/24 dev wg0 table 1']);
    await expect(s.batch(['route replace 10.0.3.0/24 dev wg0 table 1', 'route del 10.0.9.0/24 dev wg0 table 1'])).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      stderr: 'line 2: RTNETLINK answers: No such process',
    });
    expect(s.alive).toBe(true);
    await s.batch(['route replace 10.0.4.0/24 dev wg0 table 1']);
    await s.close();
  });

  it('rejects the pending batch when ip exits, and refuses further batches', async () => {
    const s = await session(fakeIp(undefined, /bogus/));
    await expect(s.batch(['route bogus'])).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: expect.stringContaining('ip -batch session exited (code 255)') });
    expect(s.alive).toBe(false);
    await expect(s.batch(['route replace 10.0.0.0/24 dev wg0 table 1'])).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
  });

  it('gives up after the timeout and closes the session', async () => {
    const ip = fakeIp();
    ip.write = () => undefined; // never answers
    const s = await session(ip, { timeoutMs: 50 });
    await expect(s.batch(['route replace 10.0.0.0/24 dev wg0 table 1'])).rejects.toMatchObject({ message: expect.stringContaining('did not answer within 50 ms') });
    expect(ip.closed).toBe(true);
    expect(s.alive).toBe(false);
  });

  it('refuses lines that would break the numbering', async () => {
    const s = await session(fakeIp());
    expect(() => s.batch(['route replace 10.0.0.0/24 dev wg0\nroute flush'])).toThrow(expect.objectContaining({ code: 'WG_INVALID_ARGUMENT' }));
    await s.close();
  });
});
