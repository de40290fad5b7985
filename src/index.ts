/**
 * `import … from 'pipe'`: the stage API (defineStage and the types a stage
 * kind is written against) and the library calls that run pipelines.
 */
export * from './core/stage.js';
export { loadPipeline, parseOverride, type Override, type Pipeline, type StageSpec } from './core/config.js';
export { run, status, type PipelineRef, type RunPipelineOptions, type StageResult, type StageStatus } from './core/api.js';
export { makeReporter, type Reporter, type StageOutcome } from './core/progress.js';
export { CacheBusy, CacheCorrupt, CheckFailed, ConfigError, EXIT, Interrupted, PipeError, StageFailed } from './core/errors.js';
