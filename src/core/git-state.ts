import { execFileSync } from 'node:child_process';

export interface GitState {
  commit: string;
  /** Whether tracked files differ from that commit. */
  dirty: boolean;
}

/** The commit a run starts from and whether the tree has changes; undefined outside a git checkout. */
export function gitState(dir: string): GitState | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return undefined;
  }
}
