/**
 * The label index (libcalico-go `labelindex`): keeps which selectors match which labelled
 * items, incrementally. Selectors are filed under their most selective label restriction
 * (`k == v` / `k in {..}` → under each (k, v); `has(k)`-like → under k; nothing useful → the
 * small "always check" list); items are filed under every (key, value) they carry. A label
 * change therefore evaluates only the selectors filed under the item's old or new labels, and a
 * new selector only the items carrying its restriction. Never scans all items or selectors
 * except for unrestricted selectors (`all()`, `!has(x)`, `a != b`), which Calico also scans.
 */
import type { Labels } from '../model/types.js';
import { computeLabelRestrictions, type Selector } from '../selector/index.js';

type Filing = { kind: 'value'; label: string; values: readonly string[] } | { kind: 'presence'; label: string } | { kind: 'always' } | { kind: 'never' };

interface SelectorEntry {
  readonly selector: Selector | undefined;
  readonly filing: Filing;
  readonly matches: Set<string>;
}

interface ItemEntry {
  labels: Labels;
  /** Matching selector ids; a small array (items match few selectors), absent when none. */
  matches: string[] | undefined;
}

export type MatchCallback = (selectorId: string, itemId: string) => void;

export class LabelIndex {
  private readonly selectors = new Map<string, SelectorEntry>();
  private readonly items = new Map<string, ItemEntry>();
  /** label → value → item ids. */
  private readonly itemsByValue = new Map<string, Map<string, Set<string>>>();
  private readonly selByValue = new Map<string, Map<string, Set<string>>>();
  private readonly selByPresence = new Map<string, Set<string>>();
  private readonly selAlways = new Set<string>();
  /** Selector evaluations performed (for benchmarks and complexity tests). */
  evaluations = 0;

  constructor(
    private readonly onMatch: MatchCallback,
    private readonly onUnmatch: MatchCallback,
  ) {}

  get itemCount(): number {
    return this.items.size;
  }

  get selectorCount(): number {
    return this.selectors.size;
  }

  itemsMatching(selectorId: string): ReadonlySet<string> {
    return this.selectors.get(selectorId)?.matches ?? EMPTY;
  }

  selectorsMatching(itemId: string): readonly string[] {
    return this.items.get(itemId)?.matches ?? NONE;
  }

  hasSelector(selectorId: string): boolean {
    return this.selectors.has(selectorId);
  }

  /** Adds or replaces a selector (`undefined` = matches nothing, e.g. unparseable text). */
  upsertSelector(id: string, selector: Selector | undefined): void {
    const old = this.selectors.get(id);
    if (old && old.selector === selector) return;
    if (old) this.unfile(id, old.filing);
    const filing = this.chooseFiling(selector);
    const entry: SelectorEntry = { selector, filing, matches: old?.matches ?? new Set() };
    this.selectors.set(id, entry);
    this.file(id, filing);
    const next = new Set<string>();
    if (selector) {
      const test = (itemId: string): void => {
        const item = this.items.get(itemId)!;
        this.evaluations++;
        if (selector.matches(item.labels)) next.add(itemId);
      };
      if (filing.kind === 'value') {
        const byV = this.itemsByValue.get(filing.label);
        if (byV) for (const v of filing.values) for (const i of byV.get(v) ?? EMPTY) test(i);
      } else if (filing.kind === 'presence') {
        for (const set of this.itemsByValue.get(filing.label)?.values() ?? []) for (const i of set) test(i);
      } else if (filing.kind === 'always') {
        for (const i of this.items.keys()) test(i);
      }
    }
    for (const i of [...entry.matches]) if (!next.has(i)) this.stop(id, entry, i);
    for (const i of next) if (!entry.matches.has(i)) this.start(id, entry, i);
  }

  deleteSelector(id: string): void {
    const entry = this.selectors.get(id);
    if (!entry) return;
    for (const i of [...entry.matches]) this.stop(id, entry, i);
    this.unfile(id, entry.filing);
    this.selectors.delete(id);
  }

  /** Adds or relabels an item; only selectors filed under its old or new labels are evaluated. */
  upsertItem(id: string, labels: Labels): void {
    let item = this.items.get(id);
    if (item) {
      if (sameLabels(item.labels, labels)) return;
      this.unfileItem(id, item.labels);
      item.labels = labels;
    } else {
      item = { labels, matches: undefined };
      this.items.set(id, item);
    }
    this.fileItem(id, labels);
    const candidates = new Set<string>(this.selAlways);
    for (const k in labels) {
      const v = labels[k]!;
      for (const s of this.selByValue.get(k)?.get(v) ?? EMPTY) candidates.add(s);
      for (const s of this.selByPresence.get(k) ?? EMPTY) candidates.add(s);
    }
    const next = new Set<string>();
    for (const s of candidates) {
      const e = this.selectors.get(s)!;
      this.evaluations++;
      if (e.selector?.matches(labels)) next.add(s);
    }
    if (item.matches) for (const s of [...item.matches]) if (!next.has(s)) this.stop(s, this.selectors.get(s)!, id);
    for (const s of next) if (!item.matches?.includes(s)) this.start(s, this.selectors.get(s)!, id);
  }

  deleteItem(id: string): void {
    const item = this.items.get(id);
    if (!item) return;
    if (item.matches) for (const s of [...item.matches]) this.stop(s, this.selectors.get(s)!, id);
    this.unfileItem(id, item.labels);
    this.items.delete(id);
  }

  private start(selId: string, entry: SelectorEntry, itemId: string): void {
    entry.matches.add(itemId);
    const item = this.items.get(itemId)!;
    (item.matches ??= []).push(selId);
    this.onMatch(selId, itemId);
  }

  private stop(selId: string, entry: SelectorEntry, itemId: string): void {
    entry.matches.delete(itemId);
    const item = this.items.get(itemId);
    if (item?.matches) {
      const i = item.matches.indexOf(selId);
      if (i >= 0) item.matches.splice(i, 1);
      if (item.matches.length === 0) item.matches = undefined;
    }
    this.onUnmatch(selId, itemId);
  }

  /**
   * Files a selector under the value restriction whose (label, value) pairs now carry the fewest
   * items plus selectors: few items keep selector insertion cheap, few co-filed selectors keep
   * label changes cheap (and spread `ns == x && app == y` selectors over namespaces even when
   * they arrive before any endpoint). Ties: fewer values, non-`projectcalico.org/` label, name.
   * Restrictions are computed here, not through `selector.labelRestrictions()`, which would keep
   * them on the selector for good: the filing is all the index needs from them.
   */
  private chooseFiling(selector: Selector | undefined): Filing {
    if (!selector) return { kind: 'never' };
    let best: { label: string; values: string[]; cost: number } | undefined;
    let presence: string | undefined;
    for (const [label, r] of computeLabelRestrictions(selector.ast)) {
      if (r.unsatisfiable) return { kind: 'never' };
      if (r.mustHaveOneOf) {
        const values = [...r.mustHaveOneOf];
        const byV = this.itemsByValue.get(label);
        const selV = this.selByValue.get(label);
        let cost = 0;
        for (const v of values) cost += (byV?.get(v)?.size ?? 0) + (selV?.get(v)?.size ?? 0);
        const better =
          !best ||
          cost < best.cost ||
          (cost === best.cost &&
            (values.length < best.values.length ||
              (values.length === best.values.length && rank(label) < rank(best.label)) ||
              (values.length === best.values.length && rank(label) === rank(best.label) && label < best.label)));
        if (better) best = { label, values, cost };
      } else if (r.mustBePresent && (presence === undefined || label < presence)) presence = label;
    }
    if (best) return { kind: 'value', label: best.label, values: best.values };
    if (presence !== undefined) return { kind: 'presence', label: presence };
    return { kind: 'always' };
  }

  private file(id: string, f: Filing): void {
    if (f.kind === 'value') {
      let m = this.selByValue.get(f.label);
      if (!m) this.selByValue.set(f.label, (m = new Map()));
      for (const v of f.values) {
        let s = m.get(v);
        if (!s) m.set(v, (s = new Set()));
        s.add(id);
      }
    } else if (f.kind === 'presence') {
      let s = this.selByPresence.get(f.label);
      if (!s) this.selByPresence.set(f.label, (s = new Set()));
      s.add(id);
    } else if (f.kind === 'always') this.selAlways.add(id);
  }

  private unfile(id: string, f: Filing): void {
    if (f.kind === 'value') {
      const m = this.selByValue.get(f.label);
      for (const v of f.values) {
        const s = m?.get(v);
        s?.delete(id);
        if (s && s.size === 0) m!.delete(v);
      }
      if (m && m.size === 0) this.selByValue.delete(f.label);
    } else if (f.kind === 'presence') {
      const s = this.selByPresence.get(f.label);
      s?.delete(id);
      if (s && s.size === 0) this.selByPresence.delete(f.label);
    } else if (f.kind === 'always') this.selAlways.delete(id);
  }

  private fileItem(id: string, labels: Labels): void {
    for (const k in labels) {
      let m = this.itemsByValue.get(k);
      if (!m) this.itemsByValue.set(k, (m = new Map()));
      const v = labels[k]!;
      let s = m.get(v);
      if (!s) m.set(v, (s = new Set()));
      s.add(id);
    }
  }

  private unfileItem(id: string, labels: Labels): void {
    for (const k in labels) {
      const m = this.itemsByValue.get(k);
      const s = m?.get(labels[k]!);
      if (!s) continue;
      s.delete(id);
      if (s.size === 0) {
        m!.delete(labels[k]!);
        if (m!.size === 0) this.itemsByValue.delete(k);
      }
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();
const NONE: readonly string[] = [];

function rank(label: string): number {
  return label.startsWith('projectcalico.org/') ? 1 : 0;
}

export function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  let n = 0;
  for (const k in a) {
    if (b[k] !== a[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}
