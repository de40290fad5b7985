import { existsSync, mkdirSync, readFileSync, readlinkSync, rmdirSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CacheBusy } from './errors.js';
import { ensureCacheFolder } from './lmdb-preflight.js';

/**
 * One pipe process per cache at a time. The lock is a symlink whose target
 * names its holder (host, pid, process start time): creating a symlink is
 * atomic and fails if one exists, and reading it tells whether the holder is
 * still alive, so a lock left by a `kill -9` is taken over at once instead
 * of after a timeout. Breaking a dead holder's lock is itself guarded by a
 * directory, so two processes never both break and both take it.
 */
export interface Holder {
  host: string;
  pid: number;
  start: string;
}

/** The process start time (clock ticks since boot on Linux): a pid reused by a new process has another. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return process.platform === 'linux' ? undefined : '';
  }
}

/** Whether a process with this pid exists on this host (EPERM: it does, as another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function alive(h: Holder): boolean {
  // Another host's process cannot be seen from here: count it as alive.
  if (h.host !== hostname()) return true;
  if (!pidAlive(h.pid)) return false;
  const start = startTime(h.pid);
  return start === undefined ? false : start === '' || start === h.start;
}

const me = (): Holder => ({ host: hostname(), pid: process.pid, start: startTime(process.pid) ?? '' });
const encode = (h: Holder) => `${h.host}:${h.pid}:${h.start}`;

function decode(target: string): Holder {
  const [start, pid, ...host] = target.split(':').reverse();
  return { host: host.reverse().join(':'), pid: Number(pid), start: start ?? '' };
}

function tryTake(lock: string): Holder | undefined {
  try {
    symlinkSync(encode(me()), lock);
    return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let holder: Holder;
  try {
    holder = decode(readlinkSync(lock));
  } catch (e) {
    // Released between the two calls: try again.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return tryTake(lock);
    throw new CacheBusy(`${lock} is not a lock pipe made (${(e as Error).message}); remove it if no pipe process is running`);
  }
  if (alive(holder)) return holder;
  // Dead holder: break its lock under a guard, re-checking that it is still the same dead one.
  const guard = `${lock}.break`;
  try {
    mkdirSync(guard);
  } catch {
    // Another process is breaking it (or died doing so: a guard older than 10 s is stale).
    if (existsSync(guard) && Date.now() - statSync(guard).mtimeMs > 10_000) rmdirSync(guard);
    return holder;
  }
  try {
    if (readlinkSync(lock) === encode(holder)) unlinkSync(lock);
  } finally {
    rmdirSync(guard);
  }
  return tryTake(lock);
}

/**
 * Takes the cache's lock for `command`. When another live process holds it,
 * waits for it (saying so through onWait) or, with wait=false, throws
 * CacheBusy naming the holder. Returns the release function.
 */
export async function acquireRunLock(cacheDir: string, opts: { wait: boolean; command: string; onWait: (holder: Holder) => void }): Promise<() => Promise<void>> {
  ensureCacheFolder(cacheDir);
  const lock = join(cacheDir, 'owner');
  let holder = tryTake(lock);
  if (holder) {
    if (!opts.wait) {
      throw new CacheBusy(`another pipe process (pid ${holder.pid}${holder.host !== hostname() ? ` on ${holder.host}` : ''}) is using ${cacheDir}; wait for it to finish, then run 'pipe ${opts.command}' again`);
    }
    opts.onWait(holder);
    while ((holder = tryTake(lock))) await new Promise((r) => setTimeout(r, 100));
  }
  const mine = encode(me());
  const release = () => {
    try {
      if (readlinkSync(lock) === mine) unlinkSync(lock);
    } catch {
      // Already gone.
    }
  };
  // A normal exit (also process.exit on a second Ctrl-C) releases it; a kill -9 leaves a lock the next run sees is dead.
  process.once('exit', release);
  return async () => {
    process.off('exit', release);
    release();
  };
}
