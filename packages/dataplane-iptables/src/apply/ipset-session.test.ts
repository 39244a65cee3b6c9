/**
 * The persistent ipset session's protocol, against a stand-in for `ipset -exist -` (a Node
 * script that answers `help X` like ipset and rejects lines starting with `bad`): batches end at
 * the sentinel, errors are attributed to their batch, a dead or silent child makes `run` return
 * undefined, and close() stops the child.
 */
import { createLocalRunner, type CommandRunner } from '@gingham/host';
import { describe, expect, it } from 'vitest';
import { openIpsetSession } from './ipset-session.js';

const FAKE = `
const rl = require('node:readline').createInterface({ input: process.stdin });
let hung = false;
rl.on('line', (l) => {
  if (l === 'quit') process.exit(0);
  if (l === 'hang') hung = true;
  if (hung) return;
  if (l === 'die') process.exit(3);
  if (l.startsWith('help ')) process.stderr.write("ipset v7.17: Unknown settype: \`" + l.slice(5) + "'\\nTry \`ipset help' for more information.\\n");
  else if (l.startsWith('bad')) process.stderr.write('ipset v7.17: Syntax error: ' + l + '\\n');
  process.stdout.write('ipset> ');
});`;

const local = createLocalRunner();
const runner = (argvSeen: string[][]): CommandRunner => ({
  ...local,
  open: (argv) => {
    argvSeen.push([...argv]);
    return local.open([process.execPath, '-e', FAKE]);
  },
});

describe('ipset session', () => {
  it('runs batches to their sentinel and attributes errors to the right batch', async () => {
    const seen: string[][] = [];
    const s = (await openIpsetSession(runner(seen)))!;
    expect(seen).toEqual([['ipset', '-exist', '-']]);
    expect(await s.run(['add a 1', 'del a 2'])).toEqual({ stderr: '' });
    expect(await s.run(['add a 1', 'bad one', 'bad two'])).toEqual({ stderr: 'ipset v7.17: Syntax error: bad one\nipset v7.17: Syntax error: bad two' });
    const [x, y] = await Promise.all([s.run(['bad three']), s.run(['add a 3'])]);
    expect(x).toEqual({ stderr: 'ipset v7.17: Syntax error: bad three' });
    expect(y).toEqual({ stderr: '' });
    const pid = s.pid!;
    await s.close();
    expect(s.alive()).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('returns undefined when the child dies or stops answering, and close() kills it by PID', async () => {
    const s = (await openIpsetSession(runner([])))!;
    expect(await s.run(['die'])).toBeUndefined();
    expect(s.alive()).toBe(false);
    expect(await s.run(['add a 1'])).toBeUndefined();
    await s.close();

    const t = (await openIpsetSession(runner([]), 200))!;
    expect(await t.run(['hang'])).toBeUndefined();
    await t.close();
    expect(() => process.kill(t.pid!, 0)).toThrow();
  });

  it('is not available when the child cannot be started', async () => {
    expect(await openIpsetSession({ ...local, open: () => local.open(['/nonexistent/ipset']) })).toBeUndefined();
  });
});
