// Usage mistakes say what is wrong in one or two lines and point at the command's --help (exit
// 2), for every command including both enforce dataplanes; --version names every package.
import { describe, expect, it } from 'vitest';
import { run } from './run-cli.js';

const example = new URL('../../../examples/quickstart', import.meta.url).pathname;

describe('usage errors are short', () => {
  it.each([
    [['chekc'], 'gingham: unknown command "chekc"; did you mean check?\nrun \'gingham --help\' for usage\n'],
    [['frobnicate'], 'gingham: unknown command "frobnicate" (lint, check, matrix, diff, flows, preview, graph, recommend, report, enforce, apply, create, replace, delete, get, datastore, doctor, openstack, agent, wireguard)\nrun \'gingham --help\' for usage\n'],
    [['check', '-f', example, '--from', 'shop/frontend-0'], "gingham check: --from and --to are required (or --flows FILE)\nrun 'gingham check --help' for usage\n"],
    [['check', '-f', example, '--frm', 'x'], "gingham check: unknown option --frm\nrun 'gingham check --help' for usage\n"],
    [['check', '-f', example, '--from'], "gingham check: --from needs a value\nrun 'gingham check --help' for usage\n"],
    [['lint', '-f', example, 'extra'], 'gingham lint: unexpected argument "extra"\nrun \'gingham lint --help\' for usage\n'],
    [['lint', '--json=yes', '-f', example], "gingham lint: --json takes no value\nrun 'gingham lint --help' for usage\n"],
    [['lint'], "gingham lint: no manifests given: use -f FILE_OR_DIR (repeatable), or -f - for standard input\nrun 'gingham lint --help' for usage\n"],
    [['matrix', '-f', example], "gingham matrix: --ports is required, e.g. --ports 80/TCP,53/UDP\nrun 'gingham matrix --help' for usage\n"],
    [['enforce', '-f', example], "gingham enforce: --node NAME is required\nrun 'gingham enforce --help' for usage\n"],
    [['enforce', '--node', 'n'], "gingham enforce: -f PATH is required\nrun 'gingham enforce --help' for usage\n"],
    [['enforce', '--backend', 'bogus', '-f', example, '--node', 'n'], "gingham enforce: unknown backend \"bogus\" (nft, legacy)\nrun 'gingham enforce --help' for usage\n"],
    [['enforce', '--dataplane', 'ebpf', '-f', example], "gingham enforce: --node NAME is required\nrun 'gingham enforce --help' for usage\n"],
    [['enforce', '--dataplane', 'ebpf', '--mode', 'tcx', '-f', example], "gingham enforce: --node NAME is required\nrun 'gingham enforce --help' for usage\n"],
    [['enforce', '--dataplane', 'ebpf', '--mode', 'bogus', '-f', example, '--node', 'n'], "gingham enforce: unknown mode \"bogus\" (auto, tcx, tc)\nrun 'gingham enforce --help' for usage\n"],
    [['enforce', '--dataplane', 'nft'], "gingham enforce: unsupported dataplane \"nft\" (supported: iptables, ebpf)\nrun 'gingham enforce --help' for usage\n"],
    [['enforce', '--bogus'], "gingham enforce: unknown option --bogus\nrun 'gingham enforce --help' for usage\n"],
    [['doctor', '--dataplane', 'nft'], 'gingham doctor: unknown dataplane "nft" (iptables, ebpf, wireguard)\nrun \'gingham doctor --help\' for usage\n'],
    [['wireguard', 'genkey'], "gingham wireguard: genkey needs --out\nrun 'gingham wireguard --help' for usage\n"],
  ])('%j', async (argv, expected) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toBe(expected);
    expect(r.out).toBe('');
  });

  it('no command at all prints the overview on stderr, exit 2', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^gingham: Calico-grade network policy/);
  });

  it('--help and help TOPIC print help on stdout, exit 0', async () => {
    expect((await run(['--help'])).out).toMatch(/gingham doctor/);
    const topic = await run(['help', 'check']);
    expect(topic.code).toBe(0);
    expect(topic.out).toMatch(/^gingham check -f PATH\.\.\. --from A --to B/);
    expect((await run(['enforce', '--help'])).out).toMatch(/Check the host first with: gingham doctor/);
  });
});

describe('gingham --version', () => {
  it('names gingham, Node.js and every dataplane package with its version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      expect(r.code).toBe(0);
      const lines = r.out.trimEnd().split('\n');
      expect(lines[0]).toBe(`gingham 0.1.0 (Node.js ${process.version})`);
      expect(lines.slice(1).map((l) => l.trim().split(/\s+/))).toEqual([
        ['@gingham/core', '0.1.0'],
        ['@gingham/dataplane-iptables', '0.1.0'],
        ['@gingham/dataplane-ebpf', '0.1.0'],
        ['@gingham/ebpf-loader', '0.1.0'],
        ['@gingham/wireguard', '0.1.0'],
      ]);
    }
  });

  it('--version --json is for machines', async () => {
    const r = await run(['--version', '--json']);
    expect(JSON.parse(r.out)).toEqual({
      gingham: '0.1.0',
      node: process.version,
      packages: { '@gingham/core': '0.1.0', '@gingham/dataplane-iptables': '0.1.0', '@gingham/dataplane-ebpf': '0.1.0', '@gingham/ebpf-loader': '0.1.0', '@gingham/wireguard': '0.1.0' },
    });
  });
});

describe('failures that are not usage mistakes', () => {
  it('an internal error is one line and "please report", the stack only with GINGHAM_DEBUG=1', async () => {
    const { runCli } = await import('@gingham/cli');
    const broken = (env: Record<string, string>) => {
      let err = '';
      let calls = 0;
      return {
        io: {
          stdout: () => {
            if (calls++ === 0) throw new TypeError('cannot read properties of undefined (reading "x")');
          },
          stderr: (s: string) => (err += `${s}\n`),
          env,
        },
        err: () => err,
      };
    };
    const quiet = broken({});
    expect(await runCli(['lint', '-f', example], quiet.io)).toBe(70);
    expect(quiet.err()).toBe('gingham lint: internal error: TypeError: cannot read properties of undefined (reading "x"); please report it (GINGHAM_DEBUG=1 shows where)\n');
    const debug = broken({ GINGHAM_DEBUG: '1' });
    expect(await runCli(['lint', '-f', example], debug.io)).toBe(70);
    expect(debug.err()).toMatch(/^gingham lint: internal error: TypeError: .*; please report it\nTypeError: .*\n\s+at /);
  });
});
