/** A thread that draws runs of a synthetic signature set (synth.ts) and hands their pixels back. */
import { parentPort, workerData } from 'node:worker_threads';
import { synthesizeRange, type SynthOptions } from './synth.js';

const opts = workerData as SynthOptions;
parentPort!.on('message', async ({ from, to }: { from: number; to: number }) => {
  const images = await synthesizeRange(opts, from, to);
  parentPort!.postMessage(images, images.map((im) => im.pixels.buffer as ArrayBuffer));
});
parentPort!.postMessage('ready');
