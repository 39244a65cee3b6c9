/**
 * The shared middle of a one-shot enforcement command (`gingham enforce` for any dataplane):
 * read the `-f` paths, load and validate everything, and only then feed one node's Engine and
 * flush it into the dataplane. Nothing reaches the dataplane when a path is missing or refused
 * (too large, a device, not UTF-8) or any manifest has an error. I/O stays with the caller: it
 * passes the file-system calls and a line sink, so core remains pure.
 */
import type { Dataplane } from '../dataplane/messages.js';
import { formatIssue } from '../model/issues.js';
import { loadManifests } from '../load/load-manifests.js';
import { describeRefusal, type ManifestFs, readManifestPaths } from '../load/manifest-paths.js';
import { createEngine, type EngineStats } from './engine.js';

export interface EnforceOnceOptions {
  /** The `-f` arguments. */
  readonly paths: readonly string[];
  readonly node: string;
  readonly dataplane: Dataplane;
  readonly fs: ManifestFs;
  /** Receives every problem line (issues, missing paths, warnings), prefixed by `command`. */
  readonly report: (line: string) => void;
  /** Prefix of the lines this function writes itself, e.g. `gingham enforce`. */
  readonly command: string;
}

/**
 * Returns the Engine's stats after the flush, or undefined when nothing was changed because the
 * input was bad (the reasons went to `report`). Errors of the dataplane propagate.
 */
export async function enforceOnce(o: EnforceOnceOptions): Promise<EngineStats | undefined> {
  const read = await readManifestPaths(o.paths, o.fs);
  for (const path of read.missing) o.report(`${o.command}: no such file or directory: ${path}; nothing was changed`);
  for (const refused of read.refused) o.report(`${o.command}: ${describeRefusal(refused)}; nothing was changed`);
  if (read.missing.length > 0 || read.refused.length > 0) return undefined;
  const loaded = loadManifests(read.inputs);
  for (const issue of loaded.issues) o.report(formatIssue(issue));
  if (!loaded.ok) {
    o.report(`${o.command}: the manifests have errors; nothing was changed`);
    return undefined;
  }
  const engine = createEngine({ node: o.node, dataplane: o.dataplane });
  for (const r of loaded.resources) engine.upsert(r.resource);
  await engine.flush();
  const stats = engine.state();
  if (stats.localEndpoints === 0) o.report(`${o.command}: warning: node "${o.node}" has no endpoints in these manifests`);
  return stats;
}
