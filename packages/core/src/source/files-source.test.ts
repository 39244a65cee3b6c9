import { describe, expect, it } from 'vitest';
import { createFilesSource } from './files-source.js';
import type { SourceMessage } from './source.js';

const good = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec: {selector: all()}\n';
const bad = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: b}\nspec: {selector: "app =="}\n';

describe('files source', () => {
  it('delivers every resource between resync-started and in-sync', async () => {
    const got: SourceMessage[] = [];
    const s = createFilesSource([{ file: 'a.yaml', text: good }]);
    await s.start((ms) => got.push(...ms));
    expect(got.map((m) => m.kind)).toEqual(['resync-started', 'upsert', 'in-sync']);
    expect(s.status()).toMatchObject({ phase: 'in-sync', resources: 1 });
    await s.close();
    expect(s.status().phase).toBe('stopped');
  });

  it('delivers nothing when any file has an error, and says where', async () => {
    const got: SourceMessage[] = [];
    const s = createFilesSource([{ file: 'a.yaml', text: good }, { file: 'b.yaml', text: bad }]);
    await s.start((ms) => got.push(...ms));
    expect(got).toEqual([]);
    expect(s.status().phase).toBe('failed');
    expect(s.status().problems[0]!.where).toMatch(/^b\.yaml:4:\d+$/);
    expect(s.status().problems[0]!.message).toMatch(/spec\.selector/);
  });

  it('is started once', async () => {
    const s = createFilesSource([]);
    await s.start(() => undefined);
    await expect(s.start(() => undefined)).rejects.toMatchObject({ code: 'SOURCE_ALREADY_STARTED' });
  });
});
