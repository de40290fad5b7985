import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeNpy } from '../src/core/npy.js';
import type { Tensor } from '../src/core/stage.js';

/**
 * A cached output of the workspace's pipeline, read through `pipe export` (the public way out of the
 * cache): written into `dir`, then read back. The bench scripts run after a default run.
 */
export function cachedOutput(dir: string, stage: string, output: string, ext = 'npy'): Buffer {
  const file = join(dir, `${stage}-${output}.${ext}`);
  execFileSync(process.execPath, ['bin/pipe.js', 'export', stage, output, file], { stdio: 'ignore' });
  return readFileSync(file);
}

export const cachedTensor = (dir: string, stage: string, output: string): Tensor => decodeNpy(cachedOutput(dir, stage, output), `${stage} ${output}`);

export const cachedJson = <T>(dir: string, stage: string, output: string): T => JSON.parse(cachedOutput(dir, stage, output, 'json').toString('utf8')) as T;
