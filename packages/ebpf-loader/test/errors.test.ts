/**
 * The loader's errors stand alone (no dependency on the policy core) but keep the house
 * contract that callers such as the `gingham` CLI rely on: an `Error` with a stable string
 * `code`, a `gingham: ` message prefix, the class name as `name`, and the cause kept.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfError, BpfSyscallError, NotSupportedError, VerifierError, bpfBindingSource, setBpfBinding } from '../src/index.js';

describe('loader errors', () => {
  it('are Errors with a stable code, the gingham: prefix and their class name', () => {
    const cause = new Error('underlying');
    const errors = [
      new BpfError('ELF_INVALID', 'truncated section header', { cause }),
      new BpfSyscallError('BPF_MAP_CREATE', 1, 'map m (hash)'),
      new VerifierError('udp_drop', 13, '0: R1=ctx\ninvalid mem access\nprocessed 3 insns'),
      new NotSupportedError('tcx'),
    ];
    expect(errors.map((e) => [e.name, e.code, e.message])).toEqual([
      ['BpfError', 'ELF_INVALID', 'gingham: truncated section header'],
      ['BpfSyscallError', 'BPF_SYSCALL', 'gingham: BPF_MAP_CREATE failed: EPERM (1): map m (hash)'],
      ['VerifierError', 'BPF_VERIFIER', 'gingham: the verifier rejected program udp_drop (EACCES): 0: R1=ctx | invalid mem access | processed 3 insns'],
      ['NotSupportedError', 'BPF_NOT_SUPPORTED', 'gingham: not supported by this kernel or machine: tcx'],
    ]);
    for (const e of errors) {
      expect(e).toBeInstanceOf(Error);
      expect(e).toBeInstanceOf(BpfError);
      expect(typeof e.code).toBe('string'); // what `gingham` checks to print the message and exit 1
    }
    expect(errors[0]!.cause).toBe(cause);
    expect(new BpfError('BPF_ATTACH', 'gingham: already prefixed').message).toBe('gingham: already prefixed');
  });

  it('the package depends on nothing of ours: no @gingham import, no @gingham dependency', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
      expect(Object.keys(manifest[field] ?? {}).filter((d) => d.startsWith('@gingham/')), field).toEqual([]);
    }
    const dist = new URL('../dist/', import.meta.url);
    for (const file of readdirSync(dist).filter((f) => f.endsWith('.js'))) {
      expect(readFileSync(new URL(file, dist), 'utf8'), file).not.toMatch(/@gingham\/(?!ebpf-loader)/);
    }
  });

  it('an injected binding reports itself as the source', () => {
    setBpfBinding({ bpf: () => -38, ifNameToIndex: () => 0, setns: () => 0 });
    try {
      expect(bpfBindingSource()).toEqual({ kind: 'injected' });
    } finally {
      setBpfBinding(undefined);
    }
  });
});
