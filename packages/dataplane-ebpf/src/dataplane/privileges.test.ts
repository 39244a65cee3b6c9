import { BpfSyscallError, VerifierError } from '@gingham/ebpf-loader';
import { describe, expect, it } from 'vitest';
import { EbpfDataplaneError } from './errors.js';
import { isPermissionError, permissionError } from './privileges.js';
import { shellWord } from './pin-home.js';

describe('missing privileges become one clear error', () => {
  it('EPERM and EACCES from bpf(2) and from the file system are permission errors; a verifier rejection is not', () => {
    expect(isPermissionError(new BpfSyscallError('BPF_MAP_CREATE', 1))).toBe(true);
    expect(isPermissionError(new BpfSyscallError('BPF_OBJ_PIN', 13))).toBe(true);
    expect(isPermissionError(Object.assign(new Error('mkdir'), { code: 'EACCES', errno: -13 }))).toBe(true);
    expect(isPermissionError(new BpfSyscallError('BPF_MAP_CREATE', 12))).toBe(false);
    expect(isPermissionError(new VerifierError('gingham_tc', 13, 'R1 invalid mem access'))).toBe(false);
  });

  it('BPF_MAP_CREATE failed: EPERM turns into EBPF_NOT_PERMITTED naming what is needed, with the original as cause', () => {
    const raw = new BpfSyscallError('BPF_MAP_CREATE', 1, 'map conntrack (lru_hash)');
    const e = permissionError(raw, 'program the kernel') as EbpfDataplaneError;
    expect(e).toBeInstanceOf(EbpfDataplaneError);
    expect(e.code).toBe('EBPF_NOT_PERMITTED');
    expect(e.message).toMatch(/^gingham: the eBPF dataplane was refused permission to program the kernel \(BPF_MAP_CREATE failed: EPERM \(1\).*\); it needs CAP_BPF and CAP_NET_ADMIN \(or root; .*\)\. (Run it as root: sudo |Run it with its capabilities)/);
    expect(e.cause).toBe(raw);
    const other = new BpfSyscallError('BPF_MAP_CREATE', 12);
    expect(permissionError(other, 'x')).toBe(other);
  });

  it('commands in refusal messages are quoted for a POSIX shell', () => {
    expect(shellWord('/run/gingham/bpffs')).toBe('/run/gingham/bpffs');
    expect(shellWord('my dir')).toBe("'my dir'");
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
  });
});
