// The --flows reader: any JSON array or JSON-lines file, cut into chunks anywhere (even inside
// a multi-byte character), gives back exactly its entries, in order, with their positions;
// broken input gives errors of entries or of the file, never an exception.
import { fc, test } from '@fast-check/vitest';
import { propRuns } from '@gingham/testkit';
import { describe, expect, it } from 'vitest';
import { readFlowEntries, type FlowEntry, type FlowsFileProblem } from '@gingham/cli';

async function* chunks(bytes: Uint8Array, cuts: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const end = Math.min(bytes.length, cut);
    if (end > at) yield bytes.subarray(at, end);
    at = Math.max(at, end);
  }
  if (at < bytes.length) yield bytes.subarray(at);
}

async function read(text: string | Uint8Array, cuts: readonly number[] = [], maxEntryBytes?: number): Promise<(FlowEntry | FlowsFileProblem)[]> {
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  const out: (FlowEntry | FlowsFileProblem)[] = [];
  for await (const item of readFlowEntries(chunks(bytes, cuts), maxEntryBytes === undefined ? {} : { maxEntryBytes })) out.push(item);
  return out;
}

const entry = fc.record(
  { from: fc.string({ unit: 'grapheme', maxLength: 12 }), to: fc.string({ maxLength: 12 }), port: fc.integer({ min: 1, max: 65535 }), note: fc.oneof(fc.constant('a"b\\c'), fc.constant('é🎉'), fc.constant('[{}]')) },
  { requiredKeys: ['from', 'to'] },
);

describe('readFlowEntries', () => {
  test.prop([fc.array(entry, { maxLength: 20 }), fc.constantFrom(undefined, 0, 2, '\t'), fc.array(fc.nat(2000), { maxLength: 8 })], { numRuns: propRuns(300) })(
    'a JSON array gives back its elements, however it is indented and cut',
    async (entries, indent, cuts) => {
      const got = await read(JSON.stringify(entries, null, indent), cuts);
      expect(got.map((e) => (e.kind === 'entry' ? e.value : e))).toEqual(entries);
      expect(got.map((e) => (e as FlowEntry).index)).toEqual(entries.map((_, i) => i));
    },
  );

  test.prop([fc.array(entry, { maxLength: 20 }), fc.boolean(), fc.array(fc.nat(2000), { maxLength: 8 })], { numRuns: propRuns(300) })(
    'JSON lines (compact or pretty-printed) give back their values with their line numbers',
    async (entries, pretty, cuts) => {
      const texts = entries.map((e) => (pretty ? JSON.stringify(e, null, 2) : JSON.stringify(e)));
      const got = await read(texts.join('\n'), cuts);
      expect(got.map((e) => (e.kind === 'entry' ? e.value : e))).toEqual(entries);
      let line = 1;
      const lines = texts.map((t) => {
        const at = line;
        line += t.split('\n').length;
        return at;
      });
      expect(got.map((e) => (e as FlowEntry).line)).toEqual(lines);
    },
  );

  test.prop([fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 4 })], { numRuns: propRuns(500) })('any bytes give entries and at most one file problem, at the end, never an exception', async (bytes, cuts) => {
    const got = await read(bytes, cuts);
    const problems = got.filter((e) => e.kind === 'file-problem');
    expect(problems.length).toBeLessThanOrEqual(1);
    if (problems.length === 1) expect(got.at(-1)?.kind).toBe('file-problem');
    got.filter((e): e is FlowEntry => e.kind !== 'file-problem').forEach((e, i) => expect(e.index).toBe(i));
  });

  it('names the position of entries and of a problem after the array', async () => {
    expect(await read('[\n  {"a": 1},\n  {"b": 2}\n] x')).toEqual([
      { kind: 'entry', index: 0, line: 2, col: 3, value: { a: 1 } },
      { kind: 'entry', index: 1, line: 3, col: 3, value: { b: 2 } },
      { kind: 'file-problem', line: 4, col: 3, message: 'unexpected text after the closing ]' },
    ]);
  });

  it('says when an array is not closed', async () => {
    expect((await read('[{"a": 1}, {"b":')).slice(1)).toEqual([
      { kind: 'bad-entry', index: 1, line: 1, col: 12, message: 'the file ends inside this entry' },
      { kind: 'file-problem', line: 1, col: 16, message: 'unexpected end of the file' },
    ]);
    expect((await read('[{"a": 1}')).at(-1)).toEqual({ kind: 'file-problem', line: 1, col: 9, message: 'unexpected end of the file: the array has no closing ]' });
  });

  it('refuses an entry that is not UTF-8, naming the byte of the file', async () => {
    const bytes = Uint8Array.from([...new TextEncoder().encode('{"a": 1}\n{"b": "'), 0xc3, 0x28, ...new TextEncoder().encode('"}\n{"c": 3}\n')]);
    expect(await read(bytes)).toEqual([
      { kind: 'entry', index: 0, line: 1, col: 1, value: { a: 1 } },
      { kind: 'bad-entry', index: 1, line: 2, col: 1, message: 'not valid UTF-8 at byte 16 of the file' },
      { kind: 'entry', index: 2, line: 3, col: 1, value: { c: 3 } },
    ]);
  });

  it('keeps at most maxEntryBytes of an entry, however long it is', async () => {
    const got = await read(`{"x": "${'a'.repeat(10_000)}"}\n{"y": 1}`, [], 100);
    expect(got.map((e) => (e.kind === 'bad-entry' ? e.message : e.kind === 'entry' ? e.value : e))).toEqual(['larger than 100 bytes', { y: 1 }]);
  });
});
