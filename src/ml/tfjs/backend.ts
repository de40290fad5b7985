import type { StageContext } from '../../core/stage.js';
import { registerFusedGradients } from './fused-ops.js';
import { registerGradients } from './gradients.js';
import { registerTrainingKernels, setConvtMode, type ConvtMode } from './kernels.js';
import { AUTO_ORDER, autoBackend, gpuAdapter, optional, reason, type BackendName, type ConcreteBackend } from './platform.js';
import type { Tf } from './tf.js';

export { provideModules, type BackendName, type ConcreteBackend } from './platform.js';
export type { Tf } from './tf.js';

/** Which kernels run: pipe's training kernels (wasm, webgpu) or tfjs' own; and the wasm transposed-conv strategy. */
export interface KernelOptions {
  kernels: 'pipe' | 'native';
  convt: ConvtMode;
}

/** The params every tfjs stage kind has (see their schemas). */
export interface TfParams extends KernelOptions {
  backend: BackendName;
}

export interface TfRuntime {
  tf: Tf;
  backend: ConcreteBackend;
  /** Why each backend tried before the chosen one was passed over. */
  passed: string[];
}

async function startTensorflow(tf: Tf): Promise<void> {
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

async function startWebgpu(tf: Tf, auto: boolean): Promise<void> {
  const { webgpu, gpu } = await gpuAdapter(auto);
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
}

async function startWasm(tf: Tf): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
}

const START: Record<ConcreteBackend, (tf: Tf, auto: boolean) => Promise<void>> = {
  tensorflow: startTensorflow,
  webgpu: startWebgpu,
  wasm: startWasm,
  cpu: async (tf) => {
    await tf.setBackend('cpu');
  },
};

let tfjs: Promise<Tf> | undefined;
const started = new Map<string, Promise<TfRuntime>>();
/** Undoes pipe's kernel registration on a backend, while it is registered. */
const registered = new Map<string, () => void>();

function loadTfjs(): Promise<Tf> {
  tfjs ??= (async () => {
    const [core, layers] = await Promise.all([import('@tensorflow/tfjs-core'), import('@tensorflow/tfjs-layers'), import('@tensorflow/tfjs-backend-cpu')]);
    const tf = { ...core, ...layers } as unknown as Tf;
    // PROD silences tfjs' console advice and skips debug-only checks.
    tf.env().set('PROD', true);
    registerGradients(tf);
    registerFusedGradients(tf);
    return tf;
  })();
  return tfjs;
}

/** pipe's training kernels on, or tfjs' own, for the backend now active. */
function applyKernels(backend: ConcreteBackend, opts: KernelOptions): void {
  setConvtMode(opts.convt);
  if (backend !== 'wasm' && backend !== 'webgpu') return;
  const undo = registered.get(backend);
  if (opts.kernels === 'pipe' && !undo) registered.set(backend, registerTrainingKernels(backend));
  if (opts.kernels === 'native' && undo) {
    undo();
    registered.delete(backend);
  }
}

/**
 * Loads tfjs and starts a backend: the one asked for, or with `auto` the
 * first of tensorflow (tfjs-node, if the user installed it), webgpu (a real
 * GPU adapter through the `webgpu` package), wasm, cpu that starts. Only
 * stages that train or sample call this: tfjs is never loaded for a no-op run.
 */
export async function loadTf(requested: BackendName, opts: KernelOptions = { kernels: 'pipe', convt: 'auto' }): Promise<TfRuntime> {
  let runtime = started.get(requested);
  if (!runtime) {
    runtime = (async () => {
      const tf = await loadTfjs();
      const passed: string[] = [];
      for (const name of requested === 'auto' ? AUTO_ORDER : [requested]) {
        try {
          await START[name](tf, requested === 'auto');
          await tf.ready();
          return { tf, backend: name, passed };
        } catch (e) {
          passed.push(`${name}: ${reason(e)}`);
        }
      }
      throw new Error(`no tfjs backend could be started (${passed.join('; ')})`);
    })();
    started.set(requested, runtime);
  }
  const r = await runtime;
  if (r.tf.getBackend() !== r.backend) await r.tf.setBackend(r.backend);
  applyKernels(r.backend, opts);
  return r;
}

/** What stageTf reads of a stage's context. */
export type TfContext<P extends TfParams = TfParams> = Pick<StageContext<P>, 'params' | 'facts' | 'log'>;

/**
 * tfjs for a stage: on the backend its key was computed for (the facts
 * module resolved `auto` before the run), so the result always matches the
 * fingerprint; a backend that no longer starts is an error, not a fallback.
 */
export async function stageTf(ctx: TfContext): Promise<TfRuntime> {
  const backend = ctx.facts.backend as ConcreteBackend;
  const how = ctx.params.backend === 'auto' ? `picked by auto; ${(await autoBackend()).passed.join('; ') || 'first choice'}` : 'as asked';
  try {
    const r = await loadTf(backend, ctx.params);
    ctx.log.info(`tfjs backend: ${backend} (${how})${ctx.params.kernels === 'native' ? ", tfjs' own kernels" : ''}`);
    return { ...r, passed: ctx.params.backend === 'auto' ? (await autoBackend()).passed : [] };
  } catch (e) {
    throw new Error(`tfjs backend '${backend}' (${how}) did not start: ${reason(e)}; set backend: to another one`);
  }
}
