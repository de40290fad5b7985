import type { TensorInfo } from '@tensorflow/tfjs-core';

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
