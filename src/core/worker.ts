import { loadPipeline } from './config.js';
import { executeStage, type WorkerArgs } from './execute.js';
import { CacheCorrupt, EXIT } from './errors.js';
import { makeReporter } from './progress.js';
import { Project } from './project.js';

/**
 * A stage run in a process of its own (`pipe run --jobs N`): the parent
 * holds the run lock and writes pipe.lock; this process recomputes the
 * stage's fingerprint, checks it matches, runs the stage, commits its record
 * to the shared LMDB cache, and reports as JSON lines on stdout.
 */
const args = JSON.parse(process.argv[2]!) as WorkerArgs;
const reporter = await makeReporter('json');
const controller = new AbortController();
process.on('SIGINT', () => controller.abort());
process.on('SIGTERM', () => controller.abort());
// The parent is gone (killed, crashed): stop now, before anything is committed for a run nobody records.
const lifeline = () => process.exit(EXIT.INTERRUPTED);
process.on('disconnect', lifeline);
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
let project: Project | undefined;
try {
  project = await Project.open({ ...loadPipeline(args.file, args.overrides), artifactsDir: args.artifactsDir, cacheDir: args.cacheDir });
  const state = project.state(args.stage);
  if (state.fingerprint !== args.fingerprint) {
    throw new Error(`fingerprint changed between planning and running (${args.fingerprint.slice(0, 12)} -> ${state.fingerprint?.slice(0, 12)}): was a file edited during the run?`);
  }
  await executeStage(project, args.stage, state, reporter, controller.signal, { fresh: args.fresh });
  emit({ event: 'worker-done' });
} catch (e) {
  emit({ event: 'worker-failed', message: e instanceof Error ? e.message : String(e), interrupted: controller.signal.aborted, corrupt: e instanceof CacheCorrupt });
  process.exitCode = controller.signal.aborted ? EXIT.INTERRUPTED : EXIT.STAGE_FAILED;
} finally {
  await project?.close();
  process.off('disconnect', lifeline);
  process.disconnect?.();
}
