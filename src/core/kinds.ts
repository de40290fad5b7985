import { existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { closestMatch } from 'leven';
import { BUILTIN_STAGES_DIR, PKG_ROOT } from './paths.js';
import { builtinSchemaPath, readSchema } from './schema.js';

/** One input a kind consumes: an upstream stage (or a list of them) that must have these outputs. */
export interface InputDecl {
  needs: string[];
  many: boolean;
  optional: boolean;
  /** The kind reads the params of the stages bound here (StageInputs.params), so they are in its key. */
  params: boolean;
}

/**
 * What a kind declares about itself in its params schema, under `x-pipe`:
 * the inputs it reads, the outputs it always writes, and the module that
 * computes the machine facts its results depend on.
 */
export interface KindDecl {
  inputs: Record<string, InputDecl> | undefined;
  outputs: string[] | undefined;
  /** Absolute path of the facts module (see FactsFunction in stage.ts). */
  facts: string | undefined;
}

/** Where a stage kind's code and params schema live, and what it declares. */
export interface KindRef {
  kind: string;
  module: string;
  schema: string | undefined;
  builtin: boolean;
  decl: KindDecl;
}

export function builtinKinds(): string[] {
  if (!existsSync(BUILTIN_STAGES_DIR)) return [];
  return readdirSync(BUILTIN_STAGES_DIR)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();
}

function isPathKind(kind: string): boolean {
  return kind.startsWith('.') || isAbsolute(kind) || /\.(m?[jt]s)$/.test(kind);
}

function declOf(schemaPath: string | undefined): KindDecl {
  const x = (schemaPath ? (readSchema(schemaPath)['x-pipe'] as Record<string, unknown> | undefined) : undefined) ?? {};
  const inputs = x.inputs as Record<string, Partial<InputDecl>> | undefined;
  return {
    inputs: inputs && Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { needs: v.needs ?? [], many: !!v.many, optional: !!v.optional, params: !!v.params }])),
    outputs: x.outputs as string[] | undefined,
    facts: typeof x.facts === 'string' ? resolve(dirname(schemaPath!), x.facts) : undefined,
  };
}

/** The kind of a stage declared with `cmd:`: its code is pipe's command runner (command.ts). */
export function commandKind(): KindRef {
  return { kind: 'cmd', module: join(PKG_ROOT, 'dist', 'src', 'core', 'command.js'), schema: undefined, builtin: true, decl: { inputs: undefined, outputs: undefined, facts: undefined } };
}

/**
 * Built-in kinds are names (`resize`); anything that looks like a path is a
 * user module, resolved from the pipeline file's folder, with an optional
 * params schema beside it (`x.mjs` or `x.ts` → `x.schema.json`).
 */
export function resolveKind(kind: string, projectDir: string): KindRef | { error: string } {
  if (isPathKind(kind)) {
    const module = resolve(projectDir, kind);
    if (!existsSync(module)) return { error: `stage module '${kind}' not found (looked for ${module})` };
    const candidate = module.replace(/\.(m?[jt]s)$/, '.schema.json');
    const schema = existsSync(candidate) ? candidate : undefined;
    return { kind, module, schema, builtin: false, decl: declOf(schema) };
  }
  const kinds = builtinKinds();
  if (!kinds.includes(kind)) {
    const guess = closestMatch(kind, kinds);
    return {
      error: `unknown stage kind '${kind}'${guess ? ` (did you mean '${guess}'?)` : ''}; built-in kinds: ${kinds.join(', ')}, or a path to a module such as ./stages/mine.mjs`,
    };
  }
  const schema = builtinSchemaPath(kind);
  return { kind, module: resolve(BUILTIN_STAGES_DIR, `${kind}.js`), schema, builtin: true, decl: declOf(schema) };
}

