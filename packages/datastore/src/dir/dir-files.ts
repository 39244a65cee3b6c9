/**
 * Reading the directory datastore: the tree of manifest files (`.yaml`, `.yml`, `.json`; names
 * starting with `.` are skipped, so editors' swap files and our own temp files never count),
 * each file validated whole by core's loader (a file with any error contributes nothing), and
 * the resources of all good files merged, the first file in path order winning a duplicate.
 * `clusterinformations/` holds the ClusterInformation that `datastore init` writes (core does not
 * model that kind, so it is read here).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LIMITS, formatIssue, loadManifests, MANIFEST_FILE_PATTERN, type Issue, type ResourceKey, type SourceProblem } from '@gingham/core';
import { parse as parseYaml } from 'yaml';
import { kindOf, type KindInfo } from '../kinds.js';
import { canonicalJson, checkResource, errorsOf, keyId, keyOf, type StoredResource } from '../resource.js';

export const CLUSTER_INFO_DIR = 'clusterinformations';

/** What identifies one version of a file without reading it. */
export interface FileSig {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

export interface TreeFile {
  /** Path relative to the datastore directory, `/`-separated. */
  readonly rel: string;
  readonly abs: string;
  readonly sig: FileSig;
}

export const sameSig = (a: FileSig | undefined, b: FileSig | undefined): boolean => !!a && !!b && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;

/** Every manifest file under `dir`, sorted by path (byte order); `missing` when `dir` does not exist. */
export async function walkTree(dir: string): Promise<{ files: TreeFile[]; missing: boolean }> {
  const files: TreeFile[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      if (rel === '' && (err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const childAbs = join(abs, e.name);
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        await walk(childAbs, childRel);
      } else if (MANIFEST_FILE_PATTERN.test(e.name) && (e.isFile() || e.isSymbolicLink())) {
        try {
          const st = await stat(childAbs);
          if (st.isFile()) files.push({ rel: childRel, abs: childAbs, sig: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } });
        } catch {
          // vanished between readdir and stat
        }
      }
    }
  };
  try {
    await walk(dir, '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { files: [], missing: true };
    throw err;
  }
  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return { files, missing: false };
}

/** One resource as the directory holds it. */
export interface DirEntry {
  readonly resource: StoredResource;
  readonly key: ResourceKey;
  readonly info: KindInfo;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly docIndex: number;
  readonly itemIndex?: number;
}

export interface ParsedFile {
  /** No errors: `entries` is the whole file. */
  readonly ok: boolean;
  readonly entries: DirEntry[];
  readonly issues: Issue[];
}

/** The resourceVersion of a directory resource: a digest of its content (without resourceVersion). */
export function contentVersion(resource: object): string {
  const r = resource as { metadata?: Record<string, unknown> };
  const { resourceVersion: _, ...meta } = r.metadata ?? {};
  return createHash('sha256').update(canonicalJson({ ...r, metadata: meta })).digest('hex').slice(0, 16);
}

const withVersion = (resource: Record<string, unknown>): StoredResource => {
  const meta = { ...(resource['metadata'] as Record<string, unknown>) };
  delete meta['resourceVersion'];
  const clean = { ...resource, metadata: meta };
  return { ...clean, metadata: { ...meta, resourceVersion: contentVersion(clean) } } as unknown as StoredResource;
};

/** Validates one file whole. */
export function parseFile(rel: string, text: string): ParsedFile {
  if (rel.startsWith(`${CLUSTER_INFO_DIR}/`)) return parseClusterInfo(rel, text);
  const loaded = loadManifests([{ file: rel, text }]);
  if (!loaded.ok) return { ok: false, entries: [], issues: loaded.issues };
  const entries: DirEntry[] = [];
  for (const r of loaded.resources) {
    const info = kindOf(r.resource.apiVersion, r.resource.kind);
    if (!info) continue;
    const resource = withVersion(r.resource as unknown as Record<string, unknown>);
    entries.push({
      resource,
      key: keyOf(resource, info),
      info,
      file: rel,
      line: r.line,
      col: r.col,
      docIndex: r.docIndex,
      ...(r.itemIndex === undefined ? {} : { itemIndex: r.itemIndex }),
    });
  }
  return { ok: true, entries, issues: loaded.issues };
}

function parseClusterInfo(rel: string, text: string): ParsedFile {
  const fail = (message: string): ParsedFile => ({
    ok: false,
    entries: [],
    issues: [{ severity: 'error', code: 'invalid-cluster-information', message, file: rel, line: 1, col: 1, kind: 'ClusterInformation', name: '-', path: '' }],
  });
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    return fail(`not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const v = value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } | null;
  if (v === null || typeof v !== 'object' || v.kind !== 'ClusterInformation' || v.apiVersion !== 'projectcalico.org/v3') {
    return fail(`${CLUSTER_INFO_DIR}/ holds only the projectcalico.org/v3 ClusterInformation written by 'gingham datastore init'`);
  }
  const issues = checkResource(value, { file: rel, at: () => ({ line: 1, col: 1 }) });
  if (errorsOf(issues).length > 0) return { ok: false, entries: [], issues };
  const info = kindOf('projectcalico.org/v3', 'ClusterInformation')!;
  const resource = withVersion(value as Record<string, unknown>);
  return { ok: true, entries: [{ resource, key: keyOf(resource, info), info, file: rel, line: 1, col: 1, docIndex: 0 }], issues };
}

/** A file that is too large is refused before it is read. */
export const MAX_FILE_BYTES = DEFAULT_LIMITS.maxInputBytes;

/** Reads and validates one file; a read error or an oversized file is a failed parse. */
export async function readAndParse(file: TreeFile): Promise<ParsedFile> {
  const fail = (message: string): ParsedFile => ({ ok: false, entries: [], issues: [{ severity: 'error', code: 'unreadable', message, file: file.rel, line: 0, col: 0, kind: '-', name: '-', path: '' }] });
  if (file.sig.size > MAX_FILE_BYTES) return fail(`larger than ${MAX_FILE_BYTES} bytes; not read`);
  let text: string;
  try {
    text = await readFile(file.abs, 'utf8');
  } catch (err) {
    return fail(`cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseFile(file.rel, text);
}

/** The merged view of every good file: first file in path order wins a duplicate. */
export interface DirView {
  readonly entries: Map<string, DirEntry>;
  /** Files with errors and duplicates, one problem per file. */
  readonly problems: SourceProblem[];
}

/** Merges parsed files (given in path order). */
export function mergeFiles(parsed: readonly { rel: string; parsed: ParsedFile }[]): DirView {
  const entries = new Map<string, DirEntry>();
  const problems: SourceProblem[] = [];
  for (const { rel, parsed: p } of parsed) {
    if (!p.ok) {
      const errors = errorsOf(p.issues);
      problems.push({ where: rel, message: `${errors.length} error(s), the file is not read: ${errors.slice(0, 3).map(formatIssue).join('; ')}${errors.length > 3 ? '; …' : ''}`, issues: errors });
      continue;
    }
    const dups: string[] = [];
    for (const e of p.entries) {
      const id = keyId(e.key);
      const first = entries.get(id);
      if (first) dups.push(`${e.key.kind} ${e.key.namespace ? `${e.key.namespace}/` : ''}${e.key.name} (${rel}:${e.line}:${e.col}) is also in ${first.file}:${first.line}:${first.col}, which wins`);
      else entries.set(id, e);
    }
    if (dups.length > 0) problems.push({ where: rel, message: dups.join('; ') });
  }
  return { entries, problems };
}

/** Reads the whole directory now. */
export async function readDir(dir: string): Promise<DirView & { missing: boolean }> {
  const { files, missing } = await walkTree(dir);
  const parsed = await Promise.all(files.map(async (f) => ({ rel: f.rel, parsed: await readAndParse(f) })));
  return { ...mergeFiles(parsed), missing };
}
