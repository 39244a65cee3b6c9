/**
 * Loading a team's manifests into a snapshot for their tests: files or directories (`.yaml`,
 * `.yml`, `.json`, walked in sorted order) or texts, validated, converted. Any issue fails with
 * every problem as `file:line:col: kind/name field: reason` — a property proved over half the
 * policies would prove nothing. `node:fs` is imported only when files are read, so the package
 * stays usable where there is no file system.
 */
import { buildSnapshot, describeRefusal, formatIssue, GinghamError, loadManifests, readManifestPaths, type Issue, type LoadInput, type ManifestFs, type Snapshot } from '@gingham/core';

/** Manifests with problems (code `INVALID_MANIFESTS`); `issues` lists them. */
export class ManifestsError extends GinghamError {
  constructor(readonly issues: readonly Issue[]) {
    super('INVALID_MANIFESTS', `the manifests have ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
  }
}

/** A snapshot from manifest texts. @throws ManifestsError */
export function snapshotFromManifests(inputs: readonly LoadInput[]): Snapshot {
  const loaded = loadManifests(inputs);
  const where = new Map(loaded.resources.map((r) => [r.resource, { file: r.file, line: r.line, col: r.col }]));
  const built = buildSnapshot(
    loaded.resources.map((r) => r.resource),
    { locate: (resource) => where.get(resource) },
  );
  const issues = [...loaded.issues, ...built.issues];
  if (!loaded.ok || issues.some((i) => i.severity === 'error')) throw new ManifestsError(issues);
  return built.snapshot;
}

/** Paths that do not exist or were refused (devices, over the size limits), code `MANIFEST_PATHS`. */
export class ManifestPathsError extends GinghamError {
  constructor(
    readonly missing: readonly string[],
    readonly refused: readonly string[],
  ) {
    super('MANIFEST_PATHS', [...missing.map((p) => `no such file or directory: ${p}`), ...refused].join('\n'));
  }
}

/** A snapshot from files and directories. @throws ManifestsError, ManifestPathsError */
export async function snapshotFromFiles(paths: string | readonly string[]): Promise<Snapshot> {
  // Through a variable, so that bundlers and type checkers of platform-neutral code leave it alone.
  const specifier = 'node:fs/promises';
  const fs = (await import(specifier)) as ManifestFs;
  const read = await readManifestPaths(typeof paths === 'string' ? [paths] : paths, { stat: fs.stat, readdir: fs.readdir, open: fs.open });
  if (read.missing.length > 0 || read.refused.length > 0) throw new ManifestPathsError(read.missing, read.refused.map(describeRefusal));
  return snapshotFromManifests(read.inputs);
}
