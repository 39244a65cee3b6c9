// gingham check: --flows batches answer every entry (an unknown peer or bad field in one entry is
// that entry's error, the others are still answered, exit 1), take JSON arrays and JSON lines,
// stream JSON arrays and JSON lines, and --no-trace; ICMP type/code and source ports in flags
// and entries, validated; a missing --flows file says "no such file".
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './run-cli.js';

const example = new URL('../../../examples/quickstart', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'gingham-flows-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

const good = { from: 'shop/backend-0', to: 'shop/db-0', protocol: 'TCP', port: 5432 };

describe('one bad entry does not stop a batch', () => {
  it('an unknown peer in entry 17 is entry 17\'s error, with file, index, line and field; the other 19 are answered; exit 1', async () => {
    const entries = Array.from({ length: 20 }, (_, i) => (i === 17 ? { ...good, to: 'shop/nope-0' } : good));
    const path = file('twenty.json', `[\n${entries.map((e) => `  ${JSON.stringify(e)}`).join(',\n')}\n]\n`);
    const r = await run(['check', '-f', example, '--flows', path, '--json']);
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.out) as Record<string, unknown>[];
    expect(rows).toHaveLength(20);
    expect(rows.filter((row) => row.allowed === true)).toHaveLength(19);
    expect(rows[17]).toEqual({
      index: 17,
      file: path,
      line: 19,
      col: 3,
      from: 'shop/backend-0',
      to: 'shop/nope-0',
      protocol: 'TCP',
      port: 5432,
      error: {
        code: 'UNKNOWN_PEER',
        field: 'to',
        message: 'unknown flow peer "shop/nope-0": not an IP address, a namespace/pod workload id, or a WorkloadEndpoint/HostEndpoint name',
      },
    });
    expect(r.err).toBe('gingham check: 1 of 20 entries failed (see their "error")\n');
  });

  it('text output names the entry and the field, and counts', async () => {
    const path = file('mixed.jsonl', [JSON.stringify(good), JSON.stringify({ ...good, prot: 'UDP' }), '{"from": "a", broken', JSON.stringify({ ...good, port: 70000 })].join('\n'));
    const r = await run(['check', '-f', example, '--flows', path, '--no-trace']);
    expect(r.code).toBe(1);
    // The broken line is an error of its own; reading goes on with the next line.
    expect(r.out.split('\n').filter((l) => /^(ALLOWED|DENIED|ERROR)/.test(l))).toEqual([
      'ALLOWED  shop/backend-0 -> shop/db-0  5432/TCP',
      `ERROR    ${path}:2:1 entry 1 prot: unknown field; did you mean protocol?`,
      expect.stringMatching(new RegExp(`^ERROR    ${path.replace(/[.]/g, '\\.')}:3:1 entry 2: not valid JSON \\(.+\\)$`)),
      `ERROR    ${path}:4:1 entry 3 port: invalid port 70000: must be a number from 1 to 65535`,
    ]);
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('4 flow(s): 1 allowed, 0 denied, 3 failed');
  });

  it('a broken array is answered up to the break, then the file problem is said on stderr', async () => {
    const path = file('cut.json', `[${JSON.stringify(good)}, ${JSON.stringify(good)} ${JSON.stringify(good)}]`);
    const r = await run(['check', '-f', example, '--flows', path, '--jsonl']);
    expect(r.code).toBe(1);
    expect(r.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { index: number }).index)).toEqual([0, 1]);
    expect(r.err).toBe(`gingham check: ${path}:1:${2 + 2 * (JSON.stringify(good).length + 2) - 1}: expected , or ] between entries; the entries before it were answered\n`);
  });

  it('entries that are not objects, and empty entries, are errors of their own', async () => {
    const path = file('odd.json', `[42, , ${JSON.stringify(good)}, "x"]`);
    const r = await run(['check', '-f', example, '--flows', path, '--jsonl', '--no-trace']);
    const rows = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as { index: number; error?: { code: string; message: string }; allowed?: boolean });
    expect(rows.map((row) => [row.index, row.error?.code ?? row.allowed])).toEqual([
      [0, 'INVALID_ENTRY'],
      [1, 'INVALID_ENTRY'],
      [2, true],
      [3, 'INVALID_ENTRY'],
    ]);
    expect(rows[1]!.error!.message).toBe('empty entry (two commas in a row)');
  });
});

describe('formats', () => {
  it('a JSON array and the same entries as JSON lines give the same answers', async () => {
    const entries = [good, { from: 'shop/frontend-0', to: 'shop/db-0', port: 5432 }, { from: 'shop/frontend-0', to: '10.65.0.20', port: 8080, srcPort: 40000 }];
    const array = await run(['check', '-f', example, '--flows', file('a.json', JSON.stringify(entries, null, 2)), '--json']);
    const lines = await run(['check', '-f', example, '--flows', file('a.jsonl', entries.map((e) => JSON.stringify(e)).join('\n')), '--jsonl']);
    expect(array.code).toBe(0);
    expect(lines.code).toBe(0);
    const fromLines = lines.out.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(JSON.parse(array.out)).toEqual(fromLines);
    expect((fromLines as { allowed: boolean }[]).map((r) => r.allowed)).toEqual([true, false, true]);
  });

  it('--json streams a valid array with one row a line; an empty batch is []', async () => {
    const r = await run(['check', '-f', example, '--flows', file('two.json', JSON.stringify([good, good])), '--json', '--no-trace']);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe('[');
    expect(lines.at(-1)).toBe(']');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(r.out)).toHaveLength(2);
    expect(JSON.parse((await run(['check', '-f', example, '--flows', file('empty.json', '[]'), '--json'])).out)).toEqual([]);
  });

  it('--no-trace keeps the verdict and the deciding rule of each direction', async () => {
    const r = await run(['check', '-f', example, '--flows', file('one.json', JSON.stringify([good])), '--jsonl', '--no-trace']);
    expect(JSON.parse(r.out)).toEqual({
      index: 0,
      from: 'shop/backend-0',
      to: 'shop/db-0',
      protocol: 'TCP',
      port: 5432,
      allowed: true,
      egress: { stage: 'tier', action: 'Allow', tier: 'default', policyId: 'knp/shop/backend', ruleIndex: 0 },
      ingress: { stage: 'tier', action: 'Allow', tier: 'default', policyId: 'knp/shop/db', ruleIndex: 0 },
    });
  });

  it('--flows - reads the entries from standard input', async () => {
    const r = await run(['check', '-f', example, '--flows', '-', '--jsonl', '--no-trace'], { stdin: `${JSON.stringify(good)}\n` });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { allowed: boolean }).allowed).toBe(true);
  });
});

describe('the --flows file itself', () => {
  it('a missing file says "no such file" with the path (exit 2)', async () => {
    const r = await run(['check', '-f', example, '--flows', 'flows.json']);
    expect(r).toEqual({ code: 2, out: '', err: "gingham check: --flows flows.json: no such file\nrun 'gingham check --help' for usage\n" });
  });

  it('a device is refused by its type and never read', async () => {
    const r = await run(['check', '-f', example, '--flows', '/dev/zero']);
    expect(r).toEqual({ code: 1, out: '', err: 'gingham check: --flows /dev/zero: is a character device; only regular files and pipes are read\n' });
  });

  it('single-flow flags and --flows do not mix', async () => {
    const r = await run(['check', '-f', example, '--flows', 'x.json', '--port', '80']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("gingham check: use either --flows FILE or --port and the other single-flow flags, not both\nrun 'gingham check --help' for usage\n");
  });

  it('an entry over 64 KiB is that entry\'s error', async () => {
    const path = file('fat.jsonl', `${JSON.stringify({ ...good, from: 'x'.repeat(70_000) })}\n${JSON.stringify(good)}\n`);
    const r = await run(['check', '-f', example, '--flows', path, '--jsonl', '--no-trace']);
    const rows = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as { error?: { message: string }; allowed?: boolean });
    expect(rows.map((row) => row.error?.message ?? row.allowed)).toEqual(['larger than 65536 bytes', true]);
  });
});

describe('ICMP type/code and source ports', () => {
  it('flags: --icmp-type/--icmp-code with ICMP, --src-port with TCP', async () => {
    const icmp = await run(['check', '-f', example, '--from', 'shop/frontend-0', '--to', 'shop/backend-0', '--protocol', 'ICMP', '--icmp-type', '8', '--icmp-code', '0', '--json', '--no-trace']);
    expect(icmp.code).toBe(0);
    expect(JSON.parse(icmp.out)).toMatchObject({ protocol: 'ICMP', icmpType: 8, icmpCode: 0, allowed: false });
    const sport = await run(['check', '-f', example, '--from', 'shop/frontend-0', '--to', 'shop/backend-0', '--port', '8080', '--src-port', '40000']);
    expect(sport.code).toBe(0);
    expect(sport.out.split('\n')[0]).toBe('ALLOWED  shop/frontend-0 -> shop/backend-0  8080/TCP from port 40000');
    expect(sport.out).toMatch(/sport 40000 dport 8080/);
  });

  it.each([
    [['--icmp-type', '8'], '--icmp-type: ICMP type needs protocol ICMP or ICMPv6 (the protocol is TCP)'],
    [['--protocol', 'ICMP', '--icmp-code', '0'], '--icmp-code: an ICMP code needs an ICMP type (--icmp-type)'],
    [['--protocol', 'ICMPv6', '--icmp-type', '256'], '--icmp-type: invalid ICMP type "256": must be a number from 0 to 255'],
    [['--protocol', 'ICMP', '--port', '80'], '--port: a port needs protocol TCP, UDP, SCTP or UDPLite (the protocol is ICMP)'],
    [['--src-port', '0'], '--src-port: invalid port "0": must be a number from 1 to 65535'],
    [['--protocol', 'tcpx'], '--protocol: unknown protocol "tcpx": use TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a number 1-255'],
  ])('flags %j are a usage error', async (flags, message) => {
    const r = await run(['check', '-f', example, '--from', 'shop/frontend-0', '--to', 'shop/backend-0', ...flags]);
    expect(r).toEqual({ code: 2, out: '', err: `gingham check: ${message}\nrun 'gingham check --help' for usage\n` });
  });

  it('entries: the same checks, as errors of the entry', async () => {
    const path = file('icmp.jsonl', [
      { from: 'shop/frontend-0', to: 'shop/backend-0', protocol: 'ICMP', icmpType: 8, icmpCode: 0 },
      { from: 'shop/frontend-0', to: 'shop/backend-0', protocol: 'UDP', icmpType: 8 },
      { from: 'shop/frontend-0', to: 'shop/backend-0', protocol: 58, icmpCode: 1 },
      { from: 'shop/frontend-0', to: 'shop/backend-0', protocol: 'ICMP', icmpType: -1 },
    ].map((e) => JSON.stringify(e)).join('\n'));
    const r = await run(['check', '-f', example, '--flows', path, '--jsonl', '--no-trace']);
    const rows = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as { error?: { field: string; message: string }; allowed?: boolean });
    expect(rows.map((row) => (row.error ? `${row.error.field}: ${row.error.message}` : row.allowed))).toEqual([
      false,
      'icmpType: ICMP type needs protocol ICMP or ICMPv6 (the protocol is UDP)',
      'icmpCode: an ICMP code needs an ICMP type (icmpType)',
      'icmpType: invalid ICMP type -1: must be a number from 0 to 255',
    ]);
  });

  it('an unknown peer in a single check names its flag (exit 1)', async () => {
    const r = await run(['check', '-f', example, '--from', 'shop/ghost', '--to', 'shop/db-0']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('gingham check: --from: unknown flow peer "shop/ghost": not an IP address, a namespace/pod workload id, or a WorkloadEndpoint/HostEndpoint name\n');
  });
});
