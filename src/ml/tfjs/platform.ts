import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What this machine can run tfjs on, found without loading tfjs: used both
 * by the facts module (the backend `auto` picks is part of a stage's key)
 * and by backend.ts when it starts that backend, so the two always agree.
 */
export type ConcreteBackend = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type BackendName = 'auto' | ConcreteBackend;
export const AUTO_ORDER: ConcreteBackend[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

const provided = new Map<string, () => Promise<unknown>>();

/** A bundle (bench/gpu.ts) hands in the optional packages it carries, since it has no node_modules to import them from. */
export function provideModules(loaders: Record<string, () => Promise<unknown>>): void {
  for (const [name, load] of Object.entries(loaders)) provided.set(name, load);
}

/** Optional packages are imported by a computed name so that bundlers and tsc leave them alone. */
export async function optional<T>(name: string): Promise<T> {
  const load = provided.get(name);
  return (await (load ? load() : import(name))) as T;
}

/** Where an installed package's entry is, without loading it. */
function entryOf(name: string): string | undefined {
  try {
    return fileURLToPath(import.meta.resolve(name));
  } catch {
    return undefined;
  }
}

/** An installed package's package.json, found the way Node looks (node_modules folders up from here), without resolving its entry. */
function packageJson(name: string): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const p = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(p)) return p;
    if (dirname(dir) === dir) return undefined;
  }
}

function installed(name: string): boolean {
  return provided.has(name) || entryOf(name) !== undefined;
}

export function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/Cannot find (package|module)/.test(msg)) return 'not installed';
  return msg.split('\n')[0]!;
}

const VULKAN_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64'];

/** Dawn reaches Linux GPUs through Vulkan; without the loader it only prints warnings, so look first. */
function vulkanLoader(): string | undefined {
  if (process.platform !== 'linux') return 'not linux';
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':'), ...VULKAN_DIRS];
  return dirs.map((d) => d && join(d, 'libvulkan.so.1')).find((p) => p && existsSync(p));
}

interface GpuAdapterInfo {
  description?: string;
  device?: string;
  vendor?: string;
  isFallbackAdapter?: boolean;
}

export interface WebgpuModule {
  create(opts: string[]): { requestAdapter(): Promise<{ info?: GpuAdapterInfo } | null> };
  globals: object;
}

/** A GPU adapter through the `webgpu` package (Dawn); with `auto`, software adapters (llvmpipe, SwiftShader) do not count: wasm is faster. */
export async function gpuAdapter(auto: boolean): Promise<{ webgpu: WebgpuModule; gpu: ReturnType<WebgpuModule['create']> }> {
  if (!vulkanLoader()) throw new Error('no Vulkan loader (libvulkan.so.1) on this machine');
  let webgpu: WebgpuModule;
  try {
    webgpu = await optional('webgpu');
  } catch (e) {
    throw new Error(`npm package 'webgpu' ${reason(e)}`);
  }
  const gpu = webgpu.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no GPU adapter found');
  const info = adapter.info ?? {};
  if (auto && info.isFallbackAdapter) throw new Error(`only a software adapter (${info.description || info.device || info.vendor})`);
  return { webgpu, gpu };
}

/** Why a backend cannot be `auto`'s pick here, or undefined when it can. */
async function unavailable(name: ConcreteBackend): Promise<string | undefined> {
  switch (name) {
    case 'tensorflow':
      return installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node') ? undefined : '@tensorflow/tfjs-node not installed';
    case 'webgpu':
      try {
        await gpuAdapter(true);
        return undefined;
      } catch (e) {
        return reason(e);
      }
    case 'wasm':
      return installed('@tensorflow/tfjs-backend-wasm') ? undefined : '@tensorflow/tfjs-backend-wasm not installed';
    case 'cpu':
      return undefined;
  }
}

/**
 * The machine as far as `auto` cares: optional packages, the Vulkan loader
 * and drivers, GPU device nodes. The pick is remembered under this, so a
 * no-op run does not start Dawn to ask for an adapter again.
 */
function machineSignature(): string {
  const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
  const stamp = (p: string | undefined) => (p && existsSync(p) ? `${p}:${statSync(p).size}:${statSync(p).mtimeMs}` : '-');
  const icds = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].flatMap((d) => entries(d).map((f) => stamp(join(d, f))));
  const packages = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-backend-wasm'].map((p) => stamp(packageJson(p)));
  // GPU device nodes: DRM render nodes, and NVIDIA's control node (listing all of /dev costs more than the rest together).
  const devices = [...entries('/dev/dri'), existsSync('/dev/nvidiactl') ? 'nvidiactl' : '-'];
  const parts = [hostname(), process.version, stamp(vulkanLoader()), ...icds, ...devices, ...packages];
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

export interface AutoPick {
  backend: ConcreteBackend;
  /** Why each backend before it was passed over. */
  passed: string[];
}

let picked: Promise<AutoPick> | undefined;

/** The backend `auto` runs on this machine: the first of tensorflow, webgpu, wasm, cpu that can start. */
export function autoBackend(): Promise<AutoPick> {
  picked ??= (async () => {
    const memo = join(tmpdir(), `pipe-auto-backend-${machineSignature()}.json`);
    if (existsSync(memo)) {
      try {
        return JSON.parse(readFileSync(memo, 'utf8')) as AutoPick;
      } catch {
        // An unreadable memo is asked again below.
      }
    }
    const passed: string[] = [];
    for (const name of AUTO_ORDER) {
      const why = await unavailable(name);
      if (why === undefined) {
        const pick = { backend: name, passed };
        writeFileSync(memo, JSON.stringify(pick));
        return pick;
      }
      passed.push(`${name}: ${why}`);
    }
    throw new Error(`no tfjs backend can start (${passed.join('; ')})`);
  })();
  return picked;
}
