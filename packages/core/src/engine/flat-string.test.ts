import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { flatString } from './flat-string.js';

describe('flatString', () => {
  it('keeps the text of any string, including ones normalisation would rewrite', () => {
    const parts = ['ns-1', '/', 'web-7f9c4d-abcde'];
    expect(flatString(parts.join(''))).toBe('ns-1/web-7f9c4d-abcde');
    expect(flatString(`${'10.1.2.3'}/32`)).toBe('10.1.2.3/32');
    const decomposed = 'cafe\u0301';
    expect(flatString(decomposed)).toBe(decomposed);
    expect(flatString(decomposed)).not.toBe(decomposed.normalize());
    expect(flatString('')).toBe('');
  });

  it('hands back a flat string for a concatenated one that was used as a Map key (V8 keeps the rope otherwise)', () => {
    // V8's own view of the string's representation, through %DebugPrint in a child process.
    const source = fileURLToPath(new URL('./flat-string.ts', import.meta.url));
    const script = `import { flatString } from ${JSON.stringify(source)};
const rope = ['ns-1', String(process.pid)].join('') + '/' + 'web-7f9c4d-abcde';
new Map().set(rope, 1);
%DebugPrint(rope);
%DebugPrint(flatString(rope));`;
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const types = [...r.stdout.matchAll(/^ - type: (\S+)/gm)].map((m) => m[1]);
    expect(types).toEqual(['CONS_ONE_BYTE_STRING_TYPE', 'ONE_BYTE_STRING_TYPE']);
  });
});
