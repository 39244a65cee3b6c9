/**
 * Selector benchmark: compiled matchers vs the AST interpreter vs `sift` (Mongo-style queries
 * written to mean the same thing) over the same 10k label maps, plus parse cost. Rows go to
 * `emit` as `{bench, metric, value, unit}`; compare ratios within one run only (the machine is
 * shared and noisy). Each figure is the median of several timed repetitions after a warm-up.
 *
 *   npx tsx -e "import('./packages/core/src/selector/selector.bench.ts').then(m=>m.runSelectorBench(r=>console.log(JSON.stringify(r))))"
 */
import siftModule from 'sift';
import type { Labels } from '../model/types.js';
import { interpretSelector } from './interpret.js';
import { parseSelectorAst } from './parser.js';
import { clearSelectorCache, parseSelector, type Selector } from './selector.js';

// sift ships CommonJS whose module.exports is the tester factory and also carries it as
// `.default`; under NodeNext typing only `.default` is visible, and it works at runtime too.
const sift = siftModule.default;

type Row = { bench: string; metric: string; value: number; unit: string };

const MAPS = 10_000;
const WARMUP = 2;
const REPS = 9;

/** The same question asked three ways; `sift` gets a query built to match exactly the same maps. */
const CASES: ReadonlyArray<{ name: string; selector: string; query: Record<string, unknown> }> = [
  { name: 'eq', selector: "app == 'web'", query: { app: 'web' } },
  {
    name: 'eq-in-has',
    selector: "app == 'web' && tier in {'fe', 'be'} && has(env)",
    query: { app: 'web', tier: { $in: ['fe', 'be'] }, env: { $exists: true } },
  },
  {
    name: 'ne-not-has',
    selector: "env != 'prod' && !has(team)",
    query: { env: { $ne: 'prod' }, team: { $exists: false } },
  },
  {
    name: 'or-not-in',
    selector: "(app == 'db' || app == 'cache') && version not in {'v1', 'v2', 'v3'}",
    query: { $or: [{ app: 'db' }, { app: 'cache' }], version: { $nin: ['v1', 'v2', 'v3'] } },
  },
  {
    name: 'starts-contains',
    selector: "ns == 'ns3' && app starts with 'w' && name contains '7'",
    query: { ns: 'ns3', app: { $regex: /^w/ }, name: { $regex: /7/ } },
  },
  {
    name: 'k8s-policy-like',
    selector: "orchestrator == 'k8s' && ns == 'ns1' && (role in {'frontend', 'backend', 'cache', 'queue'} || !has(role))",
    query: {
      orchestrator: 'k8s',
      ns: 'ns1',
      $or: [{ role: { $in: ['frontend', 'backend', 'cache', 'queue'] } }, { role: { $exists: false } }],
    },
  },
];

/** Deterministic PRNG (mulberry32) so every run measures the same data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeLabelMaps(count: number): Labels[] {
  const rand = prng(0x5e1ec7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const maps: Labels[] = [];
  for (let i = 0; i < count; i++) {
    const m: Record<string, string> = {
      app: pick(['web', 'api', 'db', 'cache', 'worker']),
      tier: pick(['fe', 'be', 'data']),
      ns: `ns${Math.floor(rand() * 20)}`,
      name: `pod-${i}`,
      orchestrator: rand() < 0.9 ? 'k8s' : 'cni',
    };
    if (rand() < 0.8) m.env = pick(['prod', 'staging', 'dev']);
    if (rand() < 0.5) m.team = pick(['a', 'b', 'c']);
    if (rand() < 0.7) m.version = `v${1 + Math.floor(rand() * 5)}`;
    if (rand() < 0.6) m.role = pick(['frontend', 'backend', 'cache', 'queue', 'batch']);
    for (let k = Math.floor(rand() * 4); k > 0; k--) m[`extra-${Math.floor(rand() * 50)}`] = String(k);
    maps.push(m);
  }
  return maps;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Runs `body` `warmup` + REPS times (calling the untimed `setup` before each); returns the
 * median wall time of the timed reps in ns.
 */
function timeMedian(body: () => number, warmup = WARMUP, setup?: () => void): { ns: number; sink: number } {
  let sink = 0;
  for (let i = 0; i < warmup; i++) {
    setup?.();
    sink += body();
  }
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    setup?.();
    const t0 = performance.now();
    sink += body();
    times.push((performance.now() - t0) * 1e6);
  }
  return { ns: median(times), sink };
}

function countMatches(test: (labels: Labels) => boolean, maps: readonly Labels[]): number {
  let n = 0;
  for (let i = 0; i < maps.length; i++) if (test(maps[i]!)) n++;
  return n;
}

/** Runs the selector benchmark and reports through `emit` (see the file header). */
export async function runSelectorBench(emit: (row: Row) => void): Promise<void> {
  const maps = makeLabelMaps(MAPS);
  const selectors: Selector[] = CASES.map((c) => parseSelector(c.selector));
  const compiled = selectors.map((s) => s.matches);
  const interpreted = selectors.map((s) => (labels: Labels) => interpretSelector(s.ast, labels));
  const sifted = CASES.map((c) => sift(c.query) as (labels: Labels) => boolean);

  // The three must agree on every map, or the comparison means nothing.
  CASES.forEach((c, i) => {
    const counts = [compiled, interpreted, sifted].map((fns) => countMatches(fns[i]!, maps));
    if (new Set(counts).size !== 1) throw new Error(`selector bench: ${c.name} disagrees: ${counts.join(' / ')}`);
    emit({ bench: 'selector', metric: `matches.${c.name}`, value: counts[0]!, unit: 'maps' });
  });

  const evaluations = maps.length * CASES.length;
  const run = (fns: ReadonlyArray<(labels: Labels) => boolean>) => () => {
    let total = 0;
    for (const fn of fns) total += countMatches(fn, maps);
    return total;
  };
  // Interleave engines so drift in machine load hits all of them alike.
  const results = { compiled: [] as number[], interpreter: [] as number[], sift: [] as number[] };
  for (let round = 0; round < 3; round++) {
    results.compiled.push(timeMedian(run(compiled)).ns);
    results.interpreter.push(timeMedian(run(interpreted)).ns);
    results.sift.push(timeMedian(run(sifted)).ns);
  }
  const perMatch = {
    compiled: median(results.compiled) / evaluations,
    interpreter: median(results.interpreter) / evaluations,
    sift: median(results.sift) / evaluations,
  };
  emit({ bench: 'selector', metric: 'match.compiled', value: perMatch.compiled, unit: 'ns/match' });
  emit({ bench: 'selector', metric: 'match.interpreter', value: perMatch.interpreter, unit: 'ns/match' });
  emit({ bench: 'selector', metric: 'match.sift', value: perMatch.sift, unit: 'ns/match' });
  emit({ bench: 'selector', metric: 'ratio.interpreter_over_compiled', value: perMatch.interpreter / perMatch.compiled, unit: 'x' });
  emit({ bench: 'selector', metric: 'ratio.sift_over_compiled', value: perMatch.sift / perMatch.compiled, unit: 'x' });

  // Parsing: tokenize + parse only; the full uncached parseSelector (adds print, compile, cache
  // insert); the first uniqueId access (SHA-224 of the canonical text); a cache hit.
  const texts = CASES.map((c) => c.selector);
  const PARSES = 2_000;
  const fresh = (i: number): string => `${texts[i % texts.length]!} && has(k${i})`;
  const ast = timeMedian(() => {
    let n = 0;
    for (let i = 0; i < PARSES; i++) n += parseSelectorAst(texts[i % texts.length]!).kind.length;
    return n;
  }, 10);
  emit({ bench: 'selector', metric: 'parse.ast', value: ast.ns / PARSES, unit: 'ns/parse' });
  const uncached = timeMedian(() => {
    clearSelectorCache();
    let n = 0;
    for (let i = 0; i < PARSES; i++) n += parseSelector(fresh(i)).ast.kind.length;
    return n;
  }, 10);
  emit({ bench: 'selector', metric: 'parse.uncached', value: uncached.ns / PARSES, unit: 'ns/parse' });
  let batch: Selector[] = [];
  const ids = timeMedian(
    () => {
      let n = 0;
      for (const sel of batch) n += sel.uniqueId.length;
      return n;
    },
    10,
    () => {
      clearSelectorCache();
      batch = Array.from({ length: PARSES }, (_, i) => parseSelector(fresh(i)));
    },
  );
  emit({ bench: 'selector', metric: 'unique_id', value: ids.ns / PARSES, unit: 'ns/id' });
  for (const text of texts) parseSelector(text);
  const hits = timeMedian(() => {
    let n = 0;
    for (let i = 0; i < PARSES; i++) n += parseSelector(texts[i % texts.length]!).ast.kind.length;
    return n;
  }, 10);
  emit({ bench: 'selector', metric: 'parse.cache_hit', value: hits.ns / PARSES, unit: 'ns/parse' });
  clearSelectorCache();
}
