import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { systemPageSize } from './ringbuf.js';

describe('systemPageSize', () => {
  it('reads the page size getconf reports from the auxiliary vector, without a child process', () => {
    expect(systemPageSize()).toBe(Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()));
  });
});
