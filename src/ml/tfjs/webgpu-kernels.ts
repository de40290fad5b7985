import { env, type TensorInfo } from '@tensorflow/tfjs-core';
import { sizeOf } from '../../core/stage.js';
import { ADAM_UPDATE } from './adam-kernel.js';
import { forwardConv, type KernelArgs, Kernels, type Shape4, type Wrap } from './kernel-util.js';
import { adamUpdate } from './webgpu-adam.js';
import { WEBGPU_FUSED } from './webgpu-fused.js';
import { MapProgram, type WebGPUBackend, type WebGPUProgram } from './webgpu-program.js';

/**
 * WebGPU replacements. Conv2DBackpropFilter, which tfjs-backend-webgpu runs as a
 * naive loop: Conv2DBackpropFilter there is one thread per filter weight,
 * each summing over batch × output pixels, so a 4×4×16×32 filter gets 8,192
 * threads doing 32,768 serial steps each. Here the filter gradient is a
 * matrix product, dW[(kh,kw,ci), co] = Σ_p x̂[p, (kh,kw,ci)] · dy[p, co] over
 * p = (n, oh, ow), computed in shared-memory tiles with the long p axis split
 * across workgroups (split-K), then summed over splits in a fixed order, so
 * results do not depend on scheduling. Matrix products that tfjs would
 * send to its split-K program go to its small-output one (see avoidSplitK).
 * Adam's update is three programs (webgpu-adam.ts), training chains such as
 * batch norm are fused kernels (webgpu-fused.ts), and host values reach
 * the GPU through queue.writeBuffer (see uploadByQueueWrite).
 */

/** 16×16 threads; each computes a (tileR/16)×(tileC/16) block of outputs; K steps of 16. */
const THREADS = 16;
const TK = 16;
/** Enough workgroups to keep a large GPU busy; split-K adds them when the filter alone gives few tiles. */
const TARGET_WORKGROUPS = 1024;

function tileFor(n: number): number {
  return n >= 64 ? 64 : n >= 32 ? 32 : 16;
}

export interface FilterGradPlan {
  tileR: number;
  tileC: number;
  splits: number;
  chunk: number;
}

/** Tile sizes and the split of the reduction axis for a filter gradient with R = KH·KW·CI rows, CO columns and P = N·OH·OW terms. */
export function planFilterGrad(R: number, CO: number, P: number): FilterGradPlan {
  const tileR = tileFor(R);
  const tileC = tileFor(CO);
  const tiles = Math.ceil(R / tileR) * Math.ceil(CO / tileC);
  const steps = Math.ceil(P / TK);
  // At least 4 K-steps per split, so each workgroup amortises its writes.
  const wanted = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(steps / 4)));
  const chunk = Math.ceil(steps / wanted) * TK;
  return { tileR, tileC, splits: Math.ceil(P / chunk), chunk };
}

class FilterGradProgram implements WebGPUProgram {
  readonly variableNames = ['x', 'dy'];
  readonly uniforms = 'pads : vec2<i32>, strides : vec2<i32>, filterWidth : i32, chunk : i32,';
  readonly workgroupSize: [number, number, number] = [THREADS, THREADS, 1];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    R: number,
    CO: number,
    private readonly plan: FilterGradPlan,
  ) {
    this.outputShape = [plan.splits, R, CO];
    this.dispatch = [Math.ceil(CO / plan.tileC), Math.ceil(R / plan.tileR), plan.splits];
    this.shaderKey = `pipeConv2DDerFilter_${plan.tileR}_${plan.tileC}`;
  }

  getUserCode(): string {
    const { tileR, tileC } = this.plan;
    const [mr, mc] = [tileR / THREADS, tileC / THREADS];
    const loadsA = (TK * tileR) / (THREADS * THREADS);
    const loadsB = (TK * tileC) / (THREADS * THREADS);
    return `
      var<workgroup> As : array<array<f32, ${tileR}>, ${TK}>;
      var<workgroup> Bs : array<array<f32, ${tileC}>, ${TK}>;

      fn main() {
        let N = uniforms.xShape[0];
        let H = uniforms.xShape[1];
        let W = uniforms.xShape[2];
        let CI = uniforms.xShape[3];
        let OH = uniforms.dyShape[1];
        let OW = uniforms.dyShape[2];
        let CO = uniforms.dyShape[3];
        let R = uniforms.outShape[1];
        let P = N * OH * OW;
        let split = i32(workgroupId.z);
        let rBase = i32(workgroupId.y) * ${tileR};
        let cBase = i32(workgroupId.x) * ${tileC};
        let kStart = split * uniforms.chunk;
        let kEnd = min(kStart + uniforms.chunk, P);
        let t = i32(localIndex);
        var acc : array<array<f32, ${mc}>, ${mr}>;
        // The trip count comes from uniforms only: barriers need uniform control flow.
        for (var step = 0; step < uniforms.chunk; step = step + ${TK}) {
          let k0 = kStart + step;
          for (var i = 0; i < ${loadsA}; i = i + 1) {
            let e = t + i * ${THREADS * THREADS};
            let kk = e / ${tileR};
            let rr = e % ${tileR};
            let p = k0 + kk;
            let r = rBase + rr;
            var v = 0.0;
            if (p < kEnd && r < R) {
              let ow = p % OW;
              let oh = (p / OW) % OH;
              let n = p / (OW * OH);
              let ci = r % CI;
              let kw = (r / CI) % uniforms.filterWidth;
              let kh = r / (CI * uniforms.filterWidth);
              let ih = oh * uniforms.strides[0] + kh - uniforms.pads[0];
              let iw = ow * uniforms.strides[1] + kw - uniforms.pads[1];
              if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                v = x[((n * H + ih) * W + iw) * CI + ci];
              }
            }
            As[kk][rr] = v;
          }
          for (var i = 0; i < ${loadsB}; i = i + 1) {
            let e = t + i * ${THREADS * THREADS};
            let kk = e / ${tileC};
            let cc = e % ${tileC};
            let p = k0 + kk;
            let c = cBase + cc;
            var v = 0.0;
            if (p < kEnd && c < CO) {
              v = dy[p * CO + c];
            }
            Bs[kk][cc] = v;
          }
          workgroupBarrier();
          for (var kk = 0; kk < ${TK}; kk = kk + 1) {
            var a : array<f32, ${mr}>;
            for (var i = 0; i < ${mr}; i = i + 1) { a[i] = As[kk][i32(localId.y) * ${mr} + i]; }
            for (var j = 0; j < ${mc}; j = j + 1) {
              let b = Bs[kk][i32(localId.x) * ${mc} + j];
              for (var i = 0; i < ${mr}; i = i + 1) { acc[i][j] = fma(a[i], b, acc[i][j]); }
            }
          }
          workgroupBarrier();
        }
        for (var i = 0; i < ${mr}; i = i + 1) {
          let r = rBase + i32(localId.y) * ${mr} + i;
          for (var j = 0; j < ${mc}; j = j + 1) {
            let c = cBase + i32(localId.x) * ${mc} + j;
            if (r < R && c < CO) {
              result[(split * R + r) * CO + c] = acc[i][j];
            }
          }
        }
      }
    `;
  }
}

/** dW for NHWC convs with dilation 1 (all pipe's models use); anything else falls back to the stock kernel. */
function conv2dBackpropFilter(original: (args: never) => TensorInfo) {
  return (args: KernelArgs) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs as { dataFormat?: string; filterShape: Shape4 };
    if (attrs.dataFormat === 'NCHW') return original(args as never);
    const conv = forwardConv(args.attrs, x.shape as Shape4, attrs.filterShape);
    const backend = args.backend as WebGPUBackend;
    const [KH, KW, CI, CO] = attrs.filterShape;
    const R = KH * KW * CI;
    const plan = planFilterGrad(R, CO, conv.batchSize * conv.outHeight * conv.outWidth);
    const partial = backend.runWebGPUProgram(new FilterGradProgram(R, CO, plan), [x, dy], 'float32', [
      { type: 'int32', data: [conv.padInfo.top, conv.padInfo.left] },
      { type: 'int32', data: [conv.strideHeight, conv.strideWidth] },
      { type: 'int32', data: [KW] },
      { type: 'int32', data: [plan.chunk] },
    ]);
    const k = new Kernels(args.backend as never, 'webgpu');
    try {
      k.own(partial);
      if (plan.splits === 1) return k.run('Reshape', { x: partial }, { shape: [KH, KW, CI, CO] }, true);
      return backend.runWebGPUProgram(splitSum([KH, KW, CI, CO]), [partial], 'float32');
    } finally {
      k.dispose();
    }
  };
}

/** Sums the split-K partials [splits, n] over splits, in split order: one thread per output, reads coalesced. */
function splitSum(shape: number[]): MapProgram {
  const sum = 'var s = 0.0; for (var k = 0; k < uniforms.partialShape[0]; k = k + 1) { s = s + partial[k * uniforms.size + i]; }';
  return new MapProgram('pipeSplitSum', ['partial'], shape, 's', sum);
}

const SPLIT_K_MIN_INNER = 2000;
const SMALL_OUTPUT_PROGRAM = 2;

/**
 * tfjs picks its split-K matmul program for an unbatched product with a long
 * inner dimension and few 32×32 output tiles. It accumulates with atomics, so
 * sums land in a different order each run, and with a transposed B it gave
 * wrong results (off by the size of the values) on Mesa's lavapipe. Such calls
 * run tfjs' small-output program instead, which tiles the same way without atomics.
 */
function avoidSplitK(original: (args: never) => TensorInfo) {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const rank = a.shape.length;
    const batch = Math.max(sizeOf(a.shape.slice(0, -2)), sizeOf(b.shape.slice(0, -2)));
    const inner = a.shape[transposeA ? rank - 2 : rank - 1]!;
    const m = a.shape[transposeA ? rank - 1 : rank - 2]!;
    const n = b.shape[transposeB ? b.shape.length - 2 : b.shape.length - 1]!;
    const tiles = Math.ceil(m / 32) * Math.ceil(n / 32);
    const threshold = (args.backend as WebGPUBackend).thresholdToIncreaseWorkgroups;
    if (env().getNumber('WEBGPU_MATMUL_PROGRAM_TYPE') >= 0 || batch !== 1 || inner < SPLIT_K_MIN_INNER || tiles > threshold || m * n <= 128) return original(args as never);
    env().set('WEBGPU_MATMUL_PROGRAM_TYPE', SMALL_OUTPUT_PROGRAM);
    try {
      return original(args as never);
    } finally {
      env().set('WEBGPU_MATMUL_PROGRAM_TYPE', -1);
    }
  };
}

/** GPUBufferUsage STORAGE | COPY_SRC | COPY_DST: what tfjs gives tensor buffers. */
const TENSOR_USAGE = 0x80 | 0x04 | 0x08;

/**
 * tfjs uploads host values (every JS number in \`tf.mul(x, 0.9)\` is one)
 * through a staging buffer created, mapped and destroyed per tensor, and ends
 * the compute pass to copy from it. On an H100 through Vulkan that cost more
 * than the kernels: buffer creation and queue submits took ~100 ms of a 155 ms
 * VAE step at batch 256 (25 ms of it in kernels). Here the values go through queue.writeBuffer, which
 * stages inside Dawn. Ordering holds: the target comes from tfjs' pool of free
 * buffers, so no recorded but unsubmitted command uses it, and the write is
 * queued after everything already submitted.
 */
export function uploadByQueueWrite(backend: WebGPUBackend): () => void {
  const stock = backend.uploadToGPU;
  backend.uploadToGPU = function (this: WebGPUBackend, dataId: object) {
    const d = this.tensorMap.get(dataId);
    if (d.resource != null || d.values == null || !['float32', 'int32', 'bool'].includes(d.dtype)) return stock.call(this, dataId);
    const data = d.dtype === 'float32' ? (d.values instanceof Float32Array ? d.values : Float32Array.from(d.values)) : d.values instanceof Int32Array ? d.values : Int32Array.from(d.values);
    const buffer = this.bufferManager.acquireBuffer(data.byteLength, TENSOR_USAGE);
    this.queue.writeBuffer(buffer, 0, data);
    d.resource = buffer;
    d.values = null;
  };
  return () => {
    delete (backend as Partial<WebGPUBackend>).uploadToGPU;
  };
}

export const WEBGPU_PATCH = uploadByQueueWrite as (backend: object) => () => void;

export const WEBGPU_KERNELS: Record<string, Wrap> = {
  Conv2DBackpropFilter: conv2dBackpropFilter,
  BatchMatMul: avoidSplitK,
  _FusedMatMul: avoidSplitK,
  [ADAM_UPDATE]: () => adamUpdate,
  ...Object.fromEntries(Object.entries(WEBGPU_FUSED).map(([name, kernel]) => [name, () => kernel])),
};
