import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { AdamUpdateAttrs } from './adam-kernel.js';
import { sizeOf } from '../../core/stage.js';
import type { KernelArgs } from './kernel-util.js';
import { FLAT_THREADS, flatDispatch, type WebGPUBackend, type WebGPUProgram } from './webgpu-program.js';

/**
 * Adam's update as three elementwise programs (first moment, second moment,
 * weight) instead of a dozen tfjs ops and seven uploaded scalars per weight
 * tensor: on a GPU, a training step of these small models is bounded by
 * dispatches, not arithmetic. Same formula, same order of operations as the
 * op-by-op update in models/adam.ts.
 */
const PARTS = {
  m: { inputs: ['M', 'G'], expr: 'M[index] * uniforms.a + G[index] * uniforms.b' },
  v: { inputs: ['V', 'G'], expr: 'V[index] * uniforms.a + (G[index] * G[index]) * uniforms.b' },
  w: { inputs: ['W', 'M', 'V'], expr: 'W[index] - (M[index] * uniforms.a) / (sqrt(V[index]) + uniforms.b)' },
} as const;

class AdamProgram implements WebGPUProgram {
  readonly variableNames: string[];
  readonly uniforms = 'a : f32, b : f32,';
  readonly size = true;
  readonly workgroupSize: [number, number, number] = [FLAT_THREADS, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    private readonly part: keyof typeof PARTS,
    readonly outputShape: number[],
  ) {
    this.variableNames = [...PARTS[part].inputs];
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = flatDispatch(sizeOf(outputShape));
    this.shaderKey = `pipeAdam_${part}`;
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          result[index] = ${PARTS[this.part].expr};
        }
      }
    `;
  }
}

export function adamUpdate(args: KernelArgs): TensorInfo[] {
  const { w, g, m, v } = args.inputs as Record<'w' | 'g' | 'm' | 'v', TensorInfo>;
  const { beta1, beta2, alpha, epsHat } = args.attrs as unknown as AdamUpdateAttrs;
  const backend = args.backend as WebGPUBackend;
  const run = (part: keyof typeof PARTS, inputs: TensorInfo[], a: number, b: number) =>
    backend.runWebGPUProgram(new AdamProgram(part, [...w.shape]), inputs, 'float32', [
      { type: 'float32', data: [a] },
      { type: 'float32', data: [b] },
    ]);
  const m2 = run('m', [m, g], beta1, 1 - beta1);
  const v2 = run('v', [v, g], beta2, 1 - beta2);
  return [run('w', [w, m2, v2], alpha, epsHat), m2, v2];
}
