/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { browser } from './browser.js';
import { PIPE, pipe, pipeAsync, project, waitFor } from './helpers.js';

describe('pipe ui in a real browser', () => {
  it('shows the DAG, follows a run started elsewhere without reloading, draws its curves and compares experiments', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pipe-ui-'));
    for (const f of ['pipeline.yaml', 'pipe.lock']) cpSync(join(dirname(PIPE), '..', 'ci', f), join(dir, f));
    // train-vae for 100 epochs (about 3 s), not ci's 2 (0.4 s): a stage that starts and ends within one of the
    // journal's 200 ms polls reaches the page as one batch of events, and is never drawn running.
    const yaml = join(dir, 'pipeline.yaml');
    const vae = /(\n  train-vae:\n(?:    .*\n)*?    params: .*?)epochs: 2,/;
    assert.match(readFileSync(yaml, 'utf8'), vae);
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(vae, '$1epochs: 100,'));
    const b = await browser(t);
    if (!b) return;
    const ui = pipeAsync(dir, 'ui', '--port', '0');
    let out = '';
    ui.child.stdout!.on('data', (d) => (out += d));
    try {
      await waitFor(() => /pipe ui on (http:\S+)/.test(out), 20_000);
      const page = await b.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(/pipe ui on (http:\S+)/.exec(out)![1]!);
      await page.waitForSelector('#live[data-connected="true"]');
      await page.waitForFunction(() => document.querySelectorAll('.stage').length > 0);
      const stages = await page.$$eval('.stage', (els) => els.map((e) => [(e as HTMLElement).dataset.stage, (e as HTMLElement).dataset.state]));
      assert.deepEqual(stages.map(([s]) => s).sort(), ['augment', 'evaluate', 'features', 'ingest', 'resize', 'sample', 'train-gan', 'train-vae']);
      assert.ok(stages.every(([, st]) => st === 'stale'), JSON.stringify(stages));
      await page.evaluate(() => {
        const w = window as unknown as { marker: number; livePoints: number };
        w.marker = 1;
        // The most curve points seen while train-vae still shows as running: the curves are live, not drawn after.
        w.livePoints = 0;
        new MutationObserver(() => {
          if (document.querySelector<HTMLElement>('.stage[data-stage="train-vae"]')?.dataset.state === 'running') w.livePoints = Math.max(w.livePoints, Number(document.querySelector<HTMLElement>('#curves')!.dataset.points));
        }).observe(document.body, { subtree: true, attributes: true, childList: true });
      });
      // A run from a terminal: the page sees train-vae running, then up to date.
      const run = pipeAsync(dir, 'run', '-j', '1');
      await page.waitForSelector('.stage[data-stage="train-vae"][data-state="running"]', { timeout: 60_000 });
      assert.equal((await run.done).code, 0);
      await page.waitForFunction(() => [...document.querySelectorAll('.stage')].every((e) => (e as HTMLElement).dataset.state === 'up to date'), undefined, { timeout: 20_000 }).catch(async (e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(await page.$$eval('.stage', (els) => els.map((x) => [(x as HTMLElement).dataset.stage, (x as HTMLElement).dataset.state])))}`);
      });
      assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 1, 'the page was not reloaded');
      assert.ok((await page.evaluate(() => (window as unknown as { livePoints: number }).livePoints)) > 0, 'train-vae\'s curve grew while it ran');
      // The curves of train-vae have every logged step.
      const logged = pipe(dir, 'scalars', 'train-vae').stdout.trim().split('\n').length - 1;
      await page.waitForFunction(() => [...document.querySelectorAll('#curve-stage option')].some((o) => (o as HTMLOptionElement).value === 'train-vae'));
      await page.selectOption('#curve-stage', 'train-vae');
      await page.waitForFunction((n) => document.querySelector<HTMLElement>('#curves')!.dataset.points === String(n), logged);
      assert.ok((await page.$$('#curves canvas')).length > 0, 'uPlot drew the chart');
      // Two experiments, compared: their params side by side, their curves overlaid.
      for (const latent of ['2', '3']) assert.equal(pipe(dir, 'run', '-S', `train-vae.latent=${latent}`).code, 0);
      await page.waitForSelector('#experiments tr[data-name="latent=3"]', { timeout: 20_000 });
      await page.check('input[data-name="latent=2"]');
      await page.check('input[data-name="latent=3"]');
      await page.click('#compare');
      await page.selectOption('#comparison-stage', 'train-vae');
      await page.waitForFunction(() => document.querySelector<HTMLElement>('#comparison-curves')!.dataset.series === '2');
      const row = await page.$$eval('#comparison-table tr[data-key="train-vae.latent"] td', (tds) => tds.map((td) => td.textContent));
      assert.deepEqual(row, ['train-vae.latent', '2', '3']);
      // Each experiment's own sample grids, side by side (both models' grids per experiment), loaded from the cache.
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#comparison-samples img')].filter((i) => i.complete && i.naturalWidth > 0).length === 4);
      assert.deepEqual(await page.$$eval('#comparison-samples figure', (fs) => fs.map((f) => (f as HTMLElement).dataset.name)), ['latent=2', 'latent=2', 'latent=3', 'latent=3']);
      // The samples' grids are shown too.
      assert.ok((await page.$$('#images figure[data-stage="sample"] img')).length > 0, 'sample grids');
      assert.deepEqual(errors, [], 'no script errors on the page');
    } finally {
      await b.close();
      ui.child.kill('SIGTERM');
      await ui.done;
    }
  });

  it('refuses a non-loopback address unless asked', () => {
    const r = pipe(project({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a\n' }), 'ui', '--host', '0.0.0.0');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipe ui --host 0.0.0.0: the app would be reachable from other machines, with no login; pass --allow-remote to mean it/);
  });
});
