/**
 * Reads `-f` arguments (files, directories, `-` for stdin) through core's bounded reader and
 * loader, and builds the snapshot. Missing paths are usage errors; refused ones (a device, too
 * large, not UTF-8) are input errors; either way nothing is loaded.
 */
import { open, readdir, stat } from 'node:fs/promises';
import {
  buildSnapshot,
  describeRefusal,
  loadManifests,
  readManifestPaths,
  type Issue,
  type LoadInput,
  type ManifestFs,
  type Resource,
  type Snapshot,
} from '@gingham/core';
import { UsageError, type CliIo } from './io.js';
import { escapeText, renderIssue } from './term.js';

/** The real file system, as core's reader wants it. */
export const nodeManifestFs: ManifestFs = { stat, readdir, open };

/** Input that was refused before it was loaded (exit code 1). */
export class InputRefusedError extends Error {
  override readonly name = 'InputRefusedError';
  readonly code = 'INPUT_REFUSED';
}

/**
 * At most `maxBytes` bytes of a stream, then stop: leaving the loop early ends the stream, so a
 * pipe that never ends (`-f - < /dev/zero`) costs the budget, not memory.
 */
export async function readAtMost(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of source) {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= maxBytes) break;
  }
  const all = Buffer.concat(chunks);
  return all.subarray(0, Math.min(all.length, maxBytes));
}

export async function readManifestInputs(paths: readonly string[], io: CliIo): Promise<LoadInput[]> {
  if (paths.length === 0) throw new UsageError('no manifests given: use -f FILE_OR_DIR (repeatable), or -f - for standard input');
  const read = await readManifestPaths(paths, nodeManifestFs, io.stdin ? { stdin: (max) => readAtMost(io.stdin!(), max) } : {});
  if (read.missing.length > 0) {
    throw new UsageError(read.missing.map((p) => `no such file or directory: ${escapeText(p)}`).join('\n'));
  }
  if (read.refused.length > 0) {
    throw new InputRefusedError(`${read.refused.map((r) => escapeText(describeRefusal(r))).join('\n')}\nnothing was loaded`);
  }
  return read.inputs;
}

export interface LoadedModel {
  readonly ok: boolean;
  readonly issues: readonly Issue[];
  readonly snapshot: Snapshot;
  /** The resources as loaded (for commands that read fields the model does not keep). */
  readonly resources: readonly Resource[];
}

/** Loads, validates and converts. `ok` is false when any input had an error. */
export async function loadModel(paths: readonly string[], io: CliIo): Promise<LoadedModel> {
  const loaded = loadManifests(await readManifestInputs(paths, io));
  const where = new Map(loaded.resources.map((r) => [r.resource, { file: r.file, line: r.line, col: r.col }]));
  const built = buildSnapshot(
    loaded.resources.map((r) => r.resource),
    { locate: (resource) => where.get(resource) },
  );
  return { ok: loaded.ok, issues: [...loaded.issues, ...built.issues], snapshot: built.snapshot, resources: loaded.resources.map((r) => r.resource) };
}

export function renderIssues(issues: readonly Issue[]): string {
  return issues.map(renderIssue).join('\n');
}
