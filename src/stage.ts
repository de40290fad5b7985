import type { Rng } from './rng.js';
import type { Tensor } from './tensor.js';

/** The outputs of an upstream stage, loaded from the cache on demand. */
export interface StageInputs {
  readonly outputs: string[];
  /** Artifact paths the stage wrote, as given to artifacts.write() (writeShared paths start with '/'). */
  readonly files: string[];
  readonly metrics: Record<string, unknown>;
  tensor(name: string): Tensor;
  json<T = unknown>(name: string): T;
  /** A file the stage wrote under artifacts/, by the path it gave to files.write(). */
  file(path: string): Uint8Array;
}

export interface Progress {
  tick(n?: number, info?: string): void;
  done(): void;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface Checkpoint {
  step: number;
  tensors: Record<string, Tensor>;
  state: unknown;
}

export interface StageContext<P = Record<string, unknown>> {
  readonly name: string;
  readonly params: P;
  /** Outputs of the upstream stages this one depends on, by stage name. */
  readonly inputs: Record<string, StageInputs>;
  /** The file, folder and glob deps as written in pipeline.yaml. */
  readonly deps: string[];
  /** Absolute paths of the file deps (folders and globs expanded), sorted. */
  readonly files: string[];
  /** Content hash of a dep file (from the stat cache: no re-read when unchanged). */
  fileHash(path: string): string;
  readonly projectDir: string;
  /** Seeded from params.seed (0 when absent): the same params give the same stream. */
  readonly rng: Rng;
  readonly log: Logger;
  readonly signal: AbortSignal;
  progress(total: number, label?: string): Progress;
  output: {
    tensor(name: string, t: Tensor): void;
    json(name: string, value: unknown): void;
  };
  artifacts: {
    /** Writes artifacts/<stage>/<path> now (visible while the stage runs) and records it as an output. */
    write(path: string, data: Uint8Array | string): void;
    /** Writes artifacts/<path>, for results shared across stages such as report.html. */
    writeShared(path: string, data: Uint8Array | string): void;
  };
  metrics(values: Record<string, unknown>): void;
  /** Resumable work: the last saved checkpoint for this exact fingerprint. */
  checkpoint: {
    load(): Checkpoint | undefined;
    save(step: number, tensors: Record<string, Tensor>, state?: unknown): void;
  };
  /** Per-item memo shared across runs of the same stage code, e.g. one decoded image per file hash. */
  memo: {
    get(key: string): Uint8Array | undefined;
    put(key: string, data: Uint8Array): void;
  };
}

export interface StageModule<P = Record<string, unknown>> {
  /** Human-readable summary shown by `pipe dag`. */
  description?: string;
  run(ctx: StageContext<P>): Promise<void> | void;
}

/** Typed identity helper for stage modules: `export default defineStage<Params>({ run(ctx) {...} })`. */
export function defineStage<P>(stage: StageModule<P>): StageModule<P> {
  return stage;
}
