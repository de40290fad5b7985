/**
 * A thread that embeds images with an ImageNet net (imagenet.ts): it loads
 * its own tfjs on the main thread's backend and kernels, and answers each
 * batch of images with their features, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadTf, type ConcreteBackend, type KernelOptions } from '../tfjs/backend.js';
import type * as TF from '../tfjs/tf.js';
import { embedBatches, loadImagenetNet, type EmbedRequest, type ImagenetNet } from './imagenet.js';

const { backend, kernels, convt, name } = workerData as KernelOptions & { backend: ConcreteBackend; name: ImagenetNet };
const { tf } = await loadTf(backend, { kernels, convt });
const net = await loadImagenetNet(tf, name);
parentPort!.on('message', async (m: EmbedRequest) => {
  const x = tf.tensor4d(m.pixels, m.shape) as TF.Tensor4D;
  const out = await embedBatches(tf, net, name, x);
  x.dispose();
  parentPort!.postMessage(out, [out.buffer as ArrayBuffer]);
});
parentPort!.postMessage('ready');
