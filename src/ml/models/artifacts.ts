import type * as TF from '../tfjs/tf.js';
import type { StageContext } from '../../core/stage.js';
import type { Tf } from '../tfjs/tf.js';
import { exportLayersModel } from './io.js';
import type { EpochStats } from './loop.js';
import { lineChart, svgToPng } from '../report/plot.js';

/** Writes <dir>/model.json + weights.bin into the stage's artifacts. */
export async function writeModel(tf: Tf, ctx: StageContext<unknown>, dir: string, model: TF.LayersModel): Promise<void> {
  const { json, weights } = await exportLayersModel(tf, model);
  ctx.artifacts.write(`${dir}/model.json`, json);
  ctx.artifacts.write(`${dir}/weights.bin`, weights);
}

/** history.json and loss.png (one line per loss) for a training stage. */
export async function writeHistory(ctx: StageContext<unknown>, title: string, history: EpochStats[], keys: string[]): Promise<void> {
  ctx.output.json('history', history);
  ctx.artifacts.write('history.json', JSON.stringify(history, null, 2));
  const svg = await lineChart({ title, xLabel: 'epoch', series: keys.map((k) => ({ name: k, values: history.map((h) => h[k] as number) })) });
  ctx.artifacts.write('loss.svg', svg);
  ctx.artifacts.write('loss.png', await svgToPng(svg));
}
