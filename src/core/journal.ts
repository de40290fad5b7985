import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { JsonReporter } from './progress.js';
import type { Reporter } from './reporter.js';

/** Where running commands write their events for `pipe ui`: one JSON-lines file per process, removed when it ends. */
export const liveDir = (cacheDir: string) => join(cacheDir, 'live');

/** Every method of a Reporter: the mapped type makes a new one a compile error here until it is listed. */
const METHODS: { [K in keyof Reporter]: true } = { plan: true, info: true, warn: true, stageStart: true, stageEnd: true, log: true, progress: true, progressEnd: true, scalars: true, artifact: true, close: true };

/** Sends every event to both reporters: the user's, and the journal. */
function tee(a: Reporter, b: Reporter): Reporter {
  const call = (m: string) => (...args: unknown[]) => {
    for (const r of [a, b]) (r[m as keyof Reporter] as (...x: unknown[]) => void).apply(r, args);
  };
  return Object.fromEntries(Object.keys(METHODS).map((m) => [m, call(m)])) as unknown as Reporter;
}

/**
 * A run's events also written to cache/live/<pid>.jsonl as it goes (the
 * --json format), so `pipe ui` shows runs started anywhere on this cache;
 * the file goes when the run ends (one left by a killed run names a dead pid).
 */
export function journaled(reporter: Reporter, cacheDir: string): { reporter: Reporter; end(): void } {
  const dir = liveDir(cacheDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${process.pid}.jsonl`);
  const fd = openSync(path, 'w');
  const journal = new JsonReporter({ write: (text: string) => writeSync(fd, text) });
  return {
    reporter: tee(reporter, journal),
    end() {
      closeSync(fd);
      rmSync(path, { force: true });
    },
  };
}
