// gingham graph's HTML page in a real browser (Debian's Chromium, headless, over the DevTools
// pipe): the page runs its script and says so, a real click on an edge lists that edge's flows
// and policies, the wheel zooms, and the screenshot shows the graph (coloured pixels where the
// nodes are drawn). Skipped only when Chromium is missing outside CI; CI must have it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHROMIUM, decodePng, openPage, waitFor, type Page } from './headless-chromium.js';
import { run } from './run-cli.js';

const quickstart = new URL('../../../examples/quickstart', import.meta.url).pathname;
const flows = new URL('../../../examples/lifecycle/flow-log.jsonl', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'gingham-graph-'));
const pages: Page[] = [];
afterAll(async () => {
  for (const p of pages) await p.close();
  rmSync(scratch, { recursive: true, force: true });
});

const needBrowser = !CHROMIUM && process.env.CI !== 'true';

describe.skipIf(needBrowser)('the service graph page in Chromium', () => {
  it('renders, reports itself ready, lists an edge\'s flows on a click, zooms, and the screenshot shows the graph', async () => {
    const html = join(scratch, 'graph.html');
    const r = await run(['graph', '-f', quickstart, '--flows', flows, '-o', html]);
    expect(r.code).toBe(0);
    const page = await openPage(`file://${html}`);
    pages.push(page);
    await waitFor(page, "document.body && document.body.dataset.ready === 'true'");
    expect(await page.evaluate<string>('document.title')).toBe('gingham graph: 9 nodes, 13 edges');

    // Where the frontend -> backend edge is drawn on the screen: the middle of its curve.
    const at = await page.evaluate<{ x: number; y: number; index: string }>(`(() => {
      const g = document.querySelector('[data-source="workload/shop/frontend-*"][data-target="workload/shop/backend-*"]');
      const path = g.querySelector('.edge-hit');
      const p = path.getPointAtLength(path.getTotalLength() / 2).matrixTransform(path.getScreenCTM());
      return { x: p.x, y: p.y, index: g.dataset.edge };
    })()`);
    await page.click(at.x, at.y);
    expect(await page.evaluate<string>("document.getElementById('panel').dataset.edge")).toBe(at.index);
    const panel = await page.evaluate<string>("document.getElementById('panel').innerText");
    expect(panel).toContain('frontend-* → backend-*');
    expect(panel).toContain('shop/frontend-* → shop/backend-*');
    expect(panel).toContain('default|knp:shop/backend|allow|0');

    // The screenshot: every node is drawn in its colour where the layout put it.
    const shot = decodePng(await page.screenshot());
    const centres = await page.evaluate<{ x: number; y: number }[]>(`[...document.querySelectorAll('[data-node] circle')].map((c) => {
      const b = c.getBoundingClientRect(); return { x: Math.round(b.x + b.width / 2), y: Math.round(b.y + b.height / 2) };
    })`);
    expect(centres).toHaveLength(7); // 9 nodes, of which the two namespaces are drawn as boxes
    for (const c of centres) {
      const i = (c.y * shot.width + c.x) * 4;
      const [red, green, blue] = [shot.rgba[i]!, shot.rgba[i + 1]!, shot.rgba[i + 2]!];
      expect(Math.max(red, green, blue) - Math.min(red, green, blue), `node at ${c.x},${c.y}`).toBeGreaterThan(60);
    }
    let coloured = 0;
    for (let i = 0; i < shot.rgba.length; i += 4) if (Math.max(shot.rgba[i]!, shot.rgba[i + 1]!, shot.rgba[i + 2]!) - Math.min(shot.rgba[i]!, shot.rgba[i + 1]!, shot.rgba[i + 2]!) > 60) coloured++;
    expect(coloured).toBeGreaterThan(5_000);

    // The wheel zooms in around the pointer.
    const before = await page.evaluate<number>("document.querySelector('#view svg').viewBox.baseVal.width");
    await page.wheel(400, 400, -300);
    await waitFor(page, `document.querySelector('#view svg').viewBox.baseVal.width < ${before}`, 5000);
  }, 60_000);
});
