import { fc, test } from '@fast-check/vitest';
import { BpfError, loadCollectionSpec } from '../src/index.js';
import { fixture } from './support/fixtures.js';

const objects = [fixture('udp_drop'), fixture('lpm'), fixture('bad'), fixture('ringbuf')];

// Corrupted objects must fail with a BpfError (ELF_INVALID, BTF_INVALID, ELF_UNSUPPORTED), never
// with a RangeError or TypeError from reading past a buffer.
test.prop([
  fc.integer({ min: 0, max: objects.length - 1 }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
  fc.option(fc.nat(), { nil: undefined }),
], { numRuns: Number(process.env.FUZZ_RUNS ?? 500) })('corrupted objects fail only with BpfError', (which, edits, cut) => {
  const bytes = objects[which]!.slice();
  for (const [pos, val] of edits) bytes[pos % bytes.length] = val;
  const input = cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length);
  try {
    loadCollectionSpec(input);
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
  }
});
