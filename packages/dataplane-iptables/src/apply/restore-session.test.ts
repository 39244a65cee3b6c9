/** Which transactions the persistent restore session may take: only those safe to run twice. */
import { describe, expect, it } from 'vitest';
import { restoreSessionArgv, restoreSessionSafe } from './restore-session.js';

describe('restoreSessionSafe', () => {
  it('takes one table of chain declarations, flushes, appends and deletes of chains', () => {
    expect(restoreSessionSafe(['*filter', ':gh-tw-a - [0:0]', '-F gh-tw-a', '-A gh-tw-a -j DROP', '-X gh-gi-old', 'COMMIT'])).toBe(true);
    expect(restoreSessionSafe(['*raw', 'COMMIT'])).toBe(true);
  });
  it('refuses hook edits, several tables, comments and unframed text', () => {
    expect(restoreSessionSafe(['*filter', '-I FORWARD 1 -j gh-FORWARD', 'COMMIT'])).toBe(false);
    expect(restoreSessionSafe(['*filter', '-D FORWARD -j gh-FORWARD', 'COMMIT'])).toBe(false);
    expect(restoreSessionSafe(['*filter', 'COMMIT', '*raw', 'COMMIT'])).toBe(false);
    expect(restoreSessionSafe(['*filter', '# ghsync-x-1', 'COMMIT'])).toBe(false);
    expect(restoreSessionSafe(['-A gh-a -j DROP'])).toBe(false);
    expect(restoreSessionSafe(['*filter', '-A gh-a -j DROP'])).toBe(false);
  });
  it('runs the tool in verbose mode (comments echoed: the sentinel)', () => {
    expect(restoreSessionArgv('ip6tables-nft-restore')).toEqual(['ip6tables-nft-restore', '--noflush', '-v']);
  });
});
