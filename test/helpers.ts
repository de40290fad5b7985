import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PIPE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'pipe.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A throwaway project folder with the given files. */
export function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-test-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export function write(dir: string, name: string, text: string | Uint8Array): void {
  mkdirSync(dirname(join(dir, name)), { recursive: true });
  writeFileSync(join(dir, name), text);
}

export function read(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}

export function pipe(dir: string, ...args: string[]): CliResult {
  return pipeEnv(dir, {}, ...args);
}

/** pipe with extra environment variables. */
export function pipeEnv(dir: string, env: Record<string, string>, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [PIPE, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function pipeAsync(dir: string, ...args: string[]): { child: ReturnType<typeof spawn>; done: Promise<CliResult> } {
  return pipeAsyncEnv(dir, {}, ...args);
}

export function pipeAsyncEnv(dir: string, env: Record<string, string>, ...args: string[]): { child: ReturnType<typeof spawn>; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [PIPE, ...args], { cwd: dir, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((res) => child.on('close', (code, sig) => res({ code: code ?? (sig ? 128 : -1), stdout, stderr })));
  return { child, done };
}

/** Lines each stage appends to runs.log when it executes: how tests see what really ran. */
export function runsLog(dir: string): string[] {
  const p = join(dir, 'runs.log');
  return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').filter(Boolean) : [];
}

export async function waitFor(cond: () => boolean, ms = 15000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A stage module that logs its run, emits a float tensor from params and echoes its inputs. */
export const GEN_STAGE = `
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  run(ctx) {
    appendFileSync(join(ctx.projectDir, 'runs.log'), ctx.name + '\\n');
    const n = ctx.params.n ?? 4;
    const data = new Float32Array(n).map((_, i) => i * (ctx.params.scale ?? 1));
    ctx.output.tensor('x', { dtype: 'float32', shape: [n], data });
    ctx.artifacts.write('x.txt', Array.from(data).join(','));
  },
};
`;

export const SUM_STAGE = `
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  run(ctx) {
    appendFileSync(join(ctx.projectDir, 'runs.log'), ctx.name + '\\n');
    let s = 0;
    for (const up of Object.values(ctx.upstream)) for (const v of up.tensor('x').data) s += v;
    const text = ctx.files.map((f) => readFileSync(f, 'utf8')).join('');
    ctx.output.json('sum', { s, text });
    ctx.metrics({ s });
  },
};
`;
