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
});
