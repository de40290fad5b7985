/**
 * Build step (npm run build / prepare / test): compiles the JSON Schemas in
 * schemas/ into standalone validator modules under dist/validators/, named
 * by the schema's hash, so `pipe` validates without loading ajv.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { hashJson } from './hash.js';
import { PKG_ROOT } from './paths.js';
import { AJV_OPTIONS, ajvInstance, OPEN_PARAMS, readSchema, VALIDATORS_DIR } from './schema.js';

const require = createRequire(import.meta.url);
const standalone = (require('ajv/dist/standalone') as { default: (ajv: unknown, v: unknown) => string }).default;

rmSync(VALIDATORS_DIR, { recursive: true, force: true });
mkdirSync(VALIDATORS_DIR, { recursive: true });
const dir = join(PKG_ROOT, 'schemas');
const schemas = [...readdirSync(dir).filter((f) => f.endsWith('.schema.json')).map((name) => readSchema(join(dir, name))), OPEN_PARAMS];
for (const schema of schemas) {
  const ajv = ajvInstance({ ...AJV_OPTIONS, code: { source: true } });
  writeFileSync(join(VALIDATORS_DIR, `${hashJson(schema)}.cjs`), standalone(ajv, ajv.compile(schema)));
}
console.log(`compiled ${schemas.length} schema validators into dist/validators/`);
