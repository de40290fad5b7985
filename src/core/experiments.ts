import { readFileSync } from 'node:fs';
import { isScalar, parse, parseDocument } from 'yaml';
import { loadPipeline, overrideKey, parseOverride, type Override } from './config.js';
import { ConfigError } from './errors.js';
import { gitState } from './git-state.js';
import { writeFileAtomic } from './lockfile.js';
import type { StageResult } from './runner.js';
import type { ExperimentEntry, Store } from './store.js';

/** `stage.param` -> raw value, as given with -S. */
export function overrideParams(overrides: Override[]): Record<string, string> {
  return Object.fromEntries(overrides.map((o) => [overrideKey(o), o.raw]));
}

/** A readable name from what was set: `lr=1e-4,epochs=30` (a sweep names its variants the same way). */
export function paramsName(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k.split('.').pop()}=${v}`)
    .join(',');
}

/** Each `stage.param` / `params.x` as a run with these overrides has it (typed by the schemas). */
export function typedParams(file: string, params: Record<string, string>): Record<string, unknown> {
  const pipeline = loadPipeline(file, Object.entries(params).map(([k, v]) => parseOverride(`${k}=${v}`)));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(params)) {
    const [target, ...path] = key.split('.');
    const root = target === 'params' ? pipeline.params : pipeline.stages.get(target!)?.params;
    if (target === 'defaults' || !root) continue;
    out[key] = path.reduce<unknown>((v, p) => (v as Record<string, unknown> | undefined)?.[p], root);
  }
  return out;
}

/** Refuses, before anything runs, a --name that another experiment with other params has. */
export function checkName(store: Store, name: string, overrides: Override[]): void {
  const other = store.allExperiments().find((e) => e.name === name);
  const params = overrideParams(overrides);
  if (other && JSON.stringify(other.params) !== JSON.stringify(params)) {
    throw new ConfigError(`experiment '${name}' exists with other params (${Object.entries(other.params).map(([k, v]) => `${k}=${v}`).join(', ')}); choose another --name, or pipe exp remove ${name} first`);
  }
}

/** The entry of one finished experiment: `stages` says what each stage did (ran, or came from the cache) and how long it took. */
export function experimentEntry(opts: { name: string; file: string; dir: string; params: Record<string, string>; started: Date; stages: ExperimentEntry['stages']; fingerprints: Record<string, string> }): ExperimentEntry {
  return { name: opts.name, file: opts.file, params: opts.params, git: gitState(opts.dir), started: opts.started.toISOString(), finished: new Date().toISOString(), stages: opts.stages, fingerprints: opts.fingerprints };
}

/**
 * Records a `pipe run` with overrides as an experiment. Its name is the one
 * asked for, else made from its params; a name already taken by other
 * results gets `-2`, `-3`…, while the same params and results replace their
 * own earlier entry (a rerun).
 */
export function recordExperiment(store: Store, opts: { file: string; dir: string; overrides: Override[]; name?: string; started: Date; results: StageResult[]; fingerprints: Record<string, string> }): ExperimentEntry {
  const params = overrideParams(opts.overrides);
  const base = opts.name ?? paramsName(params);
  const taken = new Map(store.allExperiments().map((e) => [e.name, e]));
  const same = (e: ExperimentEntry | undefined) => !!e && JSON.stringify(e.params) === JSON.stringify(params) && JSON.stringify(e.fingerprints) === JSON.stringify(opts.fingerprints);
  let name = base;
  for (let i = 2; taken.has(name) && !same(taken.get(name)) && !opts.name; i++) name = `${base}-${i}`;
  const stages = Object.fromEntries(opts.results.map((r) => [r.stage, { outcome: r.outcome, seconds: r.seconds }]));
  const entry = experimentEntry({ name, file: opts.file, dir: opts.dir, params, started: opts.started, stages, fingerprints: opts.fingerprints });
  store.putExperiment(entry);
  return entry;
}

/**
 * Writes an experiment's params into pipeline.yaml, keeping its comments and
 * layout: a param already written as a plain value has just that value's
 * text replaced; one that is not there yet is added through the YAML
 * document (which then formats the file). `stage.param` goes under
 * stages.<stage>.params, `params.x` and `defaults.p` at the top. `typed`
 * holds each value as the run used it; the raw text is kept where it reads
 * back the same.
 */
export function applyParams(file: string, params: Record<string, string>, typed: Record<string, unknown>): void {
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text);
  const edits: Array<{ from: number; to: number; text: string }> = [];
  let restructured = false;
  for (const [key, raw] of Object.entries(params)) {
    const [target, ...path] = key.split('.');
    const top = target === 'params' || target === 'defaults';
    if (!top && !doc.hasIn(['stages', target!])) throw new ConfigError(`${file}: the experiment sets ${key}, but there is no stage '${target}' any more`);
    const at = top ? [target!, ...path] : ['stages', target!, 'params', ...path];
    // As the run had it (typed by the stage's schema: '123' for a string param stays a string).
    const value = key in typed ? typed[key] : parse(raw);
    const node = doc.getIn(at, true);
    if (isScalar(node) && node.range) {
      // Inside { } or [ ] a value with commas or colons needs quotes: JSON's are YAML's.
      const safe = JSON.stringify((parse(`[${raw}]`) as unknown[])[0]) === JSON.stringify(value);
      edits.push({ from: node.range[0], to: node.range[1], text: safe ? raw : JSON.stringify(value) });
    } else restructured = true;
    doc.setIn(at, value);
  }
  if (restructured) return writeFileAtomic(file, doc.toString());
  let out = text;
  for (const e of edits.sort((a, b) => b.from - a.from)) out = out.slice(0, e.from) + e.text + out.slice(e.to);
  writeFileAtomic(file, out);
}
