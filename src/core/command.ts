/**
 * Command stages (`cmd:` in pipeline.yaml): run under the user's shell in
 * the project folder, each command in its own process group so Ctrl-C and
 * a kill reach everything it started. Declared outs are removed before the
 * run, required after it, and stored (outs.ts). This module and what it
 * imports are the code a command stage's key covers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'yaml';
import type { StageSpec } from './config.js';
import type { Collected } from './context.js';
import { Interrupted } from './errors.js';
import type { Reporter } from './progress.js';
import { encodeNpy } from './npy.js';
import { storeOut } from './outs.js';
import type { RunRecord, Store } from './store.js';

const TAIL = 20;
/**
 * Starts the command ($1, under the shell $0) with a guard in its process
 * group: a background shell that waits on fd 3, a pipe only pipe holds open.
 * When pipe goes away, even by `kill -9` at any moment after the spawn, or
 * when the command ends, the pipe closes and the guard kills the group, so
 * nothing the command started outlives it. The guard is forked before the
 * command runs, so there is no moment when the command runs unguarded.
 */
const LAUNCH = '(read -r _ <&3; kill -s KILL 0) >/dev/null 2>&1 & exec 3<&- "$0" -c "$1"';

/** The environment a command gets: pipe's, plus each param as PIPE_PARAM_<NAME> and all of them as JSON in the file PIPE_PARAMS names. */
function commandEnv(stage: string, params: Record<string, unknown>): NodeJS.ProcessEnv {
  const own = Object.fromEntries(Object.entries(params).filter(([k]) => k !== 'cmd' && k !== 'env'));
  const file = join(tmpdir(), `pipe-params-${stage}-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(own));
  const env: NodeJS.ProcessEnv = { ...process.env, PIPE_PARAMS: file, PIPE_STAGE: stage };
  for (const [k, v] of Object.entries(own)) env[`PIPE_PARAM_${k.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`] = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return env;
}

/** Project files a command names that are not among its deps: the usual reason an edit to a script does not rerun a stage. */
function undeclaredFiles(commands: string[], projectDir: string, depFiles: Set<string>, outs: Set<string>): string[] {
  const named = new Set<string>();
  for (const c of commands) {
    for (const token of c.split(/[\s'"=;|&<>()]+/)) {
      if (!/[./]/.test(token) || token.startsWith('-')) continue;
      const abs = resolve(projectDir, token);
      if (!abs.startsWith(projectDir + sep) || depFiles.has(abs) || outs.has(abs)) continue;
      if (existsSync(abs) && statSync(abs).isFile()) named.add(relative(projectDir, abs));
    }
  }
  return [...named];
}

function runOne(stage: string, command: string, cwd: string, env: NodeJS.ProcessEnv, reporter: Reporter, signal: AbortSignal, log: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn('/bin/sh', ['-c', LAUNCH, process.env.SHELL || '/bin/sh', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // Already gone.
      }
    };
    let killer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      group('SIGTERM');
      killer = setTimeout(() => group('SIGKILL'), 3000);
    };
    signal.addEventListener('abort', onAbort);
    // The command's shell is done: closing the guard's pipe takes down what it left running, which would otherwise hold its output open.
    child.on('exit', () => child.stdio[3]!.destroy());
    // stderr is not a warning channel for most tools (progress, logging): both streams print as the stage's lines.
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.push(line);
        reporter.log(stage, 'info', line);
      });
    }
    child.on('error', fail);
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (killer) clearTimeout(killer);
      if (signal.aborted) return fail(new Interrupted(`'${stage}' interrupted`));
      if (code === 0) return done();
      const tail = log.slice(-TAIL).map((l) => `    ${l}`).join('\n');
      fail(new Error(`command exited with ${sig ? `signal ${sig}` : `code ${code}`}: ${command}${tail ? `\n  last lines:\n${tail}` : ''}`));
    });
  });
}

/**
 * Upstream tensors as .npy files for the command: one file per tensor output,
 * named in the JSON file PIPE_INPUTS names ({stage: {output: path}}) and in
 * PIPE_INPUT_<STAGE>_<OUTPUT> variables. Returns the folder to remove after.
 */
function writeInputs(stage: string, store: Store, upstream: Record<string, RunRecord>, env: NodeJS.ProcessEnv): string {
  const dir = join(tmpdir(), `pipe-inputs-${stage}-${process.pid}`);
  const manifest: Record<string, Record<string, string>> = {};
  for (const [up, record] of Object.entries(upstream)) {
    for (const [name, ref] of Object.entries(record.outputs)) {
      if (ref.type !== 'tensor') continue;
      const file = join(dir, up, `${name}.npy`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, encodeNpy(store.getTensor(ref.hash, `output '${name}' of stage '${up}'`)));
      (manifest[up] ??= {})[name] = file;
      env[`PIPE_INPUT_${`${up}_${name}`.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`] = file;
    }
  }
  mkdirSync(dir, { recursive: true });
  env.PIPE_INPUTS = join(dir, 'inputs.json');
  writeFileSync(env.PIPE_INPUTS, JSON.stringify(manifest));
  return dir;
}

export async function runCommand(args: {
  spec: StageSpec;
  projectDir: string;
  depFiles: string[];
  /** Each upstream stage's run record, by stage name. */
  upstream: Record<string, RunRecord>;
  store: Store;
  collected: Collected;
  reporter: Reporter;
  signal: AbortSignal;
}): Promise<void> {
  const { spec, projectDir, store, collected, reporter, signal } = args;
  const commands = spec.params.cmd as string[];
  const outs = spec.outs.map((o) => resolve(projectDir, o));
  for (const f of undeclaredFiles(commands, projectDir, new Set(args.depFiles), new Set(outs))) {
    reporter.log(spec.name, 'warn', `the command names ${f}, which is not in deps: editing it will not rerun this stage (add it to deps)`);
  }
  // A stale out must never pass for a new one.
  for (const o of outs) rmSync(o, { recursive: true, force: true });
  const env = commandEnv(spec.name, spec.params);
  const inputs = writeInputs(spec.name, store, args.upstream, env);
  const log: string[] = [];
  try {
    for (const c of commands) await runOne(spec.name, c, projectDir, env, reporter, signal, log);
  } finally {
    rmSync(env.PIPE_PARAMS!, { force: true });
    rmSync(inputs, { recursive: true, force: true });
  }
  collected.log = store.stageBlob(Buffer.from(log.join('\n')));
  for (const [i, o] of outs.entries()) {
    if (!existsSync(o)) throw new Error(`declared out '${spec.outs[i]}' was not written by the command`);
    collected.outputs[spec.outs[i]!] = storeOut(store, o, collected.blobs);
  }
  for (const m of spec.command!.metrics) {
    const file = resolve(projectDir, m);
    if (!existsSync(file)) throw new Error(`metrics file '${m}' was not written by the command`);
    const values = parse(readFileSync(file, 'utf8')) as unknown;
    if (!values || typeof values !== 'object' || Array.isArray(values)) throw new Error(`metrics file '${m}' must hold a mapping of names to values`);
    Object.assign(collected.metrics, values);
  }
}

