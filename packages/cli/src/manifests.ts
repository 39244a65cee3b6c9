/**
 * Reads `-f` arguments (files, directories, `-` for stdin) into core's loader and builds the
 * snapshot. Directories are walked recursively for `.yaml`, `.yml` and `.json`, in sorted order,
 * so the same tree always loads the same way.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSnapshot, formatIssue, loadManifests, type Issue, type Snapshot } from '@gingham/core';
import { UsageError } from './io.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

async function expand(path: string, out: string[]): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new UsageError(`no such file or directory: ${path}`);
  }
  if (info.isDirectory()) {
    const names = (await readdir(path)).sort();
    for (const name of names) {
      const child = join(path, name);
      const childInfo = await stat(child);
      if (childInfo.isDirectory() || MANIFEST_EXT.test(name)) await expand(child, out);
    }
  } else {
    out.push(path);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function readManifestInputs(paths: readonly string[]): Promise<{ file: string; text: string }[]> {
  if (paths.length === 0) throw new UsageError('no manifests given: use -f FILE_OR_DIR (repeatable)');
  const files: string[] = [];
  const inputs: { file: string; text: string }[] = [];
  for (const p of paths) {
    if (p === '-') inputs.push({ file: '<stdin>', text: await readStdin() });
    else await expand(p, files);
  }
  for (const file of files) inputs.push({ file, text: await readFile(file, 'utf8') });
  return inputs;
}

export interface LoadedModel {
  readonly ok: boolean;
  readonly issues: readonly Issue[];
  readonly snapshot: Snapshot;
}

/** Loads, validates and converts. `ok` is false when any input had an error. */
export async function loadModel(paths: readonly string[]): Promise<LoadedModel> {
  const loaded = loadManifests(await readManifestInputs(paths));
  const where = new Map(loaded.resources.map((r) => [r.resource, { file: r.file, line: r.line, col: r.col }]));
  const built = buildSnapshot(
    loaded.resources.map((r) => r.resource),
    { locate: (resource) => where.get(resource) },
  );
  return { ok: loaded.ok, issues: [...loaded.issues, ...built.issues], snapshot: built.snapshot };
}

export function renderIssues(issues: readonly Issue[]): string {
  return issues.map(formatIssue).join('\n');
}
