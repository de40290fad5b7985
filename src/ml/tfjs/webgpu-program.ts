import type { TensorInfo } from '@tensorflow/tfjs-core';
import { sizeOf } from '../../core/stage.js';

/** The slice of tfjs-backend-webgpu's program interface pipe's programs fill in. */
export interface WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms?: string;
  /** Declares uniforms.size, the output's element count. */
  size?: boolean;
  workgroupSize: [number, number, number];
  getUserCode(): string;
}

interface GpuBuffer {
  readonly size: number;
}

interface TensorData {
  dtype: string;
  shape: number[];
  values: ArrayLike<number> | null;
  resource: GpuBuffer | null;
}

export type WebGPUBackend = {
  thresholdToIncreaseWorkgroups: number;
  runWebGPUProgram(program: WebGPUProgram, inputs: TensorInfo[], dtype: 'float32', uniforms?: Array<{ type: 'int32' | 'float32'; data: number[] }>): TensorInfo;
  disposeData(dataId: object): void;
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): TensorData };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBuffer };
  queue: { writeBuffer(buffer: GpuBuffer, offset: number, data: Float32Array | Int32Array): void };
};

/** Threads per workgroup of pipe's one-thread-per-output programs. */
export const FLAT_THREADS = 128;

/** Workgroups for one thread per output: two-dimensional past WebGPU's 65,535 per dimension (tfjs' global index covers both). */
export function flatDispatch(n: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / FLAT_THREADS));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

/**
 * One thread per output element: `expr`, a WGSL expression of the flat index
 * `i`, over the inputs (read as flat arrays) and `uniforms`; `lets` are WGSL
 * statements evaluated first. Most of pipe's fused kernels are one of these.
 */
export class MapProgram implements WebGPUProgram {
  readonly size = true;
  readonly workgroupSize: [number, number, number] = [FLAT_THREADS, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];

  constructor(
    readonly shaderKey: string,
    readonly variableNames: string[],
    readonly outputShape: number[],
    private readonly expr: string,
    private readonly lets = '',
    readonly uniforms?: string,
  ) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = flatDispatch(sizeOf(outputShape));
  }

  getUserCode(): string {
    return `
      fn main(i : i32) {
        if (i < uniforms.size) {
          ${this.lets}
          result[i] = ${this.expr};
        }
      }
    `;
  }
}

/** Threads of a ChannelReduceProgram workgroup. */
const REDUCE_THREADS = 256;

/** One pass of a ChannelReduceProgram: `body` defines `v` for element `k` (row `r`, channel `c`); the pass's result `name` is `finish` of their sum. */
export interface ReducePass {
  body: string;
  name: string;
  finish: string;
}

/**
 * Per-channel sums over the rows of an [M, C] view of the first input, one
 * workgroup per channel, in a fixed order (strided partial sums, then a tree
 * in shared memory), so results are the same every run. Passes run one after
 * the other and each may use the results of those before it (a variance
 * after its mean); the output is [passes, C], then one row per `rows`
 * expression of c (copies of per-channel inputs, kept with the sums).
 * `uniforms.M` and `uniforms.C` give the view's size; with C = 1 it sums a
 * whole tensor.
 */
export class ChannelReduceProgram implements WebGPUProgram {
  readonly workgroupSize: [number, number, number] = [REDUCE_THREADS, 1, 1];
  readonly dispatchLayout = { x: [0, 1] };
  readonly dispatch: [number, number, number];
  readonly outputShape: number[];
  readonly uniforms: string;

  constructor(
    readonly shaderKey: string,
    readonly variableNames: string[],
    channels: number,
    private readonly passes: ReducePass[],
    private readonly lets = '',
    uniforms = '',
    private readonly rows: string[] = [],
  ) {
    if (channels > 65535) throw new Error(`ChannelReduceProgram: ${channels} channels, more than the 65,535 workgroups WebGPU dispatches along one axis`);
    this.outputShape = [passes.length + rows.length, channels];
    this.dispatch = [channels, 1, 1];
    this.uniforms = `M : i32, C : i32, ${uniforms}`;
  }

  getUserCode(): string {
    const passes = this.passes.map(
      (p, j) => `
        var ${p.name} = 0.0;
        {
          var acc = 0.0;
          for (var r = lane; r < uniforms.M; r = r + ${REDUCE_THREADS}) {
            let k = r * uniforms.C + c;
            ${this.lets}
            ${p.body}
            acc = acc + v;
          }
          let sum = workgroupSum(acc, lane);
          ${p.name} = ${p.finish};
        }
        if (lane == 0) { result[${j} * uniforms.C + c] = ${p.name}; }`,
    );
    return `
      var<workgroup> partial : array<f32, ${REDUCE_THREADS}>;

      fn workgroupSum(value : f32, lane : i32) -> f32 {
        partial[lane] = value;
        workgroupBarrier();
        for (var s = ${REDUCE_THREADS / 2}; s > 0; s = s >> 1) {
          if (lane < s) { partial[lane] = partial[lane] + partial[lane + s]; }
          workgroupBarrier();
        }
        let total = partial[0];
        workgroupBarrier();
        return total;
      }

      fn main(index : i32) {
        let c = i32(workgroupId.x);
        let lane = i32(localIndex);
        ${passes.join('\n')}
        if (lane == 0) {
          ${this.rows.map((e, j) => `result[${this.passes.length + j} * uniforms.C + c] = ${e};`).join('\n')}
        }
      }
    `;
  }
}
