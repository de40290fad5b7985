import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { registerTrainingKernels } from './kernels.js';
import { registerGradients } from './gradients.js';

export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type Tf = typeof TF;

export interface TfRuntime {
  tf: Tf;
  backend: Exclude<BackendName, 'auto'>;
  /** Why each backend tried before the chosen one was passed over. */
  passed: string[];
}

const ORDER: Array<Exclude<BackendName, 'auto'>> = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

const provided = new Map<string, () => Promise<unknown>>();

/** A bundle (bench/gpu.ts) hands in the optional packages it carries, since it has no node_modules to import them from. */
export function provideModules(loaders: Record<string, () => Promise<unknown>>): void {
  for (const [name, load] of Object.entries(loaders)) provided.set(name, load);
}

/** Optional packages are imported by a computed name so that bundlers and tsc leave them alone. */
async function optional<T>(name: string): Promise<T> {
  const load = provided.get(name);
  return (await (load ? load() : import(name))) as T;
}

function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/Cannot find (package|module)/.test(msg)) return 'not installed';
  return msg.split('\n')[0]!;
}

async function tryTensorflow(tf: Tf): Promise<void> {
  let lastError: unknown;
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await optional(pkg);
      if (await tf.setBackend('tensorflow')) return;
    } catch (e) {
      lastError = new Error(`${pkg}: ${reason(e)}`);
    }
  }
  throw lastError ?? new Error('@tensorflow/tfjs-node not installed');
}

interface GpuAdapterInfo {
  description?: string;
  device?: string;
  vendor?: string;
  isFallbackAdapter?: boolean;
}

/** Dawn reaches Linux GPUs through Vulkan; without the loader it only prints warnings, so look first. */
function hasVulkanLoader(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':'), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64'];
  return dirs.some((d) => d && existsSync(join(d, 'libvulkan.so.1')));
}

/** A real GPU through the `webgpu` package (Dawn). Under `auto`, software adapters (llvmpipe, SwiftShader) are passed over: wasm is faster. */
async function tryWebgpu(tf: Tf, auto: boolean): Promise<void> {
  let webgpu: { create(opts: string[]): { requestAdapter(): Promise<{ info?: GpuAdapterInfo } | null> }; globals: object };
  try {
    webgpu = await optional('webgpu');
  } catch (e) {
    throw new Error(`npm package 'webgpu' ${reason(e)}`);
  }
  if (!hasVulkanLoader()) throw new Error('no Vulkan loader (libvulkan.so.1) on this machine');
  const gpu = webgpu.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no GPU adapter found');
  const info = adapter.info ?? {};
  if (auto && info.isFallbackAdapter) throw new Error(`only a software adapter (${info.description || info.device || info.vendor})`);
  Object.assign(globalThis, webgpu.globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  try {
    // Registers itself only if navigator.gpu exists when the module is evaluated.
    await optional('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu ${reason(e)}`);
  }
  // Small ops stay on the GPU: a CPU detour means a read back and an upload.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend failed to initialise');
  if (process.env.PIPE_KERNELS !== 'native') registerTrainingKernels('webgpu');
}

async function tryWasm(tf: Tf): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  await tf.ready();
  if (process.env.PIPE_KERNELS !== 'native') registerTrainingKernels('wasm');
}

const TRY: Record<Exclude<BackendName, 'auto'>, (tf: Tf, auto: boolean) => Promise<void>> = {
  tensorflow: tryTensorflow,
  webgpu: tryWebgpu,
  wasm: tryWasm,
  cpu: async (tf) => {
    await tf.setBackend('cpu');
  },
};

let current: Promise<TfRuntime> | undefined;
let currentRequest: BackendName | undefined;

/**
 * Loads tfjs and picks a backend: the one asked for, or with `auto` the first
 * that works of tensorflow (tfjs-node, if the user installed it), webgpu (a
 * real GPU adapter through the `webgpu` package), wasm (with pipe's training
 * kernels), cpu. Only stages that train or sample call this: tfjs is never
 * loaded for a no-op run.
 */
export function loadTf(requested: BackendName): Promise<TfRuntime> {
  if (current && currentRequest === requested) return current;
  currentRequest = requested;
  current = (async () => {
    const tf = (await import('@tensorflow/tfjs')) as unknown as Tf;
    // PROD silences tfjs' console advice and skips debug-only checks.
    tf.env().set('PROD', true);
    registerGradients(tf);
    const candidates = requested === 'auto' ? ORDER : [requested];
    const passed: string[] = [];
    for (const name of candidates) {
      try {
        await TRY[name](tf, requested === 'auto');
        await tf.ready();
        return { tf, backend: name, passed };
      } catch (e) {
        passed.push(`${name}: ${reason(e)}`);
      }
    }
    throw new Error(`no tfjs backend could be started (${passed.join('; ')})`);
  })();
  return current;
}
