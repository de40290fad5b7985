import type * as TF from '../tfjs/tf.js';
import type { StageContext } from '../../core/stage.js';
import type { Tf } from '../tfjs/tf.js';
import { exportLayersModel } from './io.js';
import type { EpochStats } from './loop.js';
import { panelChart, svgToPng } from '../report/plot.js';

type Polarity = 'ink-one' | 'ink-dark';

/** What someone needs to use an exported network without pipe: its input, what its output means, the images' layout. */
export interface ModelMetadata {
  network: string;
  input: { shape: Array<number | null>; is: string };
  output: { shape: Array<number | null>; activation: string; range?: [number, number]; is: string };
  image: { size: number; channels: 1; polarity: Polarity; pixels: string };
  /** A classifier's classes, in logit order. */
  classes?: string[];
}

/** The image layout every network here reads or writes. */
export function imageLayout(size: number, polarity: Polarity): ModelMetadata['image'] {
  return { size, channels: 1, polarity, pixels: polarity === 'ink-one' ? 'float32 in [0, 1], 1 is ink and 0 is paper' : 'float32 in [0, 1], 0 is ink and 1 is paper' };
}

/** Writes <dir>/model.json + weights.bin (tfjs' LayersModel format) and <dir>/metadata.json into the stage's artifacts. */
export async function writeModel(tf: Tf, ctx: StageContext<unknown>, dir: string, model: TF.LayersModel, metadata: ModelMetadata): Promise<void> {
  const { json, weights } = await exportLayersModel(tf, model);
  ctx.artifacts.write(`${dir}/model.json`, json);
  ctx.artifacts.write(`${dir}/weights.bin`, weights);
  ctx.artifacts.write(`${dir}/metadata.json`, JSON.stringify(metadata, null, 2) + '\n');
}

/** history.json and loss.png for a training stage: a chart per group of keys (each group has its own y axis), a line per key. */
export async function writeHistory(ctx: StageContext<unknown>, title: string, history: EpochStats[], panels: string[][]): Promise<void> {
  ctx.output.json('history', history);
  ctx.artifacts.write('history.json', JSON.stringify(history, null, 2));
  const svg = await panelChart({ title, xLabel: 'epoch', panels: panels.map((keys) => keys.map((k) => ({ name: k, values: history.map((h) => h[k] as number) }))) });
  ctx.artifacts.write('loss.svg', svg);
  ctx.artifacts.write('loss.png', await svgToPng(svg));
}
