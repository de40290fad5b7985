/**
 * A training replica (worker thread): builds the same trainer from its
 * recipe, and for each request loads the main thread's weights and returns
 * one phase's gradients on its shard of the batch. Its own optimizer state
 * is never used: updates happen on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadTf, type ConcreteBackend } from '../tfjs/backend.js';
import type * as TF from '../tfjs/tf.js';
import { modelVars } from './loop.js';
import { phaseGrads, type ReplicaRequest, type ReplicaRuntime } from './trainer.js';
import type { TrainerModule } from './step.js';

const { backend, kernels, convt, module, recipe } = workerData as ReplicaRuntime & { recipe: unknown };
const { tf } = await loadTf(backend as ConcreteBackend, { kernels, convt });
const { makeTrainer } = (await import(module)) as TrainerModule<unknown>;
const trainer = makeTrainer(tf, recipe);
const weights: TF.Variable[] = modelVars(trainer.models, false);
parentPort!.on('message', async (m: ReplicaRequest) => {
  weights.forEach((w, i) => {
    const t = tf.tensor(m.weights[i]!, w.shape);
    w.assign(t);
    t.dispose();
  });
  const out = await phaseGrads(tf, trainer.phases[m.phase]!, m.batch, m.inputs, m.scalars);
  parentPort!.postMessage(out, out.grads.map((g) => g.buffer as ArrayBuffer));
});
parentPort!.postMessage('ready');
