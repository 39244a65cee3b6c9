/**
 * The directory source: edits, a file that stops validating keeps its last good content in
 * force and reports the error, a deleted file removes its resources, atomic per file (a file
 * being written is never read half; rename-into-place is picked up whole), duplicates, a
 * missing directory (fail closed), and the source law as a property over random file edits.
 */
import { appendFile, mkdir, mkdtemp, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySourceMessages, canonicalDataplaneState, createEngine, RecordingDataplane, type Resource, type SourceMessage } from '@gingham/core';
import { propRuns } from '@gingham/testkit';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDirDatastore, type DirSource, type SourceLogEntry } from '../src/index.js';
import { eventually } from './support/etcd.js';

const gnp = (name: string, order = 1): Resource => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec: { order, selector: 'all()', ingress: [{ action: 'Allow' }] } });
const docs = (...rs: Resource[]) => rs.map((r) => stringify(r)).join('---\n');

function recorder() {
  const batches: SourceMessage[][] = [];
  return {
    batches,
    sink: (m: readonly SourceMessage[]) => void batches.push([...m]),
    summary: (from = 0) =>
      batches
        .slice(from)
        .flat()
        .map((m) => (m.kind === 'upsert' ? `upsert ${m.resource.metadata.name}:${(m.resource.spec as { order?: number }).order}` : m.kind === 'delete' ? `delete ${m.key.name}` : m.kind)),
  };
}

describe('directory source', () => {
  let dir: string;
  let source: DirSource | undefined;
  const log: SourceLogEntry[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gingham-dirsrc-'));
    log.length = 0;
  });
  afterEach(async () => {
    await source?.close();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (settleMs = 40) => {
    const rec = recorder();
    source = createDirDatastore({ dir }).source({ settleMs, pollIntervalMs: 100, log: (e) => log.push(e) });
    await source.start(rec.sink);
    return rec;
  };
  /** Writes a file and backdates nothing: the source waits for it to be quiet. */
  const put = (rel: string, text: string) => mkdir(join(dir, rel, '..'), { recursive: true }).then(() => writeFile(join(dir, rel), text));

  it('delivers every file, then only what an edit changed, and deletes what a deleted file held', async () => {
    await put('a.yaml', docs(gnp('a1'), gnp('a2')));
    await put('sub/b.yaml', docs(gnp('b1')));
    const rec = await start();
    expect(rec.summary()).toEqual(['resync-started', 'upsert a1:1', 'upsert a2:1', 'upsert b1:1', 'in-sync']);
    expect(source!.status()).toMatchObject({ phase: 'in-sync', connected: true, resources: 3 });

    let mark = rec.batches.length;
    await put('a.yaml', docs(gnp('a1', 5), gnp('a2')));
    await eventually('the edit', () => rec.summary(mark).length > 0);
    expect(rec.summary(mark)).toEqual(['upsert a1:5']);

    mark = rec.batches.length;
    await unlink(join(dir, 'sub/b.yaml'));
    await eventually('the delete', () => rec.summary(mark).length > 0);
    expect(rec.summary(mark)).toEqual(['delete b1']);
  });

  it('a file that stops validating keeps its last good content in force and reports where; fixing it applies', async () => {
    await put('p.yaml', docs(gnp('p1'), gnp('p2')));
    const rec = await start();
    const mark = rec.batches.length;
    await put('p.yaml', `${docs(gnp('p1', 9))}---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p2}\nspec: {selector: "app =="}\n`);
    await eventually('the problem', () => source!.status().problems.length === 1);
    const problem = source!.status().problems[0]!;
    expect(problem.where).toBe('p.yaml');
    expect(problem.message).toMatch(/first p\.yaml:\d+:\d+: GlobalNetworkPolicy\/p2 spec\.selector: .*; its last valid content stays in force/);
    expect(log.some((e) => e.code === 'INVALID_FILE' && e.level === 'error')).toBe(true);
    // Nothing of the broken file applied: not even its valid first document.
    await new Promise((r) => setTimeout(r, 250));
    expect(rec.summary(mark)).toEqual([]);
    await put('p.yaml', docs(gnp('p1', 9)));
    await eventually('the fix', () => rec.summary(mark).length >= 2);
    expect(rec.summary(mark)).toEqual(['upsert p1:9', 'delete p2']);
    expect(source!.status().problems).toEqual([]);
  });

  it('never reads a file while it is being written; a renamed-into-place file is read whole', async () => {
    await mkdir(dir, { recursive: true });
    const rec = await start(300);
    const mark = rec.batches.length;
    // A slow writer: half the file, then it keeps writing (mtime moves) for longer than the
    // quiet period in total, each pause shorter than it, then the rest.
    const text = docs(gnp('slow1'), gnp('slow2'));
    const cut = text.indexOf('---');
    await writeFile(join(dir, 'slow.yaml'), text.slice(0, cut + 2));
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const now = new Date();
      await utimes(join(dir, 'slow.yaml'), now, now);
    }
    await appendFile(join(dir, 'slow.yaml'), text.slice(cut + 2));
    await eventually('the whole file', () => rec.summary(mark).length >= 2, 5000);
    expect(rec.summary(mark)).toEqual(['upsert slow1:1', 'upsert slow2:1']);
    expect(rec.batches.slice(mark)).toHaveLength(1);
    expect(source!.status().counters['invalid'] ?? 0).toBe(0);

    const m2 = rec.batches.length;
    await writeFile(join(dir, '.tmp-new'), docs(gnp('renamed')));
    await rename(join(dir, '.tmp-new'), join(dir, 'renamed.yaml'));
    await eventually('the renamed file', () => rec.summary(m2).length > 0, 5000);
    expect(rec.summary(m2)).toEqual(['upsert renamed:1']);
  });

  it('a resource in two files comes from the first in path order; the other is reported', async () => {
    await put('a.yaml', docs(gnp('same', 1)));
    await put('b.yaml', docs(gnp('same', 2), gnp('only-b')));
    const rec = await start();
    expect(rec.summary()).toEqual(['resync-started', 'upsert same:1', 'upsert only-b:1', 'in-sync']);
    expect(source!.status().problems.map((p) => p.where)).toEqual(['b.yaml (duplicates)']);
    const mark = rec.batches.length;
    await unlink(join(dir, 'a.yaml'));
    await eventually('b takes over', () => rec.summary(mark).length > 0);
    expect(rec.summary(mark)).toEqual(['upsert same:2']);
    expect(source!.status().problems).toEqual([]);
  });

  it('a missing directory keeps the last state in force and says so; an empty one removes everything', async () => {
    await put('a.yaml', docs(gnp('a')));
    const rec = await start();
    const mark = rec.batches.length;
    await rm(dir, { recursive: true });
    await eventually('DIR_MISSING', () => source!.status().lastError?.code === 'DIR_MISSING');
    expect(source!.status().connected).toBe(false);
    expect(rec.summary(mark)).toEqual([]);
    await mkdir(dir);
    await eventually('the empty directory', () => rec.summary(mark).length > 0);
    expect(rec.summary(mark)).toEqual(['delete a']);
    expect(source!.status().connected).toBe(true);
  });

  it('writes through the datastore are picked up by its source', async () => {
    const ds = createDirDatastore({ dir });
    const rec = recorder();
    source = ds.source({ settleMs: 40, pollIntervalMs: 100 });
    await source.start(rec.sink);
    const mark = rec.batches.length;
    await ds.create(gnp('via-ds'));
    await eventually('the created policy', () => rec.summary(mark).length > 0);
    expect(rec.summary(mark)).toEqual(['upsert via-ds:1']);
    await ds.close();
  });
});

describe('directory source law', () => {
  const wep = (n: number, app: string): Resource => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: `n1-k8s-p${n}-eth0`, namespace: 'ns', labels: { app } },
    spec: { node: 'n1', orchestrator: 'k8s', workload: `p${n}`, endpoint: 'eth0', interfaceName: `cali${n}`, ipNetworks: [`10.0.0.${n + 1}/32`] },
  });
  const pol = (n: number, app: string, port: number): Resource => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: `g${n}` },
    spec: { selector: `app == '${app}'`, ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [port] } }] },
  });
  const arbResource = fc.oneof(
    fc.record({ n: fc.integer({ min: 0, max: 3 }), app: fc.constantFrom('web', 'db') }).map((p) => wep(p.n, p.app)),
    fc.record({ n: fc.integer({ min: 0, max: 2 }), app: fc.constantFrom('web', 'db'), port: fc.constantFrom(80, 443) }).map((p) => pol(p.n, p.app, p.port)),
  );
  const FILES = ['a.yaml', 'b.yaml', 'sub/c.yaml'];
  type Op = { op: 'write'; file: string; rs: Resource[]; atomic: boolean } | { op: 'invalid'; file: string } | { op: 'delete'; file: string };
  const arbOps = fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.record({ file: fc.constantFrom(...FILES), rs: fc.array(arbResource, { maxLength: 3 }), atomic: fc.boolean() }).map((p): Op => ({ op: 'write', ...p })) },
      { weight: 1, arbitrary: fc.constantFrom(...FILES).map((file): Op => ({ op: 'invalid', file })) },
      { weight: 1, arbitrary: fc.constantFrom(...FILES).map((file): Op => ({ op: 'delete', file })) },
    ),
    { maxLength: 10 },
  );

  it('an Engine fed by the directory source ends in the state of an Engine fed the files in force', async () => {
    await fc.assert(
      fc.asyncProperty(arbOps, async (ops) => {
        const dir = await mkdtemp(join(tmpdir(), 'gingham-dirlaw-'));
        const source = createDirDatastore({ dir }).source({ settleMs: 15, pollIntervalMs: 40 });
        try {
          const live = new RecordingDataplane({ keepBatches: false });
          const engine = createEngine({ node: 'n1', dataplane: live });
          await source.start((m) => {
            applySourceMessages(engine, m);
            void engine.flush();
          });
          /** file → last content that validated (in force), per the rules. */
          const good = new Map<string, Resource[]>();
          // Each step waits until the source has looked at it: a version that lives shorter than
          // the quiet period is never read, by design, and the model assumes every step is seen.
          const seen = () => (source.status().counters['filesRead'] ?? 0) + (source.status().counters['filesRemoved'] ?? 0);
          for (const o of ops) {
            const abs = join(dir, o.file);
            const before = seen();
            const existed = await stat(abs).then(() => true, () => false);
            await mkdir(join(abs, '..'), { recursive: true });
            if (o.op === 'delete') {
              await rm(abs, { force: true });
              good.delete(o.file);
            } else if (o.op === 'invalid') {
              await writeFile(abs, 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec: {selector: "=="}\n');
            } else {
              // Duplicates inside one file are an error of that file (nothing from it applies).
              const names = o.rs.map((r) => `${r.kind}/${r.metadata.name}`);
              const text = o.rs.length === 0 ? '' : docs(...o.rs);
              if (o.atomic) {
                await writeFile(`${join(abs, '..')}/.tmp`, text);
                await rename(`${join(abs, '..')}/.tmp`, abs);
              } else {
                await writeFile(abs, text);
              }
              if (new Set(names).size === names.length) good.set(o.file, o.rs);
            }
            if (o.op !== 'delete' || existed) await eventually(`the source to see ${o.op} ${o.file}`, () => seen() > before, 5000);
          }
          const world = new Map<string, Resource>();
          for (const file of [...good.keys()].sort()) for (const r of good.get(file)!) if (!world.has(`${r.kind}/${r.metadata.name}`)) world.set(`${r.kind}/${r.metadata.name}`, r);
          const fresh = new RecordingDataplane({ keepBatches: false });
          const reference = createEngine({ node: 'n1', dataplane: fresh });
          for (const r of world.values()) reference.upsert(r);
          void reference.flush();
          const want = canonicalDataplaneState(fresh.state);
          // Past the quiet period and a rescan, then until it converges (or the assertions below fail).
          await new Promise((r) => setTimeout(r, 100));
          await eventually('the source to converge', () => source.status().resources === world.size && JSON.stringify(canonicalDataplaneState(live.state)) === JSON.stringify(want), 5000).catch(() => undefined);
          expect(canonicalDataplaneState(live.state)).toEqual(want);
          expect(source.status().resources).toBe(world.size);
        } finally {
          await source.close();
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: propRuns(25) },
    );
  }, 120_000);
});
