/**
 * Run a synchronous function with the main thread inside another network namespace (`setns`),
 * then switch back. Only the calling thread moves; nothing asynchronous may run inside `fn`.
 */
import { closeSync, openSync } from 'node:fs';
import { getBpfBinding } from './binding.js';
import { BpfError } from './errors.js';

const CLONE_NEWNET = 0x40000000;

/** `/run/netns/<name>` for a bare name (as `ip netns` creates), the path itself otherwise. */
export function netnsPath(netns: string): string {
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

export function withNetns<T>(netns: string | undefined, fn: () => T): T {
  if (!netns) return fn();
  const binding = getBpfBinding();
  const path = netnsPath(netns);
  let target: number;
  try {
    target = openSync(path, 'r');
  } catch (cause) {
    throw new BpfError('BPF_ATTACH', `network namespace ${netns} not found (${path})`, { cause });
  }
  const self = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const r = binding.setns(target, CLONE_NEWNET);
    if (r < 0) throw new BpfError('BPF_ATTACH', `setns into ${path} failed: errno ${-r}`);
    try {
      return fn();
    } finally {
      const back = binding.setns(self, CLONE_NEWNET);
      if (back < 0) {
        // Cannot happen short of a kernel bug; continuing in the wrong namespace would be worse.
        process.stderr.write(`gingham: ebpf-loader: cannot return from netns ${path} (errno ${-back}); aborting\n`);
        process.abort();
      }
    }
  } finally {
    closeSync(self);
    closeSync(target);
  }
}
