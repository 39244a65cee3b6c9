/**
 * Writing the directory datastore safely: one writer at a time (a lock file holding the
 * writer's PID; a lock whose process is gone is taken over), and every file replaced whole by
 * rename-into-place (a temp file in the same directory, fsynced, renamed, the directory fsynced),
 * so a reader never sees half a file. Editing a multi-document file replaces or removes one
 * document (or one `List` item) and keeps the others as they were.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments, stringify as stringifyYaml, type Document } from 'yaml';
import { DatastoreError } from '../errors.js';

export const LOCK_FILE = '.gingham.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding the directory's write lock. */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  await mkdir(dir, { recursive: true });
  const lock = join(dir, LOCK_FILE);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new DatastoreError('DS_LOCKED', `${dir} is being written by process ${holder || '?'} (lock ${lock}); try again, or remove the lock if that process is gone`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Replaces `path` with `text` atomically (or removes it when `text` is undefined). */
export async function replaceFile(path: string, text: string | undefined): Promise<void> {
  const dir = dirname(path);
  if (text === undefined) {
    await unlink(path);
  } else {
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${basename(path)}.gingham-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

const isJson = (path: string) => /\.json$/i.test(path);

/** The text of a new file holding `value`. */
export function renderNew(path: string, value: object): string {
  return isJson(path) ? `${JSON.stringify(value, null, 2)}\n` : stringifyYaml(value);
}

/** `text` with `value` added as one more document (or array element for JSON). */
export function appendDocument(path: string, text: string, value: object): string {
  if (isJson(path)) {
    const data = JSON.parse(text) as unknown;
    const out = Array.isArray(data) ? [...data, value] : [data, value];
    return `${JSON.stringify(out, null, 2)}\n`;
  }
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}---\n${stringifyYaml(value)}`;
}

/**
 * `text` with document `docIndex` (item `itemIndex` of a top-level array or `List`) replaced by
 * `value`, or removed when `value` is undefined; undefined when nothing is left.
 */
export function editDocument(path: string, text: string, docIndex: number, itemIndex: number | undefined, value: object | undefined): string | undefined {
  if (isJson(path)) return editJson(text, itemIndex, value);
  const docs = parseAllDocuments(text) as Document.Parsed[];
  if (!Array.isArray(docs) || docIndex >= docs.length) throw new DatastoreError('DS_CONFLICT', `${path} changed while it was being edited; try again`);
  const doc = docs[docIndex]!;
  /** A new node for `value` that keeps the comments around the node it replaces. */
  const nodeFor = (old: unknown, v: object) => {
    const node = doc.createNode(v);
    const o = old as { commentBefore?: string | null; comment?: string | null; items?: { key?: { commentBefore?: string | null } }[] } | null;
    // A comment above a mapping is kept on the mapping or on its first key.
    const before = o?.commentBefore ?? o?.items?.[0]?.key?.commentBefore;
    if (before) node.commentBefore = before;
    if (o?.comment) node.comment = o.comment;
    return node;
  };
  if (itemIndex === undefined) {
    if (value === undefined) docs.splice(docIndex, 1);
    else doc.contents = nodeFor(doc.contents, value) as Document.Parsed['contents'];
  } else {
    const seq = (doc.get('items', true) ?? doc.contents) as { items?: unknown[] } | null;
    if (!seq || !Array.isArray(seq.items) || itemIndex >= seq.items.length) throw new DatastoreError('DS_CONFLICT', `${path} changed while it was being edited; try again`);
    if (value === undefined) seq.items.splice(itemIndex, 1);
    else seq.items[itemIndex] = nodeFor(seq.items[itemIndex], value);
    if (seq.items.length === 0) docs.splice(docIndex, 1);
  }
  if (docs.length === 0) return undefined;
  const out = docs.map((d, i) => {
    const s = d.toString();
    return i > 0 && !s.startsWith('---') ? `---\n${s}` : s;
  });
  return out.join('');
}

function editJson(text: string, itemIndex: number | undefined, value: object | undefined): string | undefined {
  const data = JSON.parse(text) as unknown;
  if (itemIndex === undefined) return value === undefined ? undefined : `${JSON.stringify(value, null, 2)}\n`;
  const list = Array.isArray(data) ? data : ((data as { items?: unknown[] }).items ?? []);
  if (value === undefined) list.splice(itemIndex, 1);
  else list[itemIndex] = value;
  if (list.length === 0) return undefined;
  return `${JSON.stringify(data, null, 2)}\n`;
}
