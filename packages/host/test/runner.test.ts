import { describe, expect, it } from 'vitest';
import { CommandFailedError, createLocalRunner, runChecked, ToolMissingError } from '../src/index.js';

const runner = createLocalRunner();

describe('command runner', () => {
  it('runs argv without a shell and feeds stdin', async () => {
    const r = await runner.run(['cat'], { input: 'a;$(echo b)\n' });
    expect(r).toEqual({ code: 0, stdout: 'a;$(echo b)\n', stderr: '' });
  });

  it('a missing program is a ToolMissingError naming the Debian package', async () => {
    const err = await runner.run(['ipset-not-here-xyz', 'list']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolMissingError);
    const known = new ToolMissingError('iptables-restore', 'iptables');
    expect(known.message).toBe('gingham: iptables-restore is not installed; install it with: apt-get install --no-install-recommends iptables');
    expect(known.code).toBe('TOOL_MISSING');
  });

  it('runChecked throws CommandFailedError with argv, exit code, stderr and the input', async () => {
    const err = (await runChecked(runner, ['sh', '-c', 'cat >/dev/null; echo bad line 3 >&2; exit 4'], { input: 'x' }).catch((e: unknown) => e)) as CommandFailedError;
    expect(err).toBeInstanceOf(CommandFailedError);
    expect(err).toMatchObject({ code: 'COMMAND_FAILED', exitCode: 4, stderr: 'bad line 3\n', input: 'x' });
    expect(err.argv[0]).toBe('sh');
    expect(err.message).toMatch(/^gingham: command failed \(exit 4\): sh -c .*: bad line 3$/);
  });

  it('kills a command that outlives its timeout', async () => {
    const r = await runner.run(['sleep', '5'], { timeoutMs: 100 });
    expect(r.code).toBe(137);
  });

  it('an interactive child answers on its streams and is stopped by close()', async () => {
    const p = await runner.open(['cat']);
    const got = new Promise<string>((resolve) => p.onOutput((_s, t) => resolve(t)));
    p.write('ping\n');
    expect(await got).toBe('ping\n');
    expect(p.alive()).toBe(true);
    await p.close();
    expect(p.alive()).toBe(false);
  });
});
