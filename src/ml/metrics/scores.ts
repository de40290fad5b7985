/** The scores of a set in one feature space. */
export interface SpaceValues {
  fd: number;
  kid: number;
  precision: number;
  recall: number;
  density: number;
  coverage: number;
}

/**
 * What evaluate computes for each scored set, as metrics.json holds it. A model scored on several
 * disjoint draws of its samples (evaluate's draws) has each value as their mean and, in sd, their
 * standard deviation.
 */
export interface SpaceScores extends SpaceValues {
  sd?: SpaceValues;
}

/**
 * real: the second half of the validation images (real vs real: the floor every model is read against);
 * unseen: images of the held-out writers; copies: training images themselves (the memorisation check
 * must flag them); model: a generator's samples; sanity: sets that are plainly not signatures (blank, digits).
 */
export type RowKind = 'real' | 'unseen' | 'copies' | 'model' | 'sanity';

export interface RowScores {
  name: string;
  kind: RowKind;
  n: number;
  /** Disjoint sets of n images whose mean the own space's scores are (1: one set). */
  draws: number;
  spaces: Record<string, SpaceScores>;
  pixelMmd: number;
  msssim: number;
  /** With draws > 1: the standard deviation of msssim over the draws (msssim is their mean). */
  msssimSd?: number;
  memorisation: { ratio: number; copyRate: number; medianNearest: number };
}

/** Two MS-SSIM values this close count as the same diversity (the bar for "as diverse as real"). */
export const MSSSIM_TOLERANCE = 0.08;
