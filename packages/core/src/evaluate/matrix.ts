/** `matrix()`: verdicts for every ordered pair of distinct peers, for every port/protocol. */
import type { Snapshot } from '../model/types.js';
import { evaluate } from './evaluate.js';
import type { EvaluateOptions, MatrixCell } from './types.js';

export interface MatrixPort {
  readonly port?: number;
  readonly protocol: string;
}

/**
 * For each port spec (outer), each `from` and each `to` (in the given order, self pairs skipped),
 * whether the flow `from → to` is allowed.
 */
export function matrix(
  snapshot: Snapshot,
  peers: readonly string[],
  ports: readonly MatrixPort[],
  options?: EvaluateOptions,
): MatrixCell[] {
  const cells: MatrixCell[] = [];
  for (const spec of ports) {
    for (const from of peers) {
      for (const to of peers) {
        if (from === to) continue;
        const result = evaluate(
          snapshot,
          { src: from, dst: to, protocol: spec.protocol, ...(spec.port === undefined ? {} : { dstPort: spec.port }) },
          options,
        );
        cells.push({ from, to, port: spec.port ?? null, protocol: spec.protocol, allowed: result.allowed });
      }
    }
  }
  return cells;
}
