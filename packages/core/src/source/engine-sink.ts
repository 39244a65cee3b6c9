/** Applying a source's messages to an Engine (the agent decides when to flush). */
import type { Engine } from '../engine/engine.js';
import type { SourceMessage } from './source.js';

/**
 * Feeds upserts and deletes to `engine`; returns whether the batch ended a (re)list
 * (`in-sync`), which is when a consumer should flush before declaring itself ready.
 */
export function applySourceMessages(engine: Engine, messages: readonly SourceMessage[]): { inSync: boolean } {
  let inSync = false;
  for (const m of messages) {
    switch (m.kind) {
      case 'upsert':
        engine.upsert(m.resource);
        break;
      case 'delete':
        engine.delete(m.key.kind, m.key.namespace ?? '', m.key.name, m.key.apiVersion);
        break;
      case 'in-sync':
        inSync = true;
        break;
      case 'resync-started':
        inSync = false;
        break;
    }
  }
  return { inSync };
}
