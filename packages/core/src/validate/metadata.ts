/**
 * `metadata` checks shared by every kind: the name (with a per-kind rule), the namespace,
 * label keys and values, and annotation keys and total size.
 */
import { checkLabelName, checkLabelValue, checkQualifiedName } from './names.js';
import type { FieldPath } from './path.js';
import type { Reporter } from './report.js';
import { field, isObject, show, str, utf8Length } from './values.js';

/** Calico and Kubernetes both cap the total size of annotation keys and values at 256 KiB. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

export interface MetadataRules {
  readonly checkName: (name: string) => string[];
  readonly namespaced: boolean;
  /** Label keys users may not set on this kind, with the reason. */
  readonly reservedLabels?: Readonly<Record<string, string>>;
}

export function checkLabels(r: Reporter, path: FieldPath, labels: unknown, reserved: Readonly<Record<string, string>> = {}): void {
  if (!isObject(labels)) return;
  for (const key of Object.keys(labels)) {
    for (const problem of checkQualifiedName(key)) r.error('invalid-label', [...path, key], `invalid label key ${show(key)}: ${problem}`, 'key');
    if (Object.hasOwn(reserved, key)) r.error('invalid-label', [...path, key], reserved[key] ?? 'reserved label', 'key');
    const value = labels[key];
    if (typeof value !== 'string') continue;
    for (const problem of checkLabelValue(value)) r.error('invalid-label', [...path, key], `invalid label value ${show(value)}: ${problem}`);
  }
}

export function checkAnnotations(r: Reporter, path: FieldPath, annotations: unknown): void {
  if (!isObject(annotations)) return;
  let total = 0;
  for (const key of Object.keys(annotations)) {
    for (const problem of checkQualifiedName(key.toLowerCase())) {
      r.error('invalid-annotation', [...path, key], `invalid annotation key ${show(key)}: ${problem}`, 'key');
    }
    const value = annotations[key];
    total += utf8Length(key) + (typeof value === 'string' ? utf8Length(value) : 0);
  }
  if (total > MAX_ANNOTATIONS_BYTES) {
    r.error('invalid-annotation', path, `total size of annotations is too large by ${total - MAX_ANNOTATIONS_BYTES} bytes (at most 256 KiB)`);
  }
}

export function checkMetadata(r: Reporter, metadata: unknown, rules: MetadataRules): void {
  const name = str(metadata, 'name');
  if (name !== undefined) for (const problem of rules.checkName(name)) r.error('invalid-name', ['metadata', 'name'], problem);
  const namespace = field(metadata, 'namespace');
  if (typeof namespace === 'string') {
    if (!rules.namespaced) {
      r.warn('namespace-ignored', ['metadata', 'namespace'], 'this kind is cluster-scoped; metadata.namespace is ignored');
    } else {
      for (const problem of checkLabelName(namespace, 'namespace')) r.error('invalid-namespace', ['metadata', 'namespace'], problem);
    }
  }
  checkLabels(r, ['metadata', 'labels'], field(metadata, 'labels'), rules.reservedLabels);
  checkAnnotations(r, ['metadata', 'annotations'], field(metadata, 'annotations'));
}
