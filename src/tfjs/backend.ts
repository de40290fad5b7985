import type * as TF from '@tensorflow/tfjs';
import { registerTrainingKernels } from './kernels.js';

export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type Tf = typeof TF;

export interface TfRuntime {
  tf: Tf;
  backend: Exclude<BackendName, 'auto'>;
  /** Why each backend tried before the chosen one was passed over. */
  passed: string[];
}

const ORDER: Array<Exclude<BackendName, 'auto'>> = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** Optional packages are imported by a computed name so that bundlers and tsc leave them alone. */
async function optional<T>(name: string): Promise<T> {
  return (await import(name)) as T;
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

async function tryWebgpu(tf: Tf): Promise<void> {
  let webgpu: { create(opts: string[]): { requestAdapter(): Promise<unknown> }; globals: object };
  try {
    webgpu = await optional('webgpu');
  } catch (e) {
    throw new Error(`npm package 'webgpu' ${reason(e)}`);
  }
  const gpu = webgpu.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no GPU adapter found');
  Object.assign(globalThis, webgpu.globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  try {
    // Registers itself only if navigator.gpu exists when the module is evaluated.
    await optional('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu ${reason(e)}`);
  }
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend failed to initialise');
}

async function tryWasm(tf: Tf): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  await tf.ready();
  if (process.env.PIPE_KERNELS !== 'native') registerTrainingKernels('wasm');
}

const TRY: Record<Exclude<BackendName, 'auto'>, (tf: Tf) => Promise<void>> = {
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
 * real adapter through the `webgpu` package), wasm (with pipe's training
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
    const candidates = requested === 'auto' ? ORDER : [requested];
    const passed: string[] = [];
    for (const name of candidates) {
      try {
        await TRY[name](tf);
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
