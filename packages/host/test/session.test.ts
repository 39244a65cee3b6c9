/**
 * The persistent-session helper against a real child (a Node script standing in for an
 * interactive tool: it writes `ERR LINE` on stderr for lines starting with `bad`, answers
 * `mark X` with `done X` on stderr too (one pipe keeps the order; stdout and stderr do not), and
 * can die or hang on request). Pins what every caller
 * relies on: batches are serialised and end at their sentinel, a dead or silent child makes
 * batches answer undefined (the fallback signal) and says why, a refused frame leaves the session
 * usable, and close() asks the child to quit before stopping it by PID.
 */
import { describe, expect, it } from 'vitest';
import { createLocalRunner, openSession, type CommandRunner, type SessionProtocol } from '../src/index.js';

const CHILD = `
const rl = require('node:readline').createInterface({ input: process.stdin });
let hung = false;
rl.on('line', (l) => {
  if (l === 'quit') process.exit(0);
  if (l === 'hang') hung = true;
  if (hung) return;
  if (l === 'die') process.exit(3);
  if (l.startsWith('mark ')) process.stderr.write('done ' + l.slice(5) + '\\n');
  else if (l.startsWith('bad')) process.stderr.write('ERR ' + l + '\\n');
});`;

const local = createLocalRunner();
const runner = (seen: string[][] = []): CommandRunner => ({
  ...local,
  open: (argv) => {
    seen.push([...argv]);
    return local.open([process.execPath, '-e', CHILD]);
  },
});

/** Result: the `ERR` lines of the batch. The sentinel is `mark N`; `done N` on stderr ends the batch. */
function protocol(options: { quit?: string } = {}): SessionProtocol<string[]> & { framed: string[] } {
  let seq = 0;
  let errors: string[] = [];
  let out = '';
  const framed: string[] = [];
  return {
    framed,
    frame(lines) {
      if (lines.some((l) => l.includes('\n'))) throw new Error('one command per line');
      const text = `${[...lines, `mark ${++seq}`].join('\n')}\n`;
      framed.push(text);
      return text;
    },
    receive(stream, text) {
      if (stream !== 'stderr') return undefined;
      out += text;
      let done = false;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line === `done ${seq}`) done = true;
        else if (line.startsWith('ERR ')) errors.push(line);
      }
      if (!done) return undefined;
      const result = errors;
      errors = [];
      return { result };
    },
    ...(options.quit !== undefined ? { quit: options.quit } : {}),
  };
}

const gone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

describe('persistent session', () => {
  it('runs batches one at a time to their sentinel and hands each its own result', async () => {
    const seen: string[][] = [];
    const p = protocol({ quit: 'quit\n' });
    const s = (await openSession(runner(seen), ['tool', '-'], p))!;
    expect(seen).toEqual([['tool', '-']]);
    expect(await s.run(['a', 'b'])).toEqual([]);
    const [x, y, z] = await Promise.all([s.run(['bad one', 'c']), s.run(['d']), s.run(['bad two', 'bad three'])]);
    expect([x, y, z]).toEqual([['ERR bad one'], [], ['ERR bad two', 'ERR bad three']]);
    expect(p.framed).toEqual(['a\nb\nmark 1\n', 'bad one\nc\nmark 2\n', 'd\nmark 3\n', 'bad two\nbad three\nmark 4\n']);
    expect(s.batches).toBe(4);
    expect(s.alive()).toBe(true);
    expect(s.ended()).toBeUndefined();
    await s.close();
    expect(s.alive()).toBe(false);
    expect(s.ended()).toBe('closed');
    expect(gone(s.pid)).toBe(true);
  });

  it('answers undefined once the child exits, and says why', async () => {
    const s = (await openSession(runner(), ['tool'], protocol()))!;
    expect(await s.run(['die'])).toBeUndefined();
    expect(s.alive()).toBe(false);
    expect(s.ended()).toBe('exited (code 3)');
    expect(await s.run(['a'])).toBeUndefined();
    expect(s.batches).toBe(1);
    await s.close();
  });

  it('ends the session when a sentinel does not come back in time, and stops the child by PID', async () => {
    const s = (await openSession(runner(), ['tool'], protocol(), { timeoutMs: 200 }))!;
    expect(await s.run(['hang'])).toBeUndefined();
    expect(s.ended()).toBe('did not answer within 200 ms');
    await s.close();
    expect(gone(s.pid)).toBe(true);
  });

  it('a frame the protocol refuses rejects that batch only', async () => {
    const s = (await openSession(runner(), ['tool'], protocol()))!;
    await expect(s.run(['two\nlines'])).rejects.toThrow('one command per line');
    expect(await s.run(['bad x'])).toEqual(['ERR bad x']);
    await s.close();
  });

  it('close() stops a child that ignores quit (and one without a quit text) by PID', async () => {
    const stubborn: CommandRunner = { ...local, open: () => local.open([process.execPath, '-e', CHILD.replace("if (l === 'quit') process.exit(0);", '')]) };
    const s = (await openSession(stubborn, ['tool'], protocol({ quit: 'quit\n' }), { quitGraceMs: 100 }))!;
    expect(await s.run(['a'])).toEqual([]);
    await s.close();
    expect(gone(s.pid)).toBe(true);
    const t = (await openSession(runner(), ['tool'], protocol()))!;
    await t.close();
    expect(gone(t.pid)).toBe(true);
  });

  it('is not available when the child cannot be started', async () => {
    expect(await openSession({ ...local, open: () => local.open(['/nonexistent/tool']) }, ['tool'], protocol())).toBeUndefined();
  });
});
