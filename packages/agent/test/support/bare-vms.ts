/**
 * The bare-VM fleet example (`examples/bare-vms/run.sh`) as CI runs it, for one dataplane (one
 * test file each, so that each stays within the kernel project's timeout): three VM namespaces
 * on a LAN namespace, etcd in its own, a `gingham agent` with WireGuard and flow logs on each,
 * three `gingham apply` steps with real packets checked after each, and `gingham flows` (the
 * history, then `--follow` while a new connection is made) on vm-2 showing the deciding policy
 * and rule and the staged verdict. The script exits non-zero when a verdict or a flow record
 * differs and removes everything it made; this checks that too, and stops the script (SIGTERM
 * runs its cleanup) if the test gives up on it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { canRun } from './agent-node.js';

const SCRIPT = new URL('../../../../examples/bare-vms/run.sh', import.meta.url).pathname;

export function describeBareVms(dataplane: 'iptables' | 'ebpf'): void {
  const missing = [...canRun(), ...(['wg', 'wireguard-go'] as const).filter((t) => spawnSync('which', [t], { stdio: 'ignore' }).status !== 0)];
  if (missing.length > 0 && process.env['CI'] === 'true') throw new Error(`the bare-VM example needs ${missing.join(', ')} (CI=true: not skipping)`);
  const PREFIX = `ghbv${dataplane === 'ebpf' ? 'e' : ''}${process.pid}`;

  describe.skipIf(missing.length > 0)(`examples/bare-vms/run.sh ${dataplane}`, () => {
    let child: ChildProcess | undefined;
    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    });

    it('starts etcd and three agents; each gingham apply changes packets on the VMs it concerns; gingham flows shows the connections', async () => {
      let output = '';
      child = spawn('bash', [SCRIPT, dataplane], { env: { ...process.env, PREFIX }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      const code = await new Promise<number | null>((r) => child!.once('exit', (c) => r(c)));
      expect(code, output).toBe(0);
      // The flow-log steps: vm-2's ingress end of batch -> api, allowed by api-ingress rule 0, which
      // the staged api-deny-batch would deny; in the history and again through --follow.
      const row = /dst\s+demo\/vm-3-wl\s+demo\/vm-2-wl\s+tcp\/8080\s+ALLOWED\s+default\|gnp:api-ingress\|allow\|0\s+DENIED default\|sgnp:api-deny-batch\|deny\|0/;
      const history = output.slice(output.indexOf('== gingham flows on vm-2'), output.indexOf('== gingham flows --follow'));
      expect(history).toMatch(row);
      expect(history).toMatch(/dst\s+demo\/vm-3-wl\s+demo\/vm-2-wl\s+tcp\/8080\s+DENIED\s+default\|gnp:api-ingress\|deny\|-1/);
      expect(output.slice(output.indexOf('== gingham flows --follow'))).toMatch(row);
      // The last step: the security tier refuses batch on vm-1 and vm-2, everything else unchanged.
      const last = output.slice(output.indexOf('quarantines batch'));
      expect(last).toMatch(/vm-3 workload -> vm-2 workload :8080 {2}denied/);
      expect(last).toMatch(/vm-3 workload -> vm-1 workload :8080 {2}denied/);
      expect(last).toMatch(/vm-1 workload -> vm-2 workload :8080 {2}allowed/);
      for (const n of [1, 2, 3]) expect(output).toMatch(new RegExp(`vm-${n}: ready, revision \\d+, \\d+ applies, 2 WireGuard peers`));
      // Nothing left behind: namespaces, and the processes the script started.
      expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(PREFIX);
      const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
      expect(ps).not.toContain(`wireguard-go -f ${PREFIX}`);
      expect(ps).not.toContain('/tmp/gingham-bare-vms.');
    });
  });
}
