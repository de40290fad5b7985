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

/** Bytes moved so far, drawn as a progress bar in MiB with the rate. */
export function bytesProgress(reporter: Reporter, label: string): { progress: TransferProgress; end: () => void } {
  const t0 = performance.now();
  const mib = (b: number) => Math.round((10 * b) / MIB) / 10;
  return {
    progress: (done, total) => reporter.progress('remote', `${label} MiB`, mib(done), mib(Math.max(total, done)), `${(done / MIB / Math.max(1e-3, (performance.now() - t0) / 1000)).toFixed(1)} MiB/s`),
    end: () => reporter.progressEnd('remote', `${label} MiB`),
  };
}

/** The stages to move: those named, else every stage pipe.lock lists. */
function selected(project: Project, stages: string[]): string[] {
  const known = project.dag.order;
  for (const s of stages) if (!known.includes(s)) throw new ConfigError(`no stage '${s}' (stages: ${known.join(', ')})`);
  return (stages.length ? stages : known).filter((s) => project.lock.stages[s]);
}

export function describeTransfer(verb: string, t: Transfer): string {
  return `${verb} ${t.records} run record${t.records === 1 ? '' : 's'} (${t.objects} object${t.objects === 1 ? '' : 's'}, ${(t.bytes / MIB).toFixed(1)} MiB)${t.present ? `; ${t.present} already there` : ''}`;
}

/** pipe push: the run records pipe.lock references (or those of the named stages), with their blobs. */
export async function pushStages(project: Project, remote: Remote, stages: string[], reporter: Reporter): Promise<Transfer> {
  const records: RunRecord[] = [];
  for (const s of selected(project, stages)) {
    const r = project.store.getRun(project.lock.stages[s]!.fingerprint);
    if (r) records.push(r);
    else reporter.warn(`${s}: pipe.lock's result is not in the local cache, so it cannot be pushed (run 'pipe run' first)`);
  }
  const bar = bytesProgress(reporter, 'push');
  try {
    return await remote.push(records, [], bar.progress);
  } finally {
    bar.end();
  }
}

/** pipe pull: the run records pipe.lock references that the local cache lacks. */
export async function pullStages(project: Project, remote: Remote, stages: string[], reporter: Reporter): Promise<Transfer> {
  const names = selected(project, stages);
  const bar = bytesProgress(reporter, 'pull');
  try {
    const t = await remote.pull(names.map((s) => project.lock.stages[s]!.fingerprint), bar.progress);
    for (const fp of t.absent) reporter.warn(`${names.find((s) => project.lock.stages[s]!.fingerprint === fp)}: not on the remote (fingerprint ${fp.slice(0, 12)})`);
    return t;
  } finally {
    bar.end();
  }
}
