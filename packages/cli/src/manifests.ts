/**
 * Reads `-f` arguments (files, directories, `-` for stdin) into core's loader and builds the
 * snapshot. Directories are walked recursively for `.yaml`, `.yml` and `.json`, in sorted order,
 * so the same tree always loads the same way.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { buildSnapshot, formatIssue, loadManifests, ManifestPathError, readManifestPaths, type Issue, type LoadInput, type Snapshot } from '@gingham/core';
import { UsageError } from './io.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function readManifestInputs(paths: readonly string[]): Promise<LoadInput[]> {
  if (paths.length === 0) throw new UsageError('no manifests given: use -f FILE_OR_DIR (repeatable)');
  try {
    return await readManifestPaths(paths, { readdir, readFile, stat }, { stdin: readStdin });
  } catch (e) {
    if (e instanceof ManifestPathError) throw new UsageError(`no such file or directory: ${e.path}`);
    throw e;
  }
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
