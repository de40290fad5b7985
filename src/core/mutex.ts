import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { CacheBusy } from './errors.js';

/**
 * One `pipe run` per cache at a time. A second run waits for the first (and
 * says so) or, with wait=false, fails at once. A lock left by a killed run
 * goes stale after a few seconds without its heartbeat.
 */
export async function acquireRunLock(cacheDir: string, opts: { wait: boolean; onWait: () => void }): Promise<() => Promise<void>> {
  mkdirSync(cacheDir, { recursive: true });
  const target = join(cacheDir, 'run');
  const options = { realpath: false, stale: 5000, update: 1000, lockfilePath: `${target}.lock` };
  try {
    return await lockfile.lock(target, options);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ELOCKED') throw e;
  }
  if (!opts.wait) {
    throw new CacheBusy(`another 'pipe run' is using ${cacheDir}; wait for it to finish, or rerun without --no-wait to queue behind it`);
  }
  opts.onWait();
  return lockfile.lock(target, { ...options, retries: { retries: 100000, factor: 1, minTimeout: 200, maxTimeout: 200 } });
}
