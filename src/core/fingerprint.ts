import { readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { hashCode } from './codehash.js';
import type { Pipeline, StageSpec } from './config.js';
import { hashJson, sha256 } from './hash.js';
import type { FileHasher } from './filehash.js';
import { PKG_ROOT } from './paths.js';

/**
 * Every input of a stage's key, in one place: change any of them and the
 * stage reruns; `pipe status` explains a change in each (status.ts), and
 * pipe.lock records each (lockfile.ts).
 */
export interface StageKey {
  kind: string;
  /** Source files by content hash (the stage module, what it imports, its params schema) and `npm:<package>` versions. */
  code: Record<string, string>;
  /** Params after defaults, `${}` references and --set. */
  params: Record<string, unknown>;
  /** File, folder and glob deps by content hash. */
  deps: Record<string, string>;
  /** Input name -> the upstream stage(s) bound to it. */
  inputs: Record<string, string | string[]>;
  /** Output hash of every upstream stage. */
  upstream: Record<string, string | undefined>;
  /**
   * Params of the upstream stages bound to inputs whose kind reads them (x-pipe `inputs.<name>.params`):
   * a report that prints a trainer's params must rerun when they change, even if its outputs do not.
   * Absent when no input reads them, so every other stage's key is what it was.
   */
  upstreamParams?: Record<string, Record<string, unknown>>;
  /** Machine facts that change the bytes (e.g. the tfjs backend `auto` picks here), from the kind's facts module. */
  facts: Record<string, string>;
}

/** A stage's key, the fingerprint over it, and what `pipe status` needs to explain a change. */
export interface StageState extends StageKey {
  name: string;
  /** Undefined while an upstream stage has no outputs for its own current fingerprint. */
  fingerprint: string | undefined;
  /** Folder and glob deps: the file listing behind each hash, for `pipe status` to say which file changed. */
  listings: Record<string, Record<string, string>>;
}

/** Bumped when the fingerprint recipe changes, so old records are never mistaken for new ones. */
const RECIPE = 3;

export function codeOf(spec: StageSpec, projectDir: string): Record<string, string> {
  const { files, packages } = hashCode(spec.kind.module, projectDir);
  const code: Record<string, string> = { ...files };
  const versions = { ...packages };
  if (spec.kind.schema) {
    const name = spec.kind.builtin ? relative(PKG_ROOT, spec.kind.schema) : relative(projectDir, spec.kind.schema);
    code[name.split(sep).join('/')] = sha256(readFileSync(spec.kind.schema));
  }
  if (spec.kind.decl.facts) {
    const facts = hashCode(spec.kind.decl.facts, projectDir);
    Object.assign(code, facts.files);
    Object.assign(versions, facts.packages);
  }
  for (const [pkg, version] of Object.entries(versions)) code[`npm:${pkg}`] = version;
  return code;
}

/** The upstream stages whose params a stage's kind reads: those bound to inputs declared with `params: true`. */
function paramsRead(spec: StageSpec): string[] {
  const decl = spec.kind.decl.inputs ?? {};
  const stages = Object.entries(spec.inputs).flatMap(([input, bound]) => (decl[input]?.params ? ([] as string[]).concat(bound) : []));
  return [...new Set(stages)].sort();
}

export function stageState(
  pipeline: Pipeline,
  spec: StageSpec,
  hasher: FileHasher,
  facts: Record<string, string>,
  upstreamOut: (stage: string) => string | undefined,
): StageState {
  const deps: Record<string, string> = {};
  const listings: Record<string, Record<string, string>> = {};
  for (const p of spec.paths) {
    const d = hasher.hashDep(p);
    deps[p] = d.hash;
    if (d.files) listings[p] = d.files;
  }
  const upstream: Record<string, string | undefined> = {};
  for (const up of spec.after) upstream[up] = upstreamOut(up);
  const read = paramsRead(spec);
  const upstreamParams = read.length ? Object.fromEntries(read.map((up) => [up, pipeline.stages.get(up)!.params])) : undefined;
  const key: StageKey = { kind: spec.kind.kind, code: codeOf(spec, pipeline.dir), params: spec.params, deps, inputs: spec.inputs, upstream, ...(upstreamParams ? { upstreamParams } : {}), facts };
  const ready = Object.values(upstream).every((h) => h !== undefined);
  return { name: spec.name, fingerprint: ready ? hashJson({ recipe: RECIPE, ...key }) : undefined, ...key, listings };
}
