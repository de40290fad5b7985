import type * as TF from '../src/ml/tfjs/tf.js';
import { encodePng, tensorImages } from '../src/ml/data/images.js';
import { gridPng } from '../src/ml/data/sheet.js';
import { highest } from '../src/ml/models/highest.js';
import { loadGenerator, noiseVector, toUnit, type ModelInfo } from '../src/ml/models/generate.js';
import { jacobianNorm } from '../src/ml/models/jacobian-norm.js';
import { fromPlain, importLayersModel, toPlain } from '../src/ml/models/io.js';
import { Rng } from '../src/core/stage.js';
import { defineStage, type StageContext, type StageInputs } from '../src/core/stage.js';
import type { Tensor } from '../src/core/stage.js';
import { stageTf, type TfParams, type Tf } from '../src/ml/tfjs/backend.js';

export interface SampleParams extends TfParams {
  count: number;
  truncation: number;
  reject: number;
  rejectBy: 'discriminator' | 'jacobian';
  grid: number;
  singles: number;
  reconstructions: number;
  interpolationSteps: number;
  seed: number;
}

/** Random directions per image in the Jacobian's estimate: its relative error falls as 1/√directions. */
const JACOBIAN_DIRECTIONS = 4;

export default defineStage<SampleParams>({
  description: 'Draw samples from each trained model: grids, single images, VAE reconstructions and interpolations',
  async run(ctx) {
    const p = ctx.params;
    const models = ctx.inputList('models');
    const data = ctx.hasInput('data') ? ctx.input('data') : undefined;
    const { tf } = await stageTf(ctx);
    const batch = 64;
    const listing: Array<{ model: string; kind: string; count: number; polarity: string }> = [];
    for (const up of models) {
      const name = up.stage;
      const { info, net, zDim } = await loadGenerator(tf, up);
      const rng = new Rng(`${p.seed}:${name}`);
      const size = info.size;
      const judge = p.reject > 0 ? await rejection(tf, p, up, info, net, name) : undefined;
      // With a judge, count / (1 − reject) images are drawn, each with its score, and the count it scores highest kept.
      const drawn = judge ? Math.ceil(p.count / (1 - p.reject)) : p.count;
      const all = new Float32Array(drawn * size * size);
      const scores = new Float32Array(drawn);
      for (let i = 0; i < drawn; i += batch) {
        const n = Math.min(batch, drawn - i);
        const z = tf.tensor2d(noiseVector(rng, n * zDim, p.truncation), [n, zDim]);
        const raw = net.predict(z) as TF.Tensor;
        const out = tf.tidy(() => toUnit(tf, info, raw));
        all.set(await out.data(), i * size * size);
        const judged = judge?.score(z, raw);
        if (judged) scores.set(await judged.data(), i);
        tf.dispose([z, raw, out, ...(judged ? [judged] : [])]);
      }
      judge?.dispose();
      const kept = judge ? highest(scores, p.count) : undefined;
      if (judge && kept) ctx.log.info(`${name}: kept the ${p.count} of ${drawn} drawn images ${judge.kept(Math.min(...kept.map((k) => scores[k]!)), Math.min(...scores), Math.max(...scores))}`);
      const samples: Tensor = { dtype: 'float32', shape: [p.count, size, size, 1], data: kept ? pick(all, kept, size * size) : all };
      ctx.output.tensor(name, samples);
      const dir = `samples/${name}`;
      const g = Math.min(p.grid * p.grid, p.count);
      ctx.artifacts.writeShared(`${dir}/grid.png`, await gridPng(tensorImages(samples, info.polarity, g), { cols: p.grid, cellWidth: size, cellHeight: size }));
      const singles = tensorImages(samples, info.polarity, p.singles);
      for (const [k, img] of singles.entries()) ctx.artifacts.writeShared(`${dir}/${String(k).padStart(4, '0')}.png`, await encodePng(img));
      if (info.kind === 'vae' && data) await vaeExtras(tf, ctx, name, up, info, data.tensor('test'), dir);
      net.dispose();
      listing.push({ model: name, kind: info.kind, count: p.count, polarity: info.polarity });
      ctx.log.info(`${name}: ${p.count} samples, grid in artifacts/${dir}/grid.png`);
    }
    ctx.output.json('samples', listing);
  },
});

/** What rejection keeps: a score per drawn image, highest kept, and how the log words the cut. */
interface Judge {
  score(z: TF.Tensor2D, raw: TF.Tensor): TF.Tensor;
  kept(cut: number, low: number, high: number): string;
  dispose(): void;
}

async function rejection(tf: Tf, p: SampleParams, up: StageInputs, info: ModelInfo, net: TF.LayersModel, name: string): Promise<Judge | undefined> {
  if (p.rejectBy === 'jacobian') {
    const rng = new Rng(`${p.seed}:${name}:jacobian`);
    return {
      score: (z, raw) => {
        const [n, zDim] = z.shape;
        const directions = Array.from({ length: JACOBIAN_DIRECTIONS }, () => tf.tensor2d(noiseVector(rng, n * zDim, 0), [n, zDim]));
        const norm = jacobianNorm(tf, net, z, raw, directions);
        const score = tf.neg(norm);
        tf.dispose([norm, ...directions]);
        return score;
      },
      kept: (cut, low, high) => `whose generator's Jacobian is smallest (‖J‖²_F ≤ ${(-cut).toFixed(1)}; all drawn: ${(-high).toFixed(1)} to ${(-low).toFixed(1)})`,
      dispose: () => {},
    };
  }
  if (info.kind !== 'gan') return undefined;
  const d = await importLayersModel(tf, up.file('discriminator/model.json'), up.file('discriminator/weights.bin'));
  const channels = d.inputs[0]!.shape[3];
  if (channels !== 1) throw new Error(`reject needs a GAN discriminator that judges one image at a time; ${name}'s judges ${channels} at once (pack: ${channels})`);
  return {
    score: (_z, raw) => d.predict(raw) as TF.Tensor,
    kept: (cut, low, high) => `its discriminator scores most real (logit ≥ ${cut.toFixed(2)}; all drawn: ${low.toFixed(2)} to ${high.toFixed(2)})`,
    dispose: () => d.dispose(),
  };
}

function pick(images: Float32Array, rows: number[], length: number): Float32Array {
  const out = new Float32Array(rows.length * length);
  rows.forEach((r, k) => out.set(images.subarray(r * length, (r + 1) * length), k * length));
  return out;
}

/** Held-out images beside their reconstructions, and straight-line walks between two encoded images. */
async function vaeExtras(
  tf: Tf,
  ctx: StageContext<SampleParams>,
  name: string,
  up: StageInputs,
  info: ModelInfo,
  test: Tensor,
  dir: string,
): Promise<void> {
  const p = ctx.params;
  const size = info.size;
  const encoder = await importLayersModel(tf, up.file('encoder/model.json'), up.file('encoder/weights.bin'));
  const decoder = await importLayersModel(tf, up.file('decoder/model.json'), up.file('decoder/weights.bin'));
  const n = Math.min(p.reconstructions, test.shape[0]!);
  if (n > 0) {
    const x = fromPlain(tf, { ...test, shape: [n, size, size, 1], data: (test.data as Float32Array).subarray(0, n * size * size) });
    const recon = tf.tidy(() => decoder.predict((encoder.predict(x) as TF.Tensor[])[0]!) as TF.Tensor);
    const orig = tensorImages(await toPlain(x), info.polarity);
    const rec = tensorImages(await toPlain(recon), info.polarity);
    // Pairs side by side: original, reconstruction, original, reconstruction...
    const pairs = orig.flatMap((o, i) => [o, rec[i]!]);
    ctx.artifacts.writeShared(`${dir}/reconstructions.png`, await gridPng(pairs, { cols: 8, cellWidth: size, cellHeight: size }));
    x.dispose();
    recon.dispose();
  }
  const rows = Math.min(4, Math.floor(test.shape[0]! / 2));
  if (rows > 0) {
    const steps = p.interpolationSteps;
    const ends = fromPlain(tf, { ...test, shape: [rows * 2, size, size, 1], data: (test.data as Float32Array).subarray(0, rows * 2 * size * size) });
    const strip = tf.tidy(() => {
      const mu = (encoder.predict(ends) as TF.Tensor[])[0]! as TF.Tensor2D;
      const zs: TF.Tensor[] = [];
      for (let r = 0; r < rows; r++) {
        const a = tf.slice(mu, [2 * r, 0], [1, -1]);
        const b = tf.slice(mu, [2 * r + 1, 0], [1, -1]);
        for (let s = 0; s < steps; s++) zs.push(tf.add(tf.mul(a, 1 - s / (steps - 1)), tf.mul(b, s / (steps - 1))));
      }
      return decoder.predict(tf.concat(zs, 0)) as TF.Tensor;
    });
    const imgs = tensorImages(await toPlain(strip), info.polarity);
    ctx.artifacts.writeShared(`${dir}/interpolation.png`, await gridPng(imgs, { cols: steps, cellWidth: size, cellHeight: size }));
    ends.dispose();
    strip.dispose();
  }
  encoder.dispose();
  decoder.dispose();
  ctx.log.info(`${name}: reconstructions and interpolations written`);
}
