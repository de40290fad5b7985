/** Exit codes: each failure kind gets its own so scripts and CI can tell them apart. */
export const EXIT = {
  OK: 0,
  STAGE_FAILED: 1,
  CONFIG: 2,
  BUSY: 3,
  CHECK_FAILED: 4,
  CORRUPT: 5,
  REMOTE: 6,
  INTERRUPTED: 130,
  /** 128 + SIGPIPE, as a shell reports a tool stopped by a closed pipe. */
  BROKEN_PIPE: 141,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error meant for the user: its message is printed as is, without a stack. */
export class PipeError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** pipeline.yaml, pipe.lock, a flag or a param is wrong: nothing ran. */
export class ConfigError extends PipeError {
  constructor(message: string) {
    super(message, EXIT.CONFIG);
  }
}

/** A stage's run() threw: carries the stage name so every command reports it the same way. */
export class StageFailed extends PipeError {
  constructor(
    readonly stage: string,
    override readonly cause: unknown,
  ) {
    super(`stage '${stage}' failed: ${cause instanceof Error ? cause.message : String(cause)}`, EXIT.STAGE_FAILED);
  }
}

/** The user stopped the run (Ctrl-C, SIGTERM); nothing of the running stage was recorded. */
export class Interrupted extends PipeError {
  constructor(message: string) {
    super(message, EXIT.INTERRUPTED);
  }
}

/** Another pipe process holds the cache. */
export class CacheBusy extends PipeError {
  constructor(message: string) {
    super(message, EXIT.BUSY);
  }
}

/** What the cache holds is not what was written. */
export class CacheCorrupt extends PipeError {
  constructor(message: string) {
    super(message, EXIT.CORRUPT);
  }
}

/** A check the user asked for (status --check, verify) found a difference. */
export class CheckFailed extends PipeError {
  constructor(message: string) {
    super(message, EXIT.CHECK_FAILED);
  }
}

/** The remote cache cannot be reached, refused a request, or served an object that is not what was pushed. */
export class RemoteError extends PipeError {
  constructor(message: string) {
    super(message, EXIT.REMOTE);
  }
}
