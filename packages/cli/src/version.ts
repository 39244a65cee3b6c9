/**
 * `gingham --version`: this command's version, Node's, and the versions of the packages it runs
 * (core and the dataplanes), read from their package.json files where they are installed.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface VersionInfo {
  readonly gingham: string;
  readonly node: string;
  /** Package name → version; `unknown` when the package cannot be found. */
  readonly packages: Readonly<Record<string, string>>;
}

const PACKAGES = ['@gingham/core', '@gingham/dataplane-iptables', '@gingham/dataplane-ebpf', '@gingham/ebpf-loader', '@gingham/wireguard'];

/** The package.json above a resolved module file, whatever its exports map allows. */
async function versionOf(entryUrl: string, name: string): Promise<string> {
  let dir = dirname(fileURLToPath(entryUrl));
  for (let i = 0; i < 6; i++) {
    try {
      const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === name) return manifest.version ?? 'unknown';
    } catch {
      // not here: go up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

export async function versionInfo(): Promise<VersionInfo> {
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    try {
      packages[name] = await versionOf(import.meta.resolve(name), name);
    } catch {
      packages[name] = 'unknown';
    }
  }
  return { gingham: await versionOf(import.meta.url, '@gingham/cli'), node: process.version, packages };
}

export function formatVersion(v: VersionInfo): string {
  const width = Math.max(...Object.keys(v.packages).map((n) => n.length));
  return [`gingham ${v.gingham} (Node.js ${v.node})`, ...Object.entries(v.packages).map(([n, ver]) => `  ${n.padEnd(width)}  ${ver}`)].join('\n');
}
