import type { Pipeline } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Project } from '../project.js';
import type { Reporter } from '../progress.js';
import type { RunRecord } from '../store.js';
import { remoteConfig, type RemoteConfig } from './backend.js';
import { openBackend } from './open.js';
import { Remote, type Transfer, type TransferProgress } from './remote.js';

export async function openRemote(project: Project, config: RemoteConfig): Promise<Remote> {
  return new Remote(await openBackend(config), project.store, config.jobs ?? 16);
}

export function requireRemote(pipeline: Pipeline, override?: string): RemoteConfig {
  const config = remoteConfig(pipeline, override);
  if (!config) throw new ConfigError(`no remote: add remote: s3://bucket/prefix (or file:///path) to ${pipeline.file}, or pass --remote`);
  return config;
}

const MIB = 1024 * 1024;

/** Runs a transfer with a progress bar of the bytes moved (MiB, rate, ETA), removed when it ends. */
async function withBar<T>(reporter: Reporter, label: 'push' | 'pull', transfer: (progress: TransferProgress) => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const mib = (b: number) => Math.round((10 * b) / MIB) / 10;
  const bar = `${label} MiB`;
  try {
    return await transfer((done, total) => reporter.progress('remote', bar, mib(done), mib(Math.max(total, done)), `${(done / MIB / Math.max(1e-3, (performance.now() - t0) / 1000)).toFixed(1)} MiB/s`));
  } finally {
    reporter.progressEnd('remote', bar);
  }
}

/** The stages to move: those named, else every stage pipe.lock lists. */
function selected(project: Project, stages: string[], command: string): string[] {
  return (stages.length ? project.dag.names(stages, command) : project.dag.order).filter((s) => project.lock.stages[s]);
}

/** One line for the user: what a push or pull moved. */
export function describeTransfer(verb: 'push' | 'pull', remote: Remote, t: Transfer): string {
  const where = verb === 'push' ? `pushed to ${remote.backend.url}` : `pulled from ${remote.backend.url}`;
  return `${where}: ${t.records} run record${t.records === 1 ? '' : 's'} (${t.objects} object${t.objects === 1 ? '' : 's'}, ${(t.bytes / MIB).toFixed(1)} MiB)${t.present ? `; ${t.present} already there` : ''}`;
}

/** Pushes run records and their blobs with a progress bar (pipe push, pipe run --push). */
export function pushRecords(remote: Remote, records: RunRecord[], reporter: Reporter): Promise<Transfer> {
  return withBar(reporter, 'push', (progress) => remote.push(records, [], progress));
}

/** pipe push: the run records pipe.lock references (or those of the named stages), with their blobs. */
export async function pushStages(project: Project, remote: Remote, stages: string[], reporter: Reporter): Promise<Transfer> {
  const records: RunRecord[] = [];
  for (const s of selected(project, stages, 'pipe push')) {
    const r = project.store.getRun(project.lock.stages[s]!.fingerprint);
    if (r) records.push(r);
    else reporter.warn(`${s}: pipe.lock's result is not in the local cache, so it cannot be pushed (run 'pipe run' first)`);
  }
  return pushRecords(remote, records, reporter);
}

/** pipe pull: the run records pipe.lock references that the local cache lacks. */
export async function pullStages(project: Project, remote: Remote, stages: string[], reporter: Reporter): Promise<Transfer> {
  const names = selected(project, stages, 'pipe pull');
  const t = await withBar(reporter, 'pull', (progress) => remote.pull(names.map((s) => project.lock.stages[s]!.fingerprint), progress));
  for (const fp of t.absent) reporter.warn(`${names.find((s) => project.lock.stages[s]!.fingerprint === fp)}: not on the remote (fingerprint ${fp.slice(0, 12)})`);
  return t;
}
