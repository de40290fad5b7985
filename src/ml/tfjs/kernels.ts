import { findBackend, getKernel, type KernelConfig, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { Wrap } from './kernel-util.js';
import { WASM_KERNELS } from './wasm-kernels.js';

export { setConvtMode, type ConvtMode } from './wasm-kernels.js';
import { WEBGPU_KERNELS, WEBGPU_PATCH } from './webgpu-kernels.js';

/** pipe's training kernels per backend (see wasm-kernels.ts and webgpu-kernels.ts). */
const SETS: Record<string, Record<string, Wrap>> = { wasm: WASM_KERNELS, webgpu: WEBGPU_KERNELS };
/** Changes to a backend instance that are not kernels; each returns its undo. */
const PATCHES: Record<string, (backend: object) => () => void> = { webgpu: WEBGPU_PATCH };

/** The backend's own kernels, captured before the first replacement. */
const stock = new Map<string, Map<string, KernelConfig | undefined>>();

/** Registers the replacements for a backend; returns how to put the originals back. */
export function registerTrainingKernels(backendName: string): () => void {
  const set = SETS[backendName] ?? {};
  if (!stock.has(backendName)) stock.set(backendName, new Map(Object.keys(set).map((n) => [n, getKernel(n, backendName)])));
  const originals = stock.get(backendName)!;
  for (const [name, wrap] of Object.entries(set)) {
    const original =
      originals.get(name)?.kernelFunc ??
      (() => {
        throw new Error(`kernel ${name} missing on ${backendName}`);
      });
    if (getKernel(name, backendName)) unregisterKernel(name, backendName);
    registerKernel({ kernelName: name, backendName, kernelFunc: wrap(original as never) as never });
  }
  const instance = PATCHES[backendName] && findBackend(backendName);
  const unpatch = instance ? PATCHES[backendName]!(instance) : () => {};
  return () => {
    unpatch();
    for (const [name, k] of originals) {
      unregisterKernel(name, backendName);
      if (k) registerKernel(k);
    }
  };
}
