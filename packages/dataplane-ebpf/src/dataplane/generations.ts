/**
 * Generations of the policy maps (design rationale in dataplane.ts): building generation N+1
 * completely (fresh maps, a full fill, a program bound to them, all pinned) before its program is
 * swapped onto the hooks, and the in-place map diff of every later batch. It must never unpin a
 * generation some hook may still run before the new one is on every hook, and never leave a
 * half-built generation pinned where a later run would take it for a complete one.
 */
import { mkdirSync } from 'node:fs';
import type { DataplaneState } from '@gingham/core';
import { createCollection, loadCollectionSpec, type BpfMap, type BpfProgram, type Collection, type CollectionSpec } from '@gingham/ebpf-loader';
import { compile, compileInto, type HostFacts, type Tables } from '../compile/index.js';
import { createTableWriter, DATAPATH_PROGRAM, encodeMetaValue, META_FLOW_LOGS, readDatapathObject, SHARED_MAP_NAMES, writeTables } from '../datapath.js';
import { MAP_NAMES, type MapName } from '../wire.js';
import { EbpfDataplaneError } from './errors.js';
import type { PinLayout } from './pins.js';

const PROGRAM = DATAPATH_PROGRAM;

/** A generation this process built and holds open. */
export interface Generation {
  readonly number: number;
  readonly collection: Collection;
  readonly maps: Record<MapName, BpfMap>;
  readonly program: BpfProgram;
  tables: Tables;
}

/** Loads the datapath object and checks it has the program and every map the dataplane uses. */
export function loadDatapathSpec(object: string): CollectionSpec {
  const s = loadCollectionSpec(readDatapathObject(object));
  const missing = [...MAP_NAMES, ...SHARED_MAP_NAMES].filter((m) => !s.maps[m]);
  if (!s.programs[PROGRAM] || missing.length > 0) {
    throw new EbpfDataplaneError('EBPF_OBJECT_INVALID', `datapath object ${object} lacks ${[...(s.programs[PROGRAM] ? [] : [`program ${PROGRAM}`]), ...missing.map((m) => `map ${m}`)].join(', ')}`, { detail: [object] });
  }
  return s;
}

function clearMap(m: BpfMap): void {
  const keys: Uint8Array[] = [];
  for (let k = m.nextKey(); k; k = m.nextKey(k)) keys.push(k);
  for (const k of keys) m.delete(k);
}

function writeMeta(c: Collection, generation: number, flowLogs: boolean): void {
  const key = new Uint8Array(4);
  c.map('meta').update(key, encodeMetaValue(BigInt(generation), flowLogs ? META_FLOW_LOGS : 0));
}

export interface BuildGenerationOptions {
  readonly spec: CollectionSpec;
  readonly layout: PinLayout;
  readonly state: DataplaneState;
  /** The generation this process holds, if any (the new one is numbered past it and every pinned one). */
  readonly current: number | undefined;
  /** Re-reads the host facts and returns them (called once, before compiling). */
  readonly facts: () => HostFacts;
  /** Puts the new, pinned program on every hook (an atomic swap where a hook holds an older one). */
  readonly swapHooks: (program: BpfProgram) => void;
  readonly flowLogs: boolean;
}

export interface BuiltGeneration {
  readonly generation: Generation;
  /** Map writes of the full fill. */
  readonly writes: number;
  /** The generation it replaced, if any. */
  readonly replaced: number | undefined;
}

/**
 * Builds generation N+1 completely, swaps it in on every hook, then drops the older ones. On a
 * failure before the swap nothing of it stays pinned; after the swap hooks keep this (complete)
 * generation alive through their links and the next build moves every hook to another one.
 */
export function buildGeneration(o: BuildGenerationOptions): BuiltGeneration {
  const { layout } = o;
  mkdirSync(layout.root, { recursive: true });
  // Only this process may program the instance (the lock): a temporary pin is a killed run's.
  layout.removeTree(layout.tmpDir);
  const older = layout.generations();
  const number = Math.max(older.at(-1) ?? 0, o.current ?? 0) + 1;
  const collection = createCollection(o.spec, { pinPath: layout.root, programs: [PROGRAM] });
  const dir = layout.generationDir(number);
  let swapped = false;
  let result: ReturnType<typeof compileInto>;
  let maps: Record<MapName, BpfMap>;
  let program: BpfProgram;
  try {
    maps = Object.fromEntries(MAP_NAMES.map((n) => [n, collection.map(n)])) as Record<MapName, BpfMap>;
    program = collection.program(PROGRAM);
    // The full fill goes to the new maps while it is compiled, in the diff's order, in bounded
    // batches from reused slabs: no program reads these maps before the swap below, and no write
    // is held past its batch (at 100k × 10k, 131k writes held until written were ~54 MiB of heap).
    const writer = createTableWriter(maps);
    result = compileInto(o.state, writer.write, undefined, o.facts());
    writer.end();
    for (const n of MAP_NAMES) maps[n].pin(`${dir}/${n}`);
    program.pin(`${dir}/${PROGRAM}`);
    swapped = true;
    o.swapHooks(program);
    writeMeta(collection, number, o.flowLogs);
    for (const g of older) if (g !== number) layout.removeTree(layout.generationDir(g));
    // Counter keys are policy numbers of the compiler that built the generation: a new
    // compiler numbers afresh, so counts restart with the generation.
    if (older.length > 0) clearMap(collection.map('counters'));
  } catch (e) {
    collection.close();
    if (!swapped) layout.removeTree(dir);
    throw e;
  }
  return { generation: { number, collection, maps, program, tables: result.tables }, writes: result.writes, replaced: older.at(-1) ?? o.current };
}

/** What the messages since a generation's tables touched (`CompileOptions`' hints). */
export interface DirtyIds {
  readonly sets: ReadonlySet<string>;
  /** Per dirty set edited by member messages only: the members added or removed. */
  readonly members: ReadonlyMap<string, ReadonlySet<string>>;
  readonly policies: ReadonlySet<string>;
  readonly profiles: ReadonlySet<string>;
}

/**
 * Writes the compiler's ordered, gap-free diff from `g`'s tables to the live maps; returns the
 * number of writes. `dirty`: the IP sets, policies and profiles the messages since `g.tables`
 * touched (undefined: any may have changed).
 */
export function updateGeneration(g: Generation, state: DataplaneState, facts: HostFacts, dirty?: DirtyIds): number {
  const result = compile(state, g.tables, facts, dirty ? { dirtySets: dirty.sets, dirtyMembers: dirty.members, dirtyPolicies: dirty.policies, dirtyProfiles: dirty.profiles } : {});
  writeTables(g.maps, result.writes);
  g.tables = result.tables;
  return result.writes.length;
}
