/**
 * Throughput between two of a test's namespaces with iperf3 (for benches: never for pass/fail
 * decisions, speed is measured, not asserted). The server side is the caller's (`iperf3 -s` in
 * the other namespace); the client is killed by PID if it outlives its run by 15 s.
 */
import { spawn } from 'node:child_process';

export interface Iperf3Options {
  /** Server port (iperf3's default 5201). */
  readonly port?: number;
  /** Seconds to measure, after one omitted second of ramp-up. */
  readonly seconds: number;
}

/** Received Gbit/s of one `iperf3 -c` run from `clientNetns` to `serverIp`. */
export function iperf3Gbps(clientNetns: string, serverIp: string, options: Iperf3Options): Promise<number> {
  const argv = ['netns', 'exec', clientNetns, 'iperf3', '-c', serverIp, ...(options.port === undefined ? [] : ['-p', String(options.port)]), '-t', String(options.seconds), '-O', '1', '-J'];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => void (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, (options.seconds + 15) * 1000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        const j = JSON.parse(out) as { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
        const bps = j.end?.sum_received?.bits_per_second;
        if (code !== 0 || j.error || bps === undefined) throw new Error(j.error ?? `exit ${code}`);
        resolve(bps / 1e9);
      } catch (e) {
        reject(new Error(`iperf3 ${clientNetns} -> ${serverIp} failed: ${(e as Error).message} ${err}`.trim()));
      }
    });
  });
}
