import { describe, expect, it } from 'vitest';
import { parseSelector } from '../selector/index.js';
import { LabelIndex } from './label-index.js';

function recording() {
  const events: string[] = [];
  const index = new LabelIndex(
    (s, i) => events.push(`+${s}:${i}`),
    (s, i) => events.push(`-${s}:${i}`),
  );
  return { index, events };
}

describe('LabelIndex', () => {
  it('reports matches starting and stopping as items are relabelled and selectors change', () => {
    const { index, events } = recording();
    index.upsertSelector('web', parseSelector("app == 'web'"));
    index.upsertSelector('any', parseSelector('all()'));
    index.upsertItem('a', { app: 'web' });
    index.upsertItem('b', { app: 'db' });
    expect(events.sort()).toEqual(['+any:a', '+any:b', '+web:a']);
    events.length = 0;
    index.upsertItem('a', { app: 'db' });
    index.upsertSelector('web', parseSelector("app in {'web', 'db'}"));
    index.deleteItem('b');
    expect(events).toEqual(['-web:a', '+web:b', '+web:a', '-any:b', '-web:b']);
    expect([...index.itemsMatching('web')]).toEqual(['a']);
    expect(index.selectorsMatching('a')).toEqual(['any', 'web']);
  });

  it('a label change evaluates only selectors filed under the old or new labels', () => {
    const { index } = recording();
    for (let i = 0; i < 500; i++) index.upsertSelector(`s${i}`, parseSelector(`app == 'a${i}' && team == 't${i % 5}'`));
    index.upsertItem('x', { app: 'a1', team: 't1' });
    const before = index.evaluations;
    index.upsertItem('x', { app: 'a2', team: 't2' });
    expect(index.evaluations - before).toBeLessThanOrEqual(2);
    expect(index.selectorsMatching('x')).toEqual(['s2']);
  });

  it('unparseable and unsatisfiable selectors match nothing', () => {
    const { index } = recording();
    index.upsertItem('x', { a: '1' });
    index.upsertSelector('bad', undefined);
    index.upsertSelector('never', parseSelector("a == '1' && a == '2'"));
    expect(index.selectorsMatching('x')).toEqual([]);
  });
});
