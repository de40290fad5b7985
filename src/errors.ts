/** Exit codes: each failure kind gets its own so scripts and CI can tell them apart. */
export const EXIT = {
  OK: 0,
  STAGE_FAILED: 1,
  CONFIG: 2,
  BUSY: 3,
  CHECK_FAILED: 4,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error meant for the user: its message is printed as is, without a stack. */
export class PipeError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.CONFIG,
  ) {
    super(message);
    this.name = 'PipeError';
  }
}

/** A stage's run() threw: carries the stage name so the CLI can say which one. */
export class StageError extends PipeError {
  constructor(
    readonly stage: string,
    override readonly cause: unknown,
  ) {
    super(`stage '${stage}' failed: ${cause instanceof Error ? cause.message : String(cause)}`, EXIT.STAGE_FAILED);
  }
}
