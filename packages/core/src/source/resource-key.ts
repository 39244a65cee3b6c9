/** Keys of resources as sources and the Engine name them. */
import { flatString } from '../engine/flat-string.js';
import type { Resource } from '../model/resources.js';
import type { ResourceKey } from './source.js';

/** The key of a resource (namespace kept as written; empty when absent). */
export function resourceKey(r: Resource): ResourceKey {
  const { apiVersion, kind, metadata } = r;
  return metadata.namespace ? { apiVersion, kind, namespace: metadata.namespace, name: metadata.name } : { apiVersion, kind, name: metadata.name };
}

/**
 * `group/Kind ns/name` (`group/Kind name` when cluster-scoped): stable text for maps and messages.
 * Flat (`flatString`): sources and the agent keep one per resource as a map key, and the rope
 * of the concatenation would otherwise stay beside it (about 100 bytes more per resource).
 */
export function formatResourceKey(k: ResourceKey): string {
  const group = k.apiVersion.includes('/') ? k.apiVersion.slice(0, k.apiVersion.indexOf('/')) : 'core';
  return flatString(`${group}/${k.kind} ${k.namespace ? `${k.namespace}/` : ''}${k.name}`);
}
