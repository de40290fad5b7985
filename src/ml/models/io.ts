import type * as TF from '../tfjs/tf.js';
import { Rng } from '../../core/stage.js';
import type { Tensor } from '../../core/stage.js';
import type { Tf } from '../tfjs/tf.js';

/** tfjs tensors to and from the cache's plain tensors. Reads are async: webgpu cannot read synchronously in Node. */
export async function toPlain(t: TF.Tensor): Promise<Tensor> {
  return { dtype: 'float32', shape: [...t.shape], data: (await t.data()) as Float32Array };
}

export function fromPlain(tf: Tf, t: Tensor): TF.Tensor {
  return tf.tensor(t.data as Float32Array, t.shape, 'float32');
}

/** The two files of tfjs' LayersModel format (model.json + one weights shard), loadable with tf.loadLayersModel. */
export async function exportLayersModel(tf: Tf, model: TF.LayersModel): Promise<{ json: string; weights: Uint8Array }> {
  let saved: TF.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  const a = saved!;
  const json = JSON.stringify({
    format: 'layers-model',
    generatedBy: a.generatedBy,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  });
  const data = a.weightData as ArrayBuffer;
  return { json, weights: new Uint8Array(data) };
}

export async function importLayersModel(tf: Tf, json: Uint8Array | string, weights: Uint8Array): Promise<TF.LayersModel> {
  const m = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString()) as {
    modelTopology: object;
    weightsManifest: Array<{ weights: TF.io.WeightsManifestEntry[] }>;
  };
  const buf = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: m.modelTopology, weightSpecs: m.weightsManifest[0]!.weights, weightData: buf }));
}

/**
 * Seeds for a model's initialisers, one per call, never 0: tfjs' random
 * normal treats a seed of 0 as "no seed" and draws from Math.random.
 */
export function initSeeds(seed: number): () => number {
  const r = new Rng(`init:${seed}`);
  return () => 1 + r.int(2 ** 31 - 2);
}
