/**
 * The public stage API: what a stage module (built-in or a user's) may use
 * from pipe. Stage kinds and the ML code import this module and nothing else
 * of the core (test/layout.test.ts checks that).
 */
import type { Tensor } from './tensor.js';

export { Rng } from './rng.js';
export { decodeTensor, encodeTensor, sizeOf, tensor, type DType, type Tensor, type TypedArray } from './tensor.js';

/** The outputs of an upstream stage, loaded from the cache on demand. */
export interface StageInputs {
  /** The upstream stage's name in pipeline.yaml. */
  readonly stage: string;
  readonly outputs: string[];
  /** Artifact paths the stage wrote, as given to artifacts.write() (writeShared paths start with '/'). */
  readonly files: string[];
  readonly metrics: Record<string, unknown>;
  /** The upstream stage's params as resolved (defaults filled in), where the input it is bound to declares `params: true` (they are then in this stage's key); reading them otherwise throws. */
  readonly params: Record<string, unknown>;
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

/** Which way a metric improves; sweeps and experiment tables mark the best value by it. */
export type Better = 'lower' | 'higher';

/** What a stage says about the metrics it writes. */
export interface MetricInfo {
  better?: Record<string, Better>;
  /** Metrics that measure speed rather than results (they vary run to run): left out of comparisons. */
  timing?: string[];
}

export interface StageContext<P = Record<string, unknown>> {
  readonly name: string;
  readonly params: P;
  /**
   * The upstream stage bound to one of the kind's declared inputs in
   * pipeline.yaml (`inputs: { data: augment }`); its outputs were checked
   * against the kind's declaration when the pipeline was loaded.
   */
  input(name: string): StageInputs;
  /** An input bound to a list of stages (`inputs: { models: [train-vae, train-gan] }`), in the order written; [] when unbound. */
  inputList(name: string): StageInputs[];
  /** Whether an optional input is bound. */
  hasInput(name: string): boolean;
  /** Every upstream stage (inputs and stage deps), by stage name. */
  readonly upstream: Record<string, StageInputs>;
  /** Facts of this machine that are part of the stage's key (its kind's facts module computes them), e.g. the tfjs backend `auto` chose. */
  readonly facts: Record<string, string>;
  /** The file, folder and glob deps as written in pipeline.yaml. */
  readonly deps: string[];
  /** Absolute paths of the file deps (folders and globs expanded), sorted. */
  readonly files: string[];
  /** Content hash of a dep file (from the stat cache: no re-read when unchanged). */
  fileHash(path: string): string;
  readonly projectDir: string;
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
  /** Records metrics; `info` says which way each improves (and which are timings). */
  metrics(values: Record<string, unknown>, info?: MetricInfo): void;
  /**
   * Per-step scalars (loss terms, learning rate, throughput): kept in the
   * cache with the run as they come, so a killed run keeps what it logged, and
   * sent as `metric` events (`pipe run --json`); `pipe scalars STAGE` reads them.
   */
  scalars(step: number, values: Record<string, number>): void;
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

/** A kind's facts module (named by `x-facts` in its params schema): machine facts that change its results. */
export type FactsFunction = (params: Record<string, unknown>) => Record<string, string> | Promise<Record<string, string>>;

