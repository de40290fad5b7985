import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { closestMatch } from 'leven';
import { BUILTIN_STAGES_DIR } from './paths.js';
import { builtinSchemaPath } from './schema.js';

/** Where a stage kind's code and params schema live. */
export interface KindRef {
  kind: string;
  module: string;
  schema: string | undefined;
  builtin: boolean;
}

export function builtinKinds(): string[] {
  if (!existsSync(BUILTIN_STAGES_DIR)) return [];
  return readdirSync(BUILTIN_STAGES_DIR)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();
}

function isPathKind(kind: string): boolean {
  return kind.startsWith('.') || isAbsolute(kind) || /\.(m?js)$/.test(kind);
}

/**
 * Built-in kinds are names (`resize`); anything that looks like a path is a
 * user module, resolved from the pipeline file's folder, with an optional
 * params schema beside it (`x.mjs` → `x.schema.json`).
 */
export function resolveKind(kind: string, projectDir: string): KindRef | { error: string } {
  if (isPathKind(kind)) {
    const module = resolve(projectDir, kind);
    if (!existsSync(module)) return { error: `stage module '${kind}' not found (looked for ${module})` };
    const schema = module.replace(/\.(m?js)$/, '.schema.json');
    return { kind, module, schema: existsSync(schema) ? schema : undefined, builtin: false };
  }
  const kinds = builtinKinds();
  if (!kinds.includes(kind)) {
    const guess = closestMatch(kind, kinds);
    return {
      error: `unknown stage kind '${kind}'${guess ? ` (did you mean '${guess}'?)` : ''}; built-in kinds: ${kinds.join(', ')}, or a path to a module such as ./stages/mine.mjs`,
    };
  }
  return { kind, module: resolve(BUILTIN_STAGES_DIR, `${kind}.js`), schema: builtinSchemaPath(kind), builtin: true };
}
