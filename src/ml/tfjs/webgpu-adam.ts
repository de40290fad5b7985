import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { AdamUpdateAttrs } from './adam-kernel.js';
import type { KernelArgs } from './kernel-util.js';
import { MapProgram, type WebGPUBackend } from './webgpu-program.js';

/**
 * Adam's update as three elementwise programs (first moment, second moment,
 * weight) per weight tensor, all of a phase's weights in one kernel call,
 * instead of a dozen tfjs ops and seven uploaded scalars per weight tensor:
 * on a GPU, a training step of these small models is bounded by dispatches,
 * not arithmetic. Same formula, same order of operations as the op-by-op
 * update in models/adam.ts.
 */
const PARTS = {
  m: { inputs: ['M', 'G'], expr: 'M[i] * uniforms.a + G[i] * uniforms.b' },
  v: { inputs: ['V', 'G'], expr: 'V[i] * uniforms.a + (G[i] * G[i]) * uniforms.b' },
  w: { inputs: ['W', 'M', 'V'], expr: 'W[i] - (M[i] * uniforms.a) / (sqrt(V[i]) + uniforms.b)' },
} as const;

export function adamUpdate(args: KernelArgs): TensorInfo[] {
  const { beta1, beta2, alpha, epsHat } = args.attrs as unknown as AdamUpdateAttrs;
  const backend = args.backend as WebGPUBackend;
  const run = (part: keyof typeof PARTS, inputs: TensorInfo[], a: number, b: number) =>
    backend.runWebGPUProgram(new MapProgram(`pipeAdam_${part}`, [...PARTS[part].inputs], [...inputs[0]!.shape], PARTS[part].expr, '', 'a : f32, b : f32,'), inputs, 'float32', [
      { type: 'float32', data: [a] },
      { type: 'float32', data: [b] },
    ]);
  const out: TensorInfo[] = [];
  for (let j = 0; `w${j}` in args.inputs; j++) {
    const [w, g, m, v] = ['w', 'g', 'm', 'v'].map((n) => args.inputs[`${n}${j}`]!);
    const m2 = run('m', [m!, g!], beta1, 1 - beta1);
    const v2 = run('v', [v!, g!], beta2, 1 - beta2);
    out.push(run('w', [w!, m2, v2], alpha, epsHat), m2, v2);
  }
  return out;
}
