/**
 * Hostile inputs for the process-level tests and `npm run bench:input`, written into a scratch
 * directory: the sizes that hurt (a 100,000-rule policy, a 400 MB sparse file, 30,000 flows
 * with 7 KB traces) and the shapes that trick parsers (aliases, nesting, bytes that are not
 * UTF-8, control characters).
 */
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Corpus {
  /** One GlobalNetworkPolicy with 100,000 ingress rules (8 MB): refused at rule 5,001, line 20,007. */
  readonly rules100k: string;
  /** 400 MiB, sparse (no disk used): refused by its size before a byte is read. */
  readonly sparse400m: string;
  /** Billion laughs: nine levels of nine aliases. */
  readonly laughs: string;
  /** 8 MiB of `[`. */
  readonly deep: string;
  /** Latin-1 `é` at byte 46. */
  readonly latin1: string;
  /** A raw ESC in a name, line 3 column 19. */
  readonly esc: string;
  /** A Namespace whose name carries an escaped OSC (retitles a terminal) and a fake `ok:` line, valid YAML. */
  readonly retitle: string;
  /** `n` flows over the quick-start endpoints, one JSON object a line. */
  flows(n: number): string;
}

export function writeCorpus(dir: string): Corpus {
  const at = (name: string, text: string | Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const rule = '    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [80]\n';
  let laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  let prev = 'a';
  for (const k of 'bcdefghi') {
    laughs += `${k}: &${k} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
    prev = k;
  }
  const sparse400m = join(dir, 'sparse-400m.yaml');
  writeFileSync(sparse400m, '');
  truncateSync(sparse400m, 400 * 1024 * 1024);
  const peers = ['shop/frontend-0', 'shop/backend-0', 'shop/db-0', 'monitoring/prometheus-0', '10.65.0.20', '8.8.8.8'];
  return {
    rules100k: at('rules-100k.yaml', `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: huge\nspec:\n  ingress:\n${rule.repeat(100_000)}`),
    sparse400m,
    laughs: at('laughs.yaml', laughs),
    deep: at('deep.yaml', '['.repeat(8 * 1024 * 1024)),
    latin1: at('latin1.yaml', Buffer.concat([Buffer.from('apiVersion: v1\nkind: Namespace\nmetadata: {name: caf'), Buffer.from([0xe9]), Buffer.from('}\n')])),
    esc: at('esc.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a\u001b]0;pwned\u0007}\n'),
    retitle: at('retitle.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: "x\\e]0;pwned\\a\\nok: 0 policies"}\n'),
    flows(n) {
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        lines.push(JSON.stringify({ from: peers[i % 6], to: peers[(i * 7 + 3) % 6], protocol: i % 3 === 0 ? 'UDP' : 'TCP', port: [53, 5432, 8080, 9090][i % 4] }));
      }
      return at(`flows-${n}.jsonl`, `${lines.join('\n')}\n`);
    },
  };
}
