import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Root of the pipe package (holds schemas/ and dist/stages/), whether run from dist or src. */
export const PKG_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BUILTIN_STAGES_DIR = join(PKG_ROOT, 'dist', 'stages');
