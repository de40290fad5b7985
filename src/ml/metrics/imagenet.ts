import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/**
 * ImageNet-derived networks that work offline: npm `nsfwjs` ships Keras
 * MobileNetV2 and InceptionV3 weights (fine-tuned by its authors, so scores
 * are not comparable with published FIDs). Features are the pooled layer,
 * FID's tap point: 1280-d and 2048-d.
 */
export const IMAGENET_NETS = {
  mobilenet_v2: { input: 224, dim: 1280 },
  inception_v3: { input: 299, dim: 2048 },
} as const;

export type ImagenetNet = keyof typeof IMAGENET_NETS;

const require = createRequire(import.meta.url);

export async function loadImagenetNet(tf: Tf, name: ImagenetNet): Promise<TF.LayersModel> {
  const dir = join(dirname(require.resolve('nsfwjs')), '..', 'models', name);
  const json = require(join(dir, 'model.min.js')) as { modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: TF.io.WeightsManifestEntry[] }> };
  const shards = json.weightsManifest[0]!.paths.map((p) => Buffer.from(require(join(dir, `${p}.min.js`)) as string, 'base64'));
  const all = Buffer.concat(shards);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]!.weights, weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer }),
  );
  const pooled = model.layers.find((l) => l.getClassName() === 'Flatten');
  if (!pooled) throw new Error(`${name}: no pooled feature layer found`);
  return tf.model({ inputs: model.inputs, outputs: pooled.output as TF.SymbolicTensor });
}

/** Grayscale images in [0,1] (paper 1, ink 0, as photographed) to the net's RGB input, in batches. */
export async function imagenetFeatures(tf: Tf, net: TF.LayersModel, name: ImagenetNet, images: TF.Tensor4D, batch = 32): Promise<Float32Array> {
  const size = IMAGENET_NETS[name].input;
  const n = images.shape[0];
  const out = new Float32Array(n * IMAGENET_NETS[name].dim);
  for (let i = 0; i < n; i += batch) {
    const f = tf.tidy(() => {
      const x = tf.slice(images, [i, 0, 0, 0], [Math.min(batch, n - i), -1, -1, -1]);
      const rgb = tf.tile(tf.image.resizeBilinear(x, [size, size]), [1, 1, 1, 3]);
      return net.predict(rgb) as TF.Tensor;
    });
    out.set(await f.data(), i * IMAGENET_NETS[name].dim);
    f.dispose();
  }
  return out;
}
