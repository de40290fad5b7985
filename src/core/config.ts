import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { closestMatch } from 'leven';
import { isMap, isScalar, LineCounter, parse as parseYamlValue, parseDocument, type Document } from 'yaml';
import type { RemoteConfig } from './remote/backend.js';
import { ConfigError } from './errors.js';
import { commandKind, resolveKind, type KindRef } from './kinds.js';
import { builtinSchemaPath, OPEN_PARAMS, readSchema, subSchema, validator, violations, type JsonSchema } from './schema.js';

export interface StageSpec {
  name: string;
  kind: KindRef;
  description?: string;
  /** Upstream stage names: stage deps and every stage bound to an input. */
  after: string[];
  /** Input name -> the upstream stage (or list of stages) bound to it, as written. */
  inputs: Record<string, string | string[]>;
  /** File, folder and glob deps, relative to the project folder. */
  paths: string[];
  params: Record<string, unknown>;
  outs: string[];
  cache: boolean;
  /** pipe verify: relative tolerance for outputs that cannot be bit-exact. */
  tolerance?: number;
  /** What its cluster job asks for (sbatch flags); not part of the key. */
  resources?: Record<string, unknown>;
  /** A command stage (`cmd:`): the files its command writes metrics to. Its commands and env values are in params. */
  command?: { metrics: string[] };
}

export interface Pipeline {
  file: string;
  /** The --set overrides it was loaded with (stage workers load it the same way). */
  overrides: Override[];
  dir: string;
  cacheDir: string;
  artifactsDir: string;
  /** The shared cache pipeline.yaml names, if any. */
  remote: RemoteConfig | undefined;
  executor: 'local' | 'slurm';
  params: Record<string, unknown>;
  stages: Map<string, StageSpec>;
}

/** `stage.key.sub=value` from --set; `params.key=value` sets a shared param. */
export interface Override {
  target: string;
  path: string[];
  raw: string;
}

/** What an override sets, as written: `stage.key.sub`. */
export const overrideKey = (o: Override) => `${o.target}.${o.path.join('.')}`;

/** The command-line arguments that make these overrides again (for a process that loads the same pipeline). */
export const setArgs = (overrides: Override[]) => overrides.flatMap((o) => ['-S', `${overrideKey(o)}=${o.raw}`]);

export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  const lhs = eq > 0 ? text.slice(0, eq) : '';
  const parts = lhs.split('.');
  if (eq <= 0 || parts.length < 2 || parts.some((p) => p === '')) {
    throw new ConfigError(`bad --set '${text}': expected <stage>.<param>=<value> (e.g. train-gan.lr=1e-4), params.<name>=<value> for a top-level param, or defaults.<param>=<value>`);
  }
  return { target: parts[0]!, path: parts.slice(1), raw: text.slice(eq + 1) };
}

/** Positions in the YAML source, for errors that point at a line and column. */
class Source {
  readonly lines = new LineCounter();
  readonly doc: Document;
  constructor(
    readonly file: string,
    text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false });
  }

  at(path: (string | number)[], atKey = false): string {
    let offset: number | undefined;
    if (atKey && path.length > 0) {
      const parent = this.doc.getIn(path.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
        offset = (pair?.key as { range?: [number, number] } | undefined)?.range?.[0];
      }
    }
    if (offset === undefined) {
      for (let n = path.length; n >= 0 && offset === undefined; n--) {
        const node = this.doc.getIn(path.slice(0, n), true) as { range?: [number, number] } | undefined;
        offset = node?.range?.[0];
      }
    }
    const { line, col } = this.lines.linePos(offset ?? 0);
    return `${this.file}:${line}:${col}`;
  }
}

function keyPath(path: (string | number)[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[') || '(top level)';
}

function fail(problems: string[]): never {
  throw new ConfigError(problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
}

const WHOLE_REF = /^\$\{([^}]+)\}$/;
const REF = /\$\{([^}]+)\}/g;

function lookup(params: Record<string, unknown>, ref: string): unknown {
  let v: unknown = params;
  for (const k of ref.trim().split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** Replaces ${name} references to top-level params; a whole-string reference keeps the value's type. */
function interpolate(value: unknown, params: Record<string, unknown>, onMissing: (ref: string) => never, onRef?: (path: string, ref: string) => void, path = ''): unknown {
  const at = (k: string | number) => (path ? `${path}.${k}` : String(k));
  if (typeof value === 'string') {
    const whole = WHOLE_REF.exec(value);
    if (whole) {
      const v = lookup(params, whole[1]!);
      onRef?.(path, whole[1]!.trim());
      return v === undefined ? onMissing(whole[1]!) : v;
    }
    return value.replace(REF, (_, ref: string) => {
      const v = lookup(params, ref);
      onRef?.(path, ref.trim());
      return v === undefined ? onMissing(ref) : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, params, onMissing, onRef, at(i)));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, params, onMissing, onRef, at(k))]));
  }
  return value;
}

/** Numbers that JSON cannot carry or that no param can mean: Infinity (`1e309`, `.inf`), NaN (`.nan`), integers past 2^53. */
function unboundedNumbers(value: unknown, path: (string | number)[] = []): Array<{ path: (string | number)[]; value: number }> {
  if (typeof value === 'number') return Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value)) ? [] : [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => unboundedNumbers(v, [...path, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => unboundedNumbers(v, [...path, k]));
  return [];
}

/** A --set value, typed by what the schema expects at that key. */
function typedValue(raw: string, schema: JsonSchema | undefined): unknown {
  const types = schema?.type === undefined ? [] : ([] as string[]).concat(schema.type);
  if (types.length === 1 && types[0] === 'string') return raw;
  try {
    return parseYamlValue(raw) as unknown;
  } catch {
    return raw;
  }
}

function setIn(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== 'object') o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}

interface RawStage {
  kind?: string;
  cmd?: string | string[];
  env?: string[];
  metrics?: string[];
  deps?: string[];
  inputs?: Record<string, string | string[]>;
  params?: Record<string, unknown>;
  outs?: string[];
  cache: boolean;
  description?: string;
  tolerance?: number;
  resources?: Record<string, unknown>;
}

/** Checks a stage's input bindings against its kind's declared inputs and each upstream kind's declared outputs. */
function inputProblems(spec: StageSpec, stages: Map<string, StageSpec>, raw: Record<string, RawStage>, src: Source): string[] {
  const problems: string[] = [];
  const base = ['stages', spec.name, 'inputs'];
  const declared = spec.kind.decl.inputs;
  for (const [input, bound] of Object.entries(spec.inputs)) {
    const where = (i?: number) => `${src.at(i === undefined ? [...base, input] : [...base, input, i])}: ${keyPath(i === undefined ? [...base, input] : [...base, input, i])}`;
    const decl = declared?.[input];
    if (declared && !decl) {
      const guess = closestMatch(input, Object.keys(declared));
      problems.push(
        `${src.at([...base, input], true)}: ${keyPath([...base, input])}: kind '${spec.kind.kind}' has no input '${input}'${guess ? ` (did you mean '${guess}'?)` : ''}; its inputs: ${Object.keys(declared).join(', ') || 'none'}`,
      );
      continue;
    }
    if (decl && !decl.many && Array.isArray(bound)) {
      problems.push(`${where()}: input '${input}' of kind '${spec.kind.kind}' takes one stage, found a list of ${bound.length}`);
      continue;
    }
    ([] as string[]).concat(bound).forEach((up, i) => {
      const at = where(Array.isArray(bound) ? i : undefined);
      const upSpec = stages.get(up);
      if (!raw[up]) {
        const guess = closestMatch(up, Object.keys(raw));
        problems.push(`${at}: '${up}' is not a stage${guess ? ` (did you mean '${guess}'?)` : ''}; stages: ${Object.keys(raw).join(', ')}`);
        return;
      }
      if (up === spec.name) problems.push(`${at}: a stage cannot be its own input`);
      const has = upSpec?.kind.decl.outputs;
      const missing = has ? (decl?.needs ?? []).filter((o) => !has.includes(o)) : [];
      if (missing.length) {
        problems.push(
          `${at}: input '${input}' needs outputs ${(decl?.needs ?? []).join(', ')} from stage '${up}', but kind '${upSpec!.kind.kind}' makes no ${missing.join(', ')} (it makes: ${has!.join(', ') || 'nothing'})`,
        );
      }
    });
  }
  for (const [input, decl] of Object.entries(declared ?? {})) {
    if (decl.optional || input in spec.inputs) continue;
    const what = decl.needs.length ? ` (${decl.many ? 'stages' : 'a stage'} with outputs ${decl.needs.join(', ')})` : '';
    problems.push(
      `${src.at(['stages', spec.name], true)}: stages.${spec.name}: kind '${spec.kind.kind}' needs input '${input}'${what}; add inputs: { ${input}: ${decl.many ? '[<stage>, ...]' : '<stage>'} }`,
    );
  }
  return problems;
}

export function loadPipeline(file: string, overrides: Override[] = []): Pipeline {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(`no pipeline file at ${path} (run pipe in a folder with pipeline.yaml, or pass --file)`);
  if (!statSync(path).isFile()) throw new ConfigError(`${path} is not a file (a pipeline file is YAML with a stages: mapping)`);
  const name = basename(path);
  const src = new Source(name, readFileSync(path, 'utf8'));
  const yamlErrors = src.doc.errors;
  if (yamlErrors.length > 0) {
    fail(
      yamlErrors.map((e) => {
        const { line, col } = src.lines.linePos(e.pos[0]);
        const msg = e.code === 'DUPLICATE_KEY' ? 'duplicate key (stage names and keys must be unique)' : e.message.split('\n')[0];
        return `${name}:${line}:${col}: invalid YAML: ${msg}`;
      }),
    );
  }
  const raw = src.doc.toJS() as unknown;
  if (raw === null || raw === undefined) throw new ConfigError(`${name} is empty: expected a mapping with a stages: key (see pipe --help, or the README's pipeline.yaml section)`);
  const pipelineSchema = readSchema(builtinSchemaPath('pipeline'));
  const validate = validator(pipelineSchema);
  if (!validate(raw)) {
    fail(
      violations(validate.errors ?? [], raw, (p) => subSchema(pipelineSchema, p)).map(
        (v) => `${src.at(v.path, v.atKey)}: ${keyPath(v.path)}: ${v.message}`,
      ),
    );
  }
  const doc = raw as {
    params?: Record<string, unknown>;
    defaults?: Record<string, unknown>;
    cache: string;
    artifacts: string;
    remote?: string | RemoteConfig;
    executor?: 'local' | 'slurm';
    stages: Record<string, RawStage>;
  };
  const dir = dirname(path);
  const shared = structuredClone(doc.params ?? {});
  const defaults = structuredClone(doc.defaults ?? {});
  const stageNames = Object.keys(doc.stages);
  const problems: string[] = [];

  const byStage = new Map<string, Override[]>();
  /** Problems with a shared param or a default, by message: the stages it reached. */
  const sharedProblems = new Map<string, string[]>();
  for (const o of overrides) {
    if (o.target === 'params' || o.target === 'defaults') {
      setIn(o.target === 'params' ? shared : defaults, o.path, typedValue(o.raw, undefined));
    } else if (!doc.stages[o.target]) {
      const guess = closestMatch(o.target, stageNames);
      problems.push(`--set ${overrideKey(o)}: no stage '${o.target}'${guess ? ` (did you mean '${guess}'?)` : ''}; stages: ${stageNames.join(', ')}`);
    } else {
      byStage.set(o.target, [...(byStage.get(o.target) ?? []), o]);
    }
  }

  const stages = new Map<string, StageSpec>();
  for (const [stageName, s] of Object.entries(doc.stages)) {
    const base = ['stages', stageName];
    if ((s.kind === undefined) === (s.cmd === undefined)) {
      problems.push(`${src.at(base, true)}: stages.${stageName}: give either kind: (a stage module) or cmd: (a command), ${s.kind === undefined ? 'found neither' : 'not both'}`);
      continue;
    }
    const kind = s.cmd !== undefined ? commandKind() : resolveKind(s.kind!, dir);
    if ('error' in kind) {
      problems.push(`${src.at([...base, 'kind'])}: stages.${stageName}.kind: ${kind.error}`);
      continue;
    }
    const missingRef = (where: (string | number)[]) => (ref: string): never => {
      throw new ConfigError(`${src.at(where)}: ${keyPath(where)}: \${${ref}} is not defined under the top-level params: (defined: ${Object.keys(shared).join(', ') || 'none'})`);
    };
    let params: Record<string, unknown>;
    let deps: string[];
    // Where each param came from when not from this stage's own YAML: a shared ${ref} or a pipeline-wide default.
    const cameFrom = new Map<string, { target: 'params' | 'defaults'; key: string }>();
    const noteRef = (prefix: string) => (path: string, ref: string) => cameFrom.set(prefix && path ? `${prefix}.${path}` : prefix || path, { target: 'params', key: ref.split('.')[0]! });
    try {
      params = interpolate(structuredClone(s.params ?? {}), shared, missingRef([...base, 'params']), noteRef('')) as Record<string, unknown>;
      deps = (s.deps ?? []).map((d, i) => interpolate(d, shared, missingRef([...base, 'deps', i])) as string);
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    const schema: JsonSchema = kind.schema ? readSchema(kind.schema) : OPEN_PARAMS;
    // Pipeline-wide defaults reach only the kinds whose schema has the param, and only where the stage leaves it unset.
    for (const [k, v] of Object.entries(defaults)) {
      if (schema.properties?.[k] && params[k] === undefined) {
        cameFrom.set(k, { target: 'defaults', key: k });
        params[k] = interpolate(structuredClone(v), shared, missingRef(['defaults', k]), noteRef(k));
      }
    }
    for (const o of byStage.get(stageName) ?? []) {
      const allowed = Object.keys(schema.properties ?? {});
      if (kind.schema && schema.additionalProperties === false && !allowed.includes(o.path[0]!)) {
        const guess = closestMatch(o.path[0]!, allowed);
        problems.push(
          `--set ${stageName}.${o.path.join('.')}: '${o.path[0]}' is not a param of kind '${s.kind}'${guess ? ` (did you mean '${guess}'?)` : ''}; valid keys: ${allowed.join(', ')}`,
        );
        continue;
      }
      setIn(params, o.path, typedValue(o.raw, subSchema(schema, o.path)));
    }
    if (s.cmd !== undefined) {
      // ${name} in a command takes the stage's own params first, then the top-level ones.
      const scope = { ...shared, ...params };
      const missing = (i: number) => (ref: string): never => {
        throw new ConfigError(`${src.at([...base, 'cmd', ...(Array.isArray(s.cmd) ? [i] : [])])}: stages.${stageName}.cmd: \${${ref}} is not a param of the stage nor a top-level one (for a shell variable, write $${ref} without braces)`);
      };
      try {
        params.cmd = ([] as string[]).concat(s.cmd).map((c, i) => interpolate(c, scope, missing(i)) as string);
      } catch (e) {
        problems.push((e as Error).message);
        continue;
      }
      params.env = Object.fromEntries((s.env ?? []).map((name) => [name, process.env[name] ?? null]));
    }
    const validate = validator(schema);
    const found = validate(params)
      ? unboundedNumbers(params).map((u) => ({ path: u.path, atKey: false, message: `expected a finite number${Number.isInteger(u.value) ? ' (an integer up to 2^53)' : ''}, found ${u.value}` }))
      : violations(validate.errors ?? [], params, (p) => subSchema(schema, p));
    if (found.length) {
      const overridden = new Map((byStage.get(stageName) ?? []).map((o) => [o.path.join('.'), o]));
      for (const v of found) {
        const key = v.path.join('.');
        const own = overridden.get(key);
        // A value that came from a shared param or a default is reported once, where it was set, naming every stage it reached.
        const origin = [...cameFrom].find(([p]) => key === p || key.startsWith(`${p}.`))?.[1];
        const set = origin && overrides.find((o) => o.target === origin.target && o.path[0] === origin.key);
        const from = own
          ? `--set ${stageName}.${key}=${own.raw}`
          : set
            ? `--set ${overrideKey(set)}=${set.raw}`
            : origin
              ? src.at([origin.target, origin.key])
              : src.at([...base, 'params', ...v.path], v.atKey);
        const shared = !own && origin ? sharedProblems : undefined;
        if (shared) {
          const id = `${from}: ${origin!.target}.${origin!.key}: ${v.message}`;
          shared.set(id, [...(shared.get(id) ?? []), keyPath([...base, 'params', ...v.path])]);
        } else problems.push(`${from}: ${keyPath([...base, 'params', ...v.path])}: ${v.message}`);
      }
      continue;
    }
    const after: string[] = [];
    const paths: string[] = [];
    deps.forEach((d, i) => {
      if (doc.stages[d]) after.push(d);
      else if (/[*?[\]{}]/.test(d) || existsSync(resolve(dir, d))) paths.push(d);
      else {
        const guess = closestMatch(d, stageNames);
        problems.push(
          `${src.at([...base, 'deps', i])}: stages.${stageName}.deps[${i}]: '${d}' is neither a stage nor an existing file or folder${guess ? ` (did you mean stage '${guess}'?)` : ''}`,
        );
      }
    });
    const inputs = s.inputs ?? {};
    for (const up of Object.values(inputs).flat()) if (!after.includes(up)) after.push(up);
    stages.set(stageName, {
      name: stageName,
      kind,
      description: s.description,
      after,
      inputs,
      paths,
      params,
      outs: s.outs ?? [],
      cache: s.cache,
      tolerance: s.tolerance,
      resources: s.resources,
      command: s.cmd !== undefined ? { metrics: s.metrics ?? [] } : undefined,
    });
  }
  for (const [id, where] of sharedProblems) problems.push(`${id} (used by ${where.join(', ')})`);
  for (const spec of stages.values()) problems.push(...inputProblems(spec, stages, doc.stages, src));
  if (problems.length > 0) fail(problems);
  return {
    file: path,
    overrides,
    dir,
    cacheDir: resolve(dir, doc.cache),
    artifactsDir: resolve(dir, doc.artifacts),
    remote: typeof doc.remote === 'string' ? { url: doc.remote } : doc.remote,
    executor: doc.executor ?? 'local',
    params: shared,
    stages,
  };
}
