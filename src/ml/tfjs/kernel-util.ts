import { backend_util, getKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';

/** What the replacement kernels of every backend share (see kernels.ts). */

export type Backend = KernelBackend & { disposeData(dataId: object): void };

/** Runs a backend's own kernels on TensorInfos and frees every intermediate it made on dispose(). */
export class Kernels {
  private readonly temps: TensorInfo[] = [];
  constructor(
    private readonly backend: Backend,
    private readonly backendName: string,
  ) {}

  get raw(): Backend {
    return this.backend;
  }

  /** Inputs are named, except for kernels such as Pack that take a list. */
  run(name: string, inputs: Record<string, TensorInfo> | TensorInfo[], attrs: NamedAttrMap = {}, keep = false): TensorInfo {
    const k = getKernel(name, this.backendName);
    if (!k) throw new Error(`kernel ${name} missing on ${this.backendName}`);
    const out = k.kernelFunc({ inputs: inputs as Record<string, TensorInfo>, attrs, backend: this.backend }) as TensorInfo;
    if (!keep) this.temps.push(out);
    return out;
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  slice(x: TensorInfo, begin: number[], size: number[], keep = false): TensorInfo {
    return this.run('Slice', { x }, { begin, size }, keep);
  }

  /** Frees t with the other intermediates. */
  own(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

export type KernelArgs = { inputs: Record<string, TensorInfo>; backend: object; attrs?: NamedAttrMap };
export type Shape4 = [number, number, number, number];

/** The geometry of the forward conv a backprop kernel belongs to, from the kernel's attributes. */
export function forwardConv(attrs: NamedAttrMap | undefined, xShape: Shape4, filterShape: Shape4): backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode } = attrs as unknown as {
    strides: [number, number] | number;
    pad: backend_util.ExplicitPadding | 'same' | 'valid' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  return backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode);
}

/** Wraps a stock kernel function: the replacement decides per call whether to hand back to it. */
export type Wrap = (original: (args: never) => TensorInfo) => (args: KernelArgs) => TensorInfo | TensorInfo[];
