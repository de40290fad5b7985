import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Ajv as AjvClass, ErrorObject, Options, ValidateFunction } from 'ajv';
import { closestMatch } from 'leven';
import { hashJson } from './hash.js';
import { PKG_ROOT } from './paths.js';

export const AJV_OPTIONS: Options = { allErrors: true, useDefaults: true, strict: false };
/** Validators compiled at build time (src/compile-validators.ts), named by their schema's hash. */
export const VALIDATORS_DIR = join(PKG_ROOT, 'dist', 'validators');

const require = createRequire(import.meta.url);
const compiled = new Map<string, ValidateFunction>();
const bySchema = new WeakMap<object, ValidateFunction>();
let ajv: AjvClass | undefined;

/** ajv itself, loaded only when a schema has no build-time validator (a user's stage kind). */
export function ajvInstance(opts: Options = AJV_OPTIONS): AjvClass {
  const Ajv = require('ajv') as { default: new (o: Options) => AjvClass };
  return new Ajv.default(opts);
}

export type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; type?: string | string[] };

/** The params schema of a kind that declares none (a command, a module without x.schema.json): compiled at build time too, so such a pipeline loads no ajv. */
export const OPEN_PARAMS: JsonSchema = { type: 'object' };

const schemas = new Map<string, JsonSchema>();

/** A schema file, parsed once per process (callers never modify it). */
export function readSchema(path: string): JsonSchema {
  let s = schemas.get(path);
  if (!s) schemas.set(path, (s = JSON.parse(readFileSync(path, 'utf8')) as JsonSchema));
  return s;
}

export function builtinSchemaPath(name: string): string {
  return join(PKG_ROOT, 'schemas', `${name}.schema.json`);
}

/**
 * The validator of a schema: the build-time one if the schema is unchanged
 * since the build, else compiled now. Loading and compiling ajv costs more
 * than everything else a no-op `pipe run` does, hence the build step.
 */
export function validator(schema: JsonSchema): ValidateFunction {
  // Schemas come from readSchema's memo, so most lookups are by identity and skip hashing the schema.
  const same = bySchema.get(schema);
  if (same) return same;
  const key = hashJson(schema);
  let v = compiled.get(key);
  if (!v) {
    const prebuilt = join(VALIDATORS_DIR, `${key}.cjs`);
    v = existsSync(prebuilt) ? (require(prebuilt) as { default: ValidateFunction }).default : (ajv ??= ajvInstance()).compile(schema);
    compiled.set(key, v);
  }
  bySchema.set(schema, v);
  return v;
}

/** One schema violation, translated into words and a path into the document. */
export interface Violation {
  path: (string | number)[];
  /** Points at the key itself rather than its value (unknown or misspelled keys). */
  atKey: boolean;
  message: string;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let v = root;
  for (const p of path) v = v == null ? undefined : (v as Record<string | number, unknown>)[p];
  return v;
}

function pathOf(instancePath: string): (string | number)[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Turns ajv's errors into messages that say what was expected and what was found. */
export function violations(errors: ErrorObject[], data: unknown, schemaAt: (path: (string | number)[]) => JsonSchema | undefined): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const path = pathOf(e.instancePath);
    const found = valueAt(data, path);
    let v: Violation;
    // A key that breaks propertyNames is reported once, by name (ajv also reports the inner pattern).
    if (e.propertyName !== undefined && e.keyword !== 'propertyNames') continue;
    switch (e.keyword) {
      case 'propertyNames': {
        const name = (e.params as { propertyName: string }).propertyName;
        const pattern = (schemaAt(path)?.propertyNames as { pattern?: string } | undefined)?.pattern;
        v = { path: [...path, name], atKey: true, message: `the name ${JSON.stringify(name)} is not allowed${pattern ? ` (names match ${pattern}: a letter, then letters, digits, '-' or '_')` : ''}` };
        break;
      }
      case 'additionalProperties': {
        const key = (e.params as { additionalProperty: string }).additionalProperty;
        const allowed = Object.keys(schemaAt(path)?.properties ?? {});
        const guess = closestMatch(key, allowed);
        const hint = guess && guess !== key ? ` (did you mean '${guess}'?)` : '';
        v = { path: [...path, key], atKey: true, message: `unknown key '${key}'${hint}; expected one of: ${allowed.join(', ')}` };
        break;
      }
      case 'required':
        v = { path, atKey: false, message: `missing required key '${(e.params as { missingProperty: string }).missingProperty}'` };
        break;
      case 'type':
        v = { path, atKey: false, message: `expected ${(e.params as { type: string }).type}, found ${describe(found)}` };
        break;
      case 'enum':
        v = {
          path,
          atKey: false,
          message: `expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((a) => JSON.stringify(a)).join(', ')}, found ${describe(found)}`,
        };
        break;
      default:
        v = { path, atKey: false, message: `expected a value that ${e.message ?? 'matches the schema'}, found ${describe(found)}` };
    }
    const id = `${v.path.join('.')}|${v.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(v);
    }
  }
  return out;
}

/** The sub-schema at a data path, following properties/items/additionalProperties. */
export function subSchema(schema: JsonSchema, path: (string | number)[], defs: JsonSchema = schema): JsonSchema | undefined {
  let s: JsonSchema | undefined = schema;
  for (const p of path) {
    if (!s) return undefined;
    s = deref(s, defs);
    const props = s.properties as Record<string, JsonSchema> | undefined;
    if (typeof p === 'string' && props?.[p]) s = props[p];
    else if (typeof p === 'number' && s.items) s = s.items as JsonSchema;
    else if (typeof s.additionalProperties === 'object') s = s.additionalProperties as JsonSchema;
    else return undefined;
  }
  return s ? deref(s, defs) : undefined;
}

function deref(s: JsonSchema, defs: JsonSchema): JsonSchema {
  const ref = s.$ref as string | undefined;
  if (!ref?.startsWith('#/')) return s;
  return valueAt(defs, ref.slice(2).split('/')) as JsonSchema;
}
