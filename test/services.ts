import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, type TestContext } from 'node:test';
import { PIPE } from './helpers.js';

const SCRIPTS = join(dirname(PIPE), '..', 'scripts', 'services');

/**
 * A real server a test file needs (scripts/services/NAME.sh), started for that
 * file and stopped after it, unless the environment names a running one. Not
 * root: the test skips and says why. Root but the server cannot start: the test
 * fails with the script's output, as CI must.
 */
export function service(name: 's3' | 'slurm', ready: string, env: Record<string, string>): (t: TestContext) => Record<string, string> | undefined {
  let started: Record<string, string> | undefined;
  let failure: string | undefined;
  const script = join(SCRIPTS, `${name}.sh`);
  const start = () => {
    if (process.env[ready]) return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
    if (started || failure) return started;
    if (process.getuid?.() !== 0) return undefined;
    const r = spawnSync('bash', [script, 'start'], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180_000 });
    if (r.status !== 0) {
      failure = `scripts/services/${name}.sh start failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`;
      return undefined;
    }
    started = Object.fromEntries([...r.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    return started;
  };
  after(() => {
    if (started) spawnSync('bash', [script, 'stop'], { env: { ...process.env, ...env }, timeout: 60_000 });
  });
  return (t) => {
    const got = start();
    if (failure) throw new Error(failure);
    if (!got) t.skip(`${name}: not root, so scripts/services/${name}.sh cannot start the server here, and ${ready} names none`);
    return got;
  };
}
