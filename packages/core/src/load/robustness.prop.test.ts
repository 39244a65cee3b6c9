import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { loadManifests } from './load-manifests.js';

/** Text made of YAML's structural characters and a few manifest fragments. */
const yamlish = fc
  .array(
    fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', ',', '"', "'", '&x', '*x', '!', '#', '---\n', '  ', 'kind: ', 'apiVersion: v1\n', '|', '>', '?', '\t', '<<', '%YAML 1.2\n'),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

describe('the loader never throws', () => {
  test.prop([fc.oneof(fc.string({ maxLength: 200 }), yamlish)], { numRuns: 1000 })('any text gives a result with issues or resources', (text) => {
    const result = loadManifests([{ file: 'x.yaml', text }]);
    expect(typeof result.ok).toBe('boolean');
    if (!result.ok) expect(result.issues.some((i) => i.severity === 'error')).toBe(true);
    for (const issue of result.issues) {
      expect(issue.file).toBe('x.yaml');
      expect(issue.line).toBeGreaterThanOrEqual(0);
    }
  });
});
