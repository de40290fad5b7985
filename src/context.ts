import type { StageSpec } from './config.js';
import { artifactPath, checkArtifactKey, writeArtifact } from './artifacts.js';
import type { Reporter } from './progress.js';
import { Rng } from './rng.js';
import type { StageContext, StageInputs } from './stage.js';
import type { OutputRef, RunRecord, Store } from './store.js';
import { tensor } from './tensor.js';

export function inputsFrom(store: Store, record: RunRecord): StageInputs {
  const ref = (name: string, type: OutputRef['type']): OutputRef => {
    const found = type === 'file' ? record.files[name] : record.outputs[name];
    if (!found || found.type !== type) {
      const have = type === 'file' ? Object.keys(record.files) : Object.keys(record.outputs);
      throw new Error(`stage '${record.stage}' has no ${type} output '${name}' (it has: ${have.join(', ') || 'none'})`);
    }
    return found;
  };
  return {
    outputs: Object.keys(record.outputs),
    files: Object.keys(record.files),
    metrics: record.metrics,
    tensor: (name) => store.getTensor(ref(name, 'tensor').hash),
    json: <T>(name: string) => JSON.parse(Buffer.from(store.getBlob(ref(name, 'json').hash)).toString()) as T,
    file: (path) => store.getBlob(ref(path, 'file').hash),
  };
}

/** What a stage run collects until the runner commits it. */
export interface Collected {
  outputs: Record<string, OutputRef>;
  files: Record<string, OutputRef>;
  metrics: Record<string, unknown>;
  items: Set<string>;
}

export function makeContext(args: {
  spec: StageSpec;
  fingerprint: string;
  codeHash: string;
  store: Store;
  inputs: Record<string, StageInputs>;
  files: string[];
  fileHash: (path: string) => string;
  projectDir: string;
  artifactsDir: string;
  reporter: Reporter;
  signal: AbortSignal;
  collected: Collected;
}): StageContext {
  const { spec, store, reporter, collected, fingerprint } = args;
  const stage = spec.name;
  const write = (key: string, data: Uint8Array | string) => {
    checkArtifactKey(key);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    writeArtifact(artifactPath(args.artifactsDir, stage, key), bytes);
    collected.files[key] = { type: 'file', hash: store.stageBlob(bytes), bytes: bytes.length };
  };
  const memoKey = (key: string) => `${spec.kind.kind}:${args.codeHash}:${key}`;
  return {
    name: stage,
    params: spec.params,
    inputs: args.inputs,
    deps: spec.paths,
    files: args.files,
    fileHash: args.fileHash,
    projectDir: args.projectDir,
    rng: new Rng(String((spec.params as { seed?: unknown }).seed ?? 0)),
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
    metrics(values) {
      Object.assign(collected.metrics, values);
    },
    checkpoint: {
      load: () => store.loadCheckpoint(fingerprint),
      save: (step, tensors, state) => store.saveCheckpoint(fingerprint, step, tensors, state ?? null),
    },
    memo: {
      get(key) {
        const k = memoKey(key);
        const h = store.getItem(k);
        if (!h || !store.hasBlob(h)) return undefined;
        collected.items.add(k);
        return store.getBlob(h);
      },
      put(key, data) {
        const k = memoKey(key);
        store.putItem(k, store.putBlob(data));
        collected.items.add(k);
      },
    },
  };
}
