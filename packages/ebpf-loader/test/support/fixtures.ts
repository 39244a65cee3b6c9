/** The committed BPF test objects (built from test/bpf/*.c by scripts/build-test-objects.sh). */
import { readFileSync } from 'node:fs';

export function fixture(name: 'udp_drop' | 'lpm' | 'bad' | 'ringbuf'): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`../bpf/${name}.o`, import.meta.url)));
}
