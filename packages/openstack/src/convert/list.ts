/**
 * Resources as one `List` document (`apiVersion: v1, kind: List, items`), the form
 * `gingham lint -f`, `kubectl` and `calicoctl` read back, as JSON or YAML. Pure.
 */
import type { Resource } from '@gingham/core';
import { stringify } from 'yaml';

export type ListFormat = 'json' | 'yaml';

export function formatResourceList(resources: readonly Resource[], format: ListFormat): string {
  const list = { apiVersion: 'v1', kind: 'List', items: resources };
  return format === 'json' ? `${JSON.stringify(list, null, 2)}\n` : stringify(list, { lineWidth: 0 });
}
