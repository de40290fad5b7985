import type { backend_util, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { type Backend, forwardConv, type KernelArgs, Kernels, type Shape4, type Wrap } from './kernel-util.js';

/**
 * Training kernels the wasm backend lacks or runs slowly, rebuilt from its
 * fast ones (XNNPACK Conv2D, BatchMatMul, Transpose) or written over its heap:
 * - Conv2DBackpropFilter (missing): one dilated conv of x against dy, plus transposes.
 * - Conv2DBackpropInput (a naive loop there): the stride phases as one stride-1 conv, or a GEMM plus col2im.
 * - BatchMatMul with a transposed operand (about 10× slower there): transpose first, then multiply.
 * - Tile of a broadcast block (batch-norm gradients): doubling copies.
 * - Identity (a copy there, run for every tensor saved for the backward pass): shared memory.
 * Everything works on TensorInfos through the backend's own kernels, so no
 * op is recorded on the gradient tape and every intermediate is freed.
 */

/** dW[kh,kw,ci,co] = Σ x[n, oh·s+kh-pt, ow·s+kw-pl, ci]·dy[n,oh,ow,co]: a conv over the batch with dilation s. */
function conv2dBackpropFilter(backendName: string) {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const conv = forwardConv(attrs, x.shape as Shape4, (attrs as { filterShape: Shape4 }).filterShape);
    const k = new Kernels(backend as Backend, backendName);
    try {
      const { top, left } = conv.padInfo;
      const [KH, KW] = [conv.filterHeight, conv.filterWidth];
      const bottom = Math.max(0, KH - conv.inHeight - top + (conv.outHeight - 1) * conv.strideHeight);
      const right = Math.max(0, KW - conv.inWidth - left + (conv.outWidth - 1) * conv.strideWidth);
      const xt = k.transpose(x, [3, 1, 2, 0]);
      const dyt = k.transpose(dy, [1, 2, 0, 3]);
      const g = k.run(
        'Conv2D',
        { x: xt, filter: dyt },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [conv.strideHeight, conv.strideWidth],
          dimRoundingMode: 'floor',
        } as unknown as NamedAttrMap,
      );
      const fit = g.shape[1] === KH && g.shape[2] === KW ? g : k.slice(g, [0, 0, 0, 0], [g.shape[0]!, KH, KW, g.shape[3]!]);
      return k.run('Transpose', { x: fit }, { perm: [1, 2, 0, 3] }, true);
    } finally {
      k.dispose();
    }
  };
}

/**
 * dx = conv2dTranspose(dy, W). When the stride divides the kernel and the
 * input size (every layer of pipe's models), each of the s² output "phases"
 * (rows ≡ a, columns ≡ b mod s) is a stride-1 conv of dy with one tap in s of
 * the flipped filter: no multiplications by inserted zeros (stackedPhaseConv).
 * Otherwise dy is zero-dilated and convolved once with the flipped filter.
 */
/** The transposed-conv strategy: auto picks per layer (preferCol2im); stacked or col2im forces one (bench/convt.ts compares them). */
export type ConvtMode = 'auto' | 'stacked' | 'col2im';
let convtMode: ConvtMode = 'auto';

/** Set from the stage's `convt` param before it runs (it is part of the stage's key). */
export function setConvtMode(mode: ConvtMode): void {
  convtMode = mode;
}

function conv2dBackpropInput(backendName: string) {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const conv = forwardConv(attrs, (attrs as { inputShape: Shape4 }).inputShape, filter.shape as Shape4);
    const k = new Kernels(backend as Backend, backendName);
    try {
      const [sh, sw] = [conv.strideHeight, conv.strideWidth];
      const [KH, KW] = [conv.filterHeight, conv.filterWidth];
      if (convtMode === 'col2im' || (convtMode === 'auto' && preferCol2im(conv))) return col2imConv(k, dy, filter, conv);
      const phased = (sh > 1 || sw > 1) && KH % sh === 0 && KW % sw === 0 && conv.inHeight % sh === 0 && conv.inWidth % sw === 0;
      return phased ? stackedPhaseConv(k, dy, filter, conv) : dilatedConv(k, dy, filter, conv);
    } finally {
      k.dispose();
    }
  };
}

/**
 * Which transposed-conv strategy is faster, as measured with bench/convt.ts on the
 * GAN's and VAE's layers: col2im for few input channels or a small dy (where XNNPACK's
 * per-call setup and narrow outputs dominate), stacked phase convs otherwise.
 */
function preferCol2im(conv: backend_util.Conv2DInfo): boolean {
  return conv.inChannels <= 8 || conv.outHeight * conv.outWidth <= 64;
}

/** A stride-1 conv with explicit padding; negative pads crop the result to `out` rows/cols instead. */
function paddedConv(k: Kernels, x: TensorInfo, w: TensorInfo, top: number, left: number, outH: number, outW: number, keep: boolean): TensorInfo {
  const [N, H, W] = x.shape as Shape4;
  const [MH, MW, , CI] = w.shape as Shape4;
  const bottom = outH + MH - 1 - H - top;
  const right = outW + MW - 1 - W - left;
  const cropped = top < 0 || left < 0 || bottom < 0 || right < 0;
  const out = k.run(
    'Conv2D',
    { x, filter: w },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [Math.max(0, top), Math.max(0, bottom)],
        [Math.max(0, left), Math.max(0, right)],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: 'floor',
    } as unknown as NamedAttrMap,
    keep && !cropped,
  );
  return cropped ? k.slice(out, [0, Math.max(0, -top), Math.max(0, -left), 0], [N, outH, outW, CI], keep) : out;
}

/**
 * The s² phase convs as one: every phase reads a (KH/s)×(KW/s) window of dy, at an offset of
 * at most one row/column from the others, so one stride-1 conv whose output channels are
 * [phase, channel] computes them all on a grid one larger than dy (a few percent of extra
 * work, against s² separate small convs); the phases are then interleaved into dx.
 */
function stackedPhaseConv(k: Kernels, dy: TensorInfo, filter: TensorInfo, conv: backend_util.Conv2DInfo): TensorInfo {
  const [sh, sw] = [conv.strideHeight, conv.strideWidth];
  const [MH, MW] = [conv.filterHeight / sh, conv.filterWidth / sw];
  const { inChannels: CI, outChannels: CO, inHeight: H, inWidth: W, filterWidth: KW } = conv;
  const [N, QH, QW] = [dy.shape[0]!, H / sh, W / sw];
  // Output rows s·q + a read dy rows q + c - m (m < MH) with filter rows kh = s·m + r.
  const phase = (a: number, s: number, pad: number) => ({ r: (a + pad) % s, c: Math.floor((a + pad) / s) });
  const rows = Array.from({ length: sh }, (_, a) => phase(a, sh, conv.padInfo.top));
  const cols = Array.from({ length: sw }, (_, b) => phase(b, sw, conv.padInfo.left));
  const [c0h, c0w] = [Math.min(...rows.map((p) => p.c)), Math.min(...cols.map((p) => p.c))];
  const [PH, PW] = [QH + Math.max(...rows.map((p) => p.c)) - c0h, QW + Math.max(...cols.map((p) => p.c)) - c0w];
  const backend = k.raw as HeapBackend;
  const G = sh * sw * CI;
  const stacked = k.own(backend.makeOutput([MH, MW, CO, G], 'float32'));
  const w = backend.typedArrayFromHeap(filter) as Float32Array;
  const ws = backend.typedArrayFromHeap(stacked) as Float32Array;
  for (let t = 0; t < MH; t++)
    for (let u = 0; u < MW; u++)
      for (let a = 0; a < sh; a++)
        for (let b = 0; b < sw; b++) {
          const kh = sh * (MH - 1 - t) + rows[a]!.r;
          const kw = sw * (MW - 1 - u) + cols[b]!.r;
          for (let c = 0; c < CI; c++)
            for (let o = 0; o < CO; o++) ws[((t * MW + u) * CO + o) * G + (a * sw + b) * CI + c] = w[((kh * KW + kw) * CI + c) * CO + o]!;
        }
  const y = paddedConv(k, dy, stacked, MH - 1 - c0h, MW - 1 - c0w, PH, PW, false);
  const out = backend.makeOutput([N, H, W, CI], 'float32');
  const src = backend.typedArrayFromHeap(y) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  for (let n = 0; n < N; n++)
    for (let q = 0; q < QH; q++)
      for (let a = 0; a < sh; a++) {
        const yRow = (n * PH + q + rows[a]!.c - c0h) * PW;
        const dRow = (n * H + q * sh + a) * W * CI;
        for (let r = 0; r < QW; r++)
          for (let b = 0; b < sw; b++) {
            const from = (yRow + r + cols[b]!.c - c0w) * G + (a * sw + b) * CI;
            dst.set(src.subarray(from, from + CI), dRow + (r * sw + b) * CI);
          }
      }
  return out;
}

function dilatedConv(k: Kernels, dy: TensorInfo, filter: TensorInfo, conv: backend_util.Conv2DInfo): TensorInfo {
  const [N, OH, OW, CO] = dy.shape as Shape4;
  const [sh, sw] = [conv.strideHeight, conv.strideWidth];
  let d = dy;
  if (sh > 1 || sw > 1) {
    const r = k.reshape(dy, [N, OH, 1, OW, 1, CO]);
    const p = k.run('PadV2', { x: r }, {
      paddings: [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ],
      constantValue: 0,
    } as unknown as NamedAttrMap);
    const flat = k.reshape(p, [N, OH * sh, OW * sw, CO]);
    d = k.slice(flat, [0, 0, 0, 0], [N, (OH - 1) * sh + 1, (OW - 1) * sw + 1, CO]);
  }
  const [KH, KW] = [conv.filterHeight, conv.filterWidth];
  const w = k.transpose(k.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
  return paddedConv(k, d, w, KH - 1 - conv.padInfo.top, KW - 1 - conv.padInfo.left, conv.inHeight, conv.inWidth, true);
}

/**
 * dx by matrix product and scatter: cols = dy·Wᵀ ([N·OH·OW, KH·KW·CI], one fast GEMM), then each
 * column block is added into the input position it came from (col2im). Wins over phase convs
 * when the input has few channels, where convolutions vectorise poorly.
 */
function col2imConv(k: Kernels, dy: TensorInfo, filter: TensorInfo, conv: backend_util.Conv2DInfo): TensorInfo {
  const [N, OH, OW, CO] = dy.shape as Shape4;
  const { filterHeight: KH, filterWidth: KW, inChannels: CI, inHeight: H, inWidth: W, strideHeight: sh, strideWidth: sw } = conv;
  const { top, left } = conv.padInfo;
  const dy2 = k.reshape(dy, [N * OH * OW, CO]);
  // [KH,KW,CI,CO] -> [CO, KH·KW·CI] so the product needs no transposed operand.
  const wT = k.reshape(k.transpose(filter, [3, 0, 1, 2]), [CO, KH * KW * CI]);
  const cols = k.run('BatchMatMul', { a: k.reshape(dy2, [1, N * OH * OW, CO]), b: k.reshape(wT, [1, CO, KH * KW * CI]) }, { transposeA: false, transposeB: false });
  const backend = k.raw as HeapBackend;
  const out = backend.makeOutput([N, H, W, CI], 'float32');
  const src = backend.typedArrayFromHeap(cols) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  dst.fill(0);
  const rowLen = KW * CI;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const base = ((n * OH + oh) * OW + ow) * KH * rowLen;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh + kh - top;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw + kw - left;
            if (iw < 0 || iw >= W) continue;
            const s0 = base + kh * rowLen + kw * CI;
            const d0 = ((n * H + ih) * W + iw) * CI;
            for (let c = 0; c < CI; c++) dst[d0 + c] += src[s0 + c]!;
          }
        }
      }
    }
  }
  return out;
}

/** Transposed operands are moved in memory once, then the fast untransposed path runs. */
function batchMatMul(backendName: string, original: (args: never) => TensorInfo) {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const { transposeA, transposeB } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    if (!transposeA && !transposeB) return original({ inputs, backend, attrs } as never);
    const k = new Kernels(backend as Backend, backendName);
    try {
      const swapLast = (t: TensorInfo) => k.transpose(t, [...t.shape.keys()].map((i, _, a) => (i === a.length - 2 ? a.length - 1 : i === a.length - 1 ? a.length - 2 : i)));
      const a = transposeA ? swapLast(inputs.a!) : inputs.a!;
      const b = transposeB ? swapLast(inputs.b!) : inputs.b!;
      return original({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } } as never);
    } finally {
      k.dispose();
    }
  };
}

type HeapBackend = Backend & {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: object): void;
};

/**
 * Identity shares the input's memory (one more reference) where wasm copies it:
 * tfjs clones every tensor a kernel saves for the backward pass through Identity.
 * No kernel writes into its inputs, and a variable's assign swaps memory rather
 * than overwriting it, so a shared clone keeps its values.
 */
function identity() {
  return ({ inputs, backend }: KernelArgs) => {
    const x = inputs.x!;
    (backend as HeapBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/**
 * Tile where only leading size-1 dims repeat (batch-norm gradients broadcast
 * [1,1,1,C] to [N,H,W,C] this way): the output is the input block repeated,
 * written by doubling copies instead of wasm's per-element index loop.
 */
function tile(original: (args: never) => TensorInfo) {
  return (args: KernelArgs) => {
    const x = args.inputs.x!;
    const reps = (args.attrs as { reps: number[] }).reps;
    const k = reps.findLastIndex((r) => r !== 1) + 1;
    if (x.dtype === 'string' || k === 0 || x.shape.slice(0, k).some((d) => d !== 1)) return original(args as never);
    const backend = args.backend as HeapBackend;
    const out = backend.makeOutput(x.shape.map((d, i) => d * reps[i]!), x.dtype);
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    dst.set(src, 0);
    for (let filled = src.length; filled < dst.length; filled *= 2) dst.copyWithin(filled, 0, Math.min(filled, dst.length - filled));
    return out;
  };
}

export const WASM_KERNELS: Record<string, Wrap> = {
  Conv2DBackpropFilter: () => conv2dBackpropFilter('wasm'),
  Conv2DBackpropInput: () => conv2dBackpropInput('wasm'),
  BatchMatMul: (original) => batchMatMul('wasm', original),
  Tile: tile,
  Identity: identity,
};
