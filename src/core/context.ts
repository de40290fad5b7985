import { relative, sep } from 'node:path';
import type { StageSpec } from './config.js';
import { artifactPath, checkArtifactKey, claimArtifacts, writeArtifact } from './artifacts.js';
import { CacheCorrupt } from './errors.js';
import type { Reporter } from './progress.js';
import type { MetricInfo, StageContext, StageInputs } from './stage.js';
import type { OutputRef, RunRecord, Store } from './store.js';
import { decodeNpy } from './npy.js';
import { tensor } from './tensor.js';

/** An upstream stage's outputs for a stage to read; its params only where they are in that stage's key (undefined: not). */
export function inputsFrom(store: Store, stage: string, record: RunRecord, params: Record<string, unknown> | undefined): StageInputs {
  const ref = (name: string, type: OutputRef['type']): OutputRef => {
    const found = type === 'file' ? record.files[name] : record.outputs[name];
    if (!found || found.type !== type) {
      const have = type === 'file' ? Object.keys(record.files) : Object.keys(record.outputs);
      throw new Error(`stage '${stage}' has no ${type} output '${name}' (it has: ${have.join(', ') || 'none'})`);
    }
    return found;
  };
  return {
    stage,
    outputs: Object.keys(record.outputs),
    files: Object.keys(record.files),
    metrics: record.metrics,
    get params() {
      // Read without being in the key, a change to them would leave this stage's result stale.
      if (!params) throw new Error(`the params of upstream stage '${stage}' are not in this stage's key: declare "params": true on the input it is bound to (x-pipe inputs in the kind's params schema)`);
      return params;
    },
    tensor(name) {
      // A command stage's .npy out reads as a tensor too.
      const npy = record.outputs[name]?.type === 'file' && name.endsWith('.npy');
      const what = `output '${name}' of stage '${stage}'`;
      return npy ? decodeNpy(store.getBlob(record.outputs[name]!.hash, what), what) : store.getTensor(ref(name, 'tensor').hash, what);
    },
    json: <T>(name: string) => JSON.parse(Buffer.from(store.getBlob(ref(name, 'json').hash, `output '${name}' of stage '${stage}'`)).toString()) as T,
    // An artifact, or a file out of a command stage.
    file: (path) => (path in record.files || record.outputs[path]?.type !== 'file' ? store.getBlob(ref(path, 'file').hash, `artifact '${path}' of stage '${stage}'`) : store.getBlob(record.outputs[path]!.hash, `out '${path}' of stage '${stage}'`)),
  };
}

/** What a stage run collects until the runner commits it. */
export interface Collected {
  outputs: Record<string, OutputRef>;
  files: Record<string, OutputRef>;
  metrics: Record<string, unknown>;
  metricInfo: Required<MetricInfo>;
  items: Set<string>;
  /** Blobs the record needs beyond its outputs' own: the files inside a folder out. */
  blobs: Set<string>;
  /** A command stage's output, as one blob. */
  log: string | undefined;
}

export function makeContext(args: {
  spec: StageSpec;
  fingerprint: string;
  codeHash: string;
  store: Store;
  /** Every upstream stage's outputs, by stage name. */
  upstream: Record<string, StageInputs>;
  facts: Record<string, string>;
  files: string[];
  fileHash: (path: string) => string;
  projectDir: string;
  artifactsDir: string;
  reporter: Reporter;
  signal: AbortSignal;
  collected: Collected;
  /** Ignore a checkpoint and memos left by earlier runs (pipe verify, --force): start from scratch. */
  fresh: boolean;
}): StageContext {
  const { spec, store, reporter, collected, fingerprint } = args;
  const stage = spec.name;
  // A run from scratch logs its steps anew; one resumed from a checkpoint keeps the rows before it.
  if (args.fresh || !store.storedCheckpoint(fingerprint)) store.clearScalars(fingerprint);
  const write = (key: string, data: Uint8Array | string) => {
    checkArtifactKey(key);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const path = artifactPath(args.artifactsDir, stage, key);
    if (!(key in collected.files)) claimArtifacts(args.artifactsDir, stage, [key]);
    writeArtifact(path, bytes);
    collected.files[key] = { type: 'file', hash: store.stageBlob(bytes), bytes: bytes.length };
    reporter.artifact(stage, relative(args.artifactsDir, path).split(sep).join('/'));
  };
  const memoKey = (key: string) => `${spec.kind.kind}:${args.codeHash}:${key}`;
  const bound = (input: string): string[] => {
    const b = spec.inputs[input];
    if (b === undefined) {
      const known = Object.keys(spec.inputs);
      throw new Error(`input '${input}' is not bound in pipeline.yaml (stages.${stage}.inputs has: ${known.join(', ') || 'nothing'})`);
    }
    return ([] as string[]).concat(b);
  };
  return {
    name: stage,
    params: spec.params,
    input(input) {
      const b = spec.inputs[input];
      if (Array.isArray(b)) throw new Error(`input '${input}' is a list of ${b.length} stages; read it with inputList('${input}')`);
      return args.upstream[bound(input)[0]!]!;
    },
    inputList: (input) => (input in spec.inputs ? bound(input).map((up) => args.upstream[up]!) : []),
    hasInput: (input) => input in spec.inputs,
    upstream: args.upstream,
    facts: args.facts,
    deps: spec.paths,
    files: args.files,
    fileHash: args.fileHash,
    projectDir: args.projectDir,
    signal: args.signal,
    log: {
      info: (msg) => reporter.log(stage, 'info', msg),
      warn: (msg) => reporter.log(stage, 'warn', msg),
    },
    progress(total, label = 'progress') {
      let done = 0;
      reporter.progress(stage, label, 0, total);
      return {
        tick(n = 1, info) {
          done += n;
          reporter.progress(stage, label, Math.min(done, total), total, info);
        },
        done() {
          reporter.progressEnd(stage, label);
        },
      };
    },
    output: {
      tensor(name, t) {
        // Rebuilt through tensor() so a shape that does not match the data fails here, naming the output.
        try {
          collected.outputs[name] = store.stageTensor(tensor(t.dtype, t.shape, t.data));
        } catch (e) {
          throw new Error(`output tensor '${name}': ${(e as Error).message}`);
        }
      },
      json(name, value) {
        const bytes = Buffer.from(JSON.stringify(value));
        collected.outputs[name] = { type: 'json', hash: store.stageBlob(bytes), bytes: bytes.length };
      },
    },
    artifacts: {
      write: (path, data) => write(path, data),
      writeShared: (path, data) => write(`/${path}`, data),
    },
    scalars(step, values) {
      store.putScalars(fingerprint, step, values);
      reporter.scalars(stage, step, values);
    },
    metrics(values, info = {}) {
      Object.assign(collected.metrics, values);
      Object.assign(collected.metricInfo.better, info.better);
      collected.metricInfo.timing.push(...(info.timing ?? []).filter((k) => !collected.metricInfo.timing.includes(k)));
    },
    checkpoint: {
      load() {
        if (args.fresh) return undefined;
        let resume;
        try {
          resume = store.loadCheckpoint(fingerprint);
        } catch (e) {
          if (!(e instanceof CacheCorrupt)) throw e;
          reporter.log(stage, 'warn', `${e.message}; starting from scratch`);
          return undefined;
        }
        if (!resume) return undefined;
        // What the interrupted run had recorded counts as recorded by this one, artifacts back in place.
        Object.assign(collected.outputs, resume.outputs);
        claimArtifacts(args.artifactsDir, stage, Object.keys(resume.files));
        for (const [key, ref] of Object.entries(resume.files)) {
          writeArtifact(artifactPath(args.artifactsDir, stage, key), store.getBlob(ref.hash, `artifact '${key}' of the checkpoint`));
          collected.files[key] = ref;
        }
        return resume.checkpoint;
      },
      save: (step, tensors, state) => store.saveCheckpoint(fingerprint, step, tensors, state ?? null, { files: collected.files, outputs: collected.outputs }),
    },
    memo: {
      get(key) {
        // From scratch (verify, --force) means no shortcut either: every item is computed again.
        if (args.fresh) return undefined;
        const k = memoKey(key);
        const h = store.getItem(k);
        if (!h || !store.hasBlob(h)) return undefined;
        let bytes;
        try {
          bytes = store.getBlob(h, `memo '${key}'`);
        } catch (e) {
          // A memo is only a shortcut: a damaged one (dropped by getBlob) is recomputed.
          if (e instanceof CacheCorrupt) return undefined;
          throw e;
        }
        collected.items.add(k);
        return bytes;
      },
      put(key, data) {
        const k = memoKey(key);
        store.putItem(k, store.putBlob(data));
        collected.items.add(k);
      },
    },
  };
}
