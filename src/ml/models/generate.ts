import type * as TF from '../tfjs/tf.js';
import type { StageInputs } from '../../core/stage.js';
import type { Tf } from '../tfjs/tf.js';
import { importLayersModel } from './io.js';

/** What a training stage says about the model it exported. */
export interface ModelInfo {
  kind: 'vae' | 'gan';
  size: number;
  latent?: number;
  noise?: number;
  polarity: 'ink-one' | 'ink-dark';
}

/** The generator network of a trained model (VAE decoder or GAN generator) and its input size. */
export async function loadGenerator(tf: Tf, up: StageInputs): Promise<{ info: ModelInfo; net: TF.LayersModel; zDim: number }> {
  const info = up.json<ModelInfo>('model');
  const dir = info.kind === 'vae' ? 'decoder' : 'generator';
  const net = await importLayersModel(tf, up.file(`${dir}/model.json`), up.file(`${dir}/weights.bin`));
  return { info, net, zDim: info.kind === 'vae' ? info.latent! : info.noise! };
}

/** Network output as images in [0,1] (GANs emit tanh in [-1,1]). */
export function toUnit(tf: Tf, info: ModelInfo, out: TF.Tensor): TF.Tensor {
  return info.kind === 'gan' ? tf.div(tf.add(out, 1), 2) : out;
}

/**
 * `length` standard normal draws for a generator's input. With `truncation`
 * above 0, a draw beyond ±truncation is drawn again (the truncation trick,
 * Brock et al. 2019); 0 keeps every draw, so the noise is what it always was.
 */
export function noiseVector(rng: { normal(): number }, length: number, truncation: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    let v = rng.normal();
    while (truncation > 0 && Math.abs(v) > truncation) v = rng.normal();
    out[i] = v;
  }
  return out;
}
