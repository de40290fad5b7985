import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TF from '../tfjs/tf.js';
import type { ConcreteBackend, KernelOptions } from '../tfjs/backend.js';
import type { Tf } from '../tfjs/tf.js';
import { startThread } from '../thread.js';

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

/** Grayscale images in [0,1] (paper 1, ink 0, as photographed) to the net's RGB input, in batches, on this thread. */
export async function embedBatches(tf: Tf, net: TF.LayersModel, name: ImagenetNet, images: TF.Tensor4D): Promise<Float32Array> {
  const size = IMAGENET_NETS[name].input;
  const n = images.shape[0];
  const out = new Float32Array(n * IMAGENET_NETS[name].dim);
  for (let i = 0; i < n; i += BATCH) {
    const f = tf.tidy(() => {
      const x = tf.slice(images, [i, 0, 0, 0], [Math.min(BATCH, n - i), -1, -1, -1]);
      const rgb = tf.tile(tf.image.resizeBilinear(x, [size, size]), [1, 1, 1, 3]);
      return net.predict(rgb) as TF.Tensor;
    });
    out.set(await f.data(), i * IMAGENET_NETS[name].dim);
    f.dispose();
  }
  return out;
}

const BATCH = 32;

/** An ImageNet net that embeds images on this thread and `threads − 1` worker threads. */
export interface ImagenetEmbedder {
  embed(images: TF.Tensor4D): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * Loads the net here and, on wasm and cpu (one core each), in threads − 1
 * workers (imagenet-worker.ts); tensorflow and webgpu parallelise each op
 * themselves, so they embed on this thread alone. A set is cut into whole
 * batches, one run of them per thread, so every image meets the same batch
 * as on one thread and the features are the same bits for any thread count.
 */
export async function imagenetEmbedder(tf: Tf, name: ImagenetNet, threads: number, runtime: KernelOptions & { backend: ConcreteBackend }): Promise<ImagenetEmbedder> {
  const net = await loadImagenetNet(tf, name);
  const workers =
    runtime.backend === 'wasm' || runtime.backend === 'cpu'
      ? await Promise.all(Array.from({ length: threads - 1 }, () => startThread<EmbedRequest, Float32Array>(new URL('./imagenet-worker.js', import.meta.url), { ...runtime, name })))
      : [];
  const dim = IMAGENET_NETS[name].dim;
  return {
    async embed(images) {
      const [n, h, w, c] = images.shape;
      const batches = Math.ceil(n / BATCH);
      // Thread k embeds batches [cut(k), cut(k + 1)); this thread the first run.
      const cut = (k: number) => Math.min(n, Math.floor((k * batches) / (workers.length + 1)) * BATCH);
      const px = h * w * c;
      const pixels = workers.length ? ((await images.data()) as Float32Array) : undefined;
      const remote = workers.map((worker, k) => {
        const [a, b] = [cut(k + 1), cut(k + 2)];
        const part = pixels!.slice(a * px, b * px);
        return b > a ? worker.ask({ pixels: part, shape: [b - a, h, w, c] }, [part.buffer]) : Promise.resolve(new Float32Array(0));
      });
      const first = tf.slice(images, [0, 0, 0, 0], [cut(1), -1, -1, -1]);
      const own = await embedBatches(tf, net, name, first);
      first.dispose();
      const out = new Float32Array(n * dim);
      out.set(own, 0);
      (await Promise.all(remote)).forEach((f, k) => out.set(f, cut(k + 1) * dim));
      return out;
    },
    async close() {
      net.dispose();
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

/** What the main thread sends a worker: a run of whole batches of images. */
export interface EmbedRequest {
  pixels: Float32Array;
  shape: [number, number, number, number];
}
