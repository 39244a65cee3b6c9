/**
 * Label restrictions: per-label lower bounds that every matching label map must meet, computed
 * as libcalico-go's `LabelRestrictions()` does. An index uses them to avoid evaluating a
 * selector against label maps that cannot match (only `==`/`in` give values to index on).
 *
 * Calico's rules, reproduced exactly:
 *  - `k == v` → k present, one of {v};  `k in {..}` → k present, one of the set (`in {}`: none);
 *  - `has(k)`, `contains`, `starts with`, `ends with` → k present;
 *  - `!has(k)` → k absent; any other negation, `!=`, `not in`, `all()`, `global()` → nothing;
 *  - AND merges operands: present/absent OR-ed, value sets intersected (empty → unsatisfiable);
 *  - OR keeps a label only when every operand restricts it: present/absent AND-ed, value sets
 *    united when every operand has one, dropped otherwise.
 * Sound by construction: a map that matches the selector satisfies every restriction.
 */
import type { Labels } from '../model/types.js';
import type { SelectorNode } from './ast.js';

/** What a selector requires of one label. */
export interface LabelRestriction {
  /** The label must be present (any of `==`, `in`, `has`, `contains`, `starts with`, `ends with`). */
  readonly mustBePresent: boolean;
  /** The label must be absent (`!has(k)`). */
  readonly mustBeAbsent: boolean;
  /**
   * When set, the label's value must be one of these. An empty set means nothing can match
   * (for example `a == "x" && a == "y"`). Iteration order is deterministic but not sorted.
   */
  readonly mustHaveOneOf?: ReadonlySet<string>;
  /** Calico's `!PossibleToSatisfy()`: present and absent at once, or an empty `mustHaveOneOf`. */
  readonly unsatisfiable: boolean;
}

/** Restrictions by label name; labels the selector does not constrain are absent from the map. */
export type LabelRestrictions = ReadonlyMap<string, LabelRestriction>;

interface Draft {
  present: boolean;
  absent: boolean;
  values: Set<string> | undefined;
}

/** Computes the label restrictions of a selector tree (Calico's algorithm, see the file header). */
export function computeLabelRestrictions(node: SelectorNode): LabelRestrictions {
  const drafts = restrictionsOf(node);
  const out = new Map<string, LabelRestriction>();
  if (drafts === undefined) return out;
  for (const [label, d] of drafts) {
    const restriction: LabelRestriction = {
      mustBePresent: d.present,
      mustBeAbsent: d.absent,
      ...(d.values !== undefined ? { mustHaveOneOf: d.values } : {}),
      unsatisfiable: (d.present && d.absent) || (d.values !== undefined && d.values.size === 0),
    };
    out.set(label, Object.freeze(restriction));
  }
  return out;
}

/** False when some label restriction cannot be met, i.e. the selector can never match anything. */
export function labelRestrictionsSatisfiable(restrictions: LabelRestrictions): boolean {
  for (const r of restrictions.values()) if (r.unsatisfiable) return false;
  return true;
}

/** True when a label map meets every restriction (necessary, not sufficient, for a match). */
export function labelsSatisfyRestrictions(restrictions: LabelRestrictions, labels: Labels): boolean {
  for (const [label, r] of restrictions) {
    const value = Object.hasOwn(labels, label) ? labels[label] : undefined;
    if (r.mustBePresent && value === undefined) return false;
    if (r.mustBeAbsent && value !== undefined) return false;
    if (r.mustHaveOneOf !== undefined && (value === undefined || !r.mustHaveOneOf.has(value))) return false;
  }
  return true;
}

function single(label: string, draft: Draft): Map<string, Draft> {
  return new Map([[label, draft]]);
}

function restrictionsOf(node: SelectorNode): Map<string, Draft> | undefined {
  switch (node.kind) {
    case 'eq':
      return single(node.label, { present: true, absent: false, values: new Set([node.value]) });
    case 'in':
      return single(node.label, { present: true, absent: false, values: new Set(node.values) });
    case 'has':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return single(node.label, { present: true, absent: false, values: undefined });
    case 'not':
      // Only `!has(k)` says something (k must be absent); `!(k == v)` does not make k absent.
      if (node.operand.kind === 'has') return single(node.operand.label, { present: false, absent: true, values: undefined });
      return undefined;
    case 'and': {
      const merged = new Map<string, Draft>();
      for (const operand of node.operands) {
        const sub = restrictionsOf(operand);
        if (sub === undefined) continue;
        for (const [label, r] of sub) {
          const base = merged.get(label);
          if (base === undefined) {
            merged.set(label, r);
            continue;
          }
          base.present ||= r.present;
          base.absent ||= r.absent;
          if (base.values === undefined) base.values = r.values;
          else if (r.values !== undefined) base.values = intersect(base.values, r.values);
        }
      }
      return merged.size === 0 ? undefined : merged;
    }
    case 'or': {
      const [first, ...rest] = node.operands;
      const kept = restrictionsOf(first!);
      if (kept === undefined) return undefined;
      for (const operand of rest) {
        const sub = restrictionsOf(operand);
        for (const [label, r] of kept) {
          const other = sub?.get(label);
          r.present = r.present && other?.present === true;
          if (!r.present || r.values === undefined || other?.values === undefined) r.values = undefined;
          else r.values = union(r.values, other.values);
          r.absent = r.absent && other?.absent === true;
          if (!r.present && !r.absent) kept.delete(label);
        }
      }
      return kept.size === 0 ? undefined : kept;
    }
    case 'ne':
    case 'notIn':
    case 'all':
    case 'global':
      return undefined;
  }
}

function intersect(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const v of a) if (b.has(v)) out.add(v);
  return out;
}

function union(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  const out = new Set(a);
  for (const v of b) out.add(v);
  return out;
}
