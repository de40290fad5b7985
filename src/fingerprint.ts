import { readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { hashCode } from './codehash.js';
import type { Pipeline, StageSpec } from './config.js';
import { hashJson, sha256 } from './hash.js';
import type { FileHasher } from './filehash.js';
import { PKG_ROOT } from './paths.js';

/** Everything a stage's result depends on, and the fingerprint over it. */
export interface StageState {
  name: string;
  /** Undefined while an upstream stage has no outputs for its own current fingerprint. */
  fingerprint: string | undefined;
  code: Record<string, string>;
  params: Record<string, unknown>;
  deps: Record<string, string>;
  /** Folder and glob deps: the file listing behind each hash, for `pipe status` to say which file changed. */
  listings: Record<string, Record<string, string>>;
  upstream: Record<string, string | undefined>;
}

/** Bumped when the fingerprint recipe changes, so old records are never mistaken for new ones. */
const RECIPE = 2;

export function codeOf(spec: StageSpec, projectDir: string): Record<string, string> {
  const { files, packages } = hashCode(spec.kind.module, projectDir);
  const code: Record<string, string> = { ...files };
  if (spec.kind.schema) {
    const name = spec.kind.builtin ? relative(PKG_ROOT, spec.kind.schema) : relative(projectDir, spec.kind.schema);
    code[name.split(sep).join('/')] = sha256(readFileSync(spec.kind.schema));
  }
  for (const [pkg, version] of Object.entries(packages)) code[`npm:${pkg}`] = version;
  return code;
}

export function stageState(
  pipeline: Pipeline,
  spec: StageSpec,
  hasher: FileHasher,
  upstreamOut: (stage: string) => string | undefined,
): StageState {
  const code = codeOf(spec, pipeline.dir);
  const deps: Record<string, string> = {};
  const listings: Record<string, Record<string, string>> = {};
  for (const p of spec.paths) {
    const d = hasher.hashDep(p);
    deps[p] = d.hash;
    if (d.files) listings[p] = d.files;
  }
  const upstream: Record<string, string | undefined> = {};
  for (const up of spec.after) upstream[up] = upstreamOut(up);
  const ready = Object.values(upstream).every((h) => h !== undefined);
  const fingerprint = ready
    ? hashJson({ recipe: RECIPE, kind: spec.kind.kind, code, params: spec.params, deps, upstream })
    : undefined;
  return { name: spec.name, fingerprint, code, params: spec.params, deps, listings, upstream };
}
