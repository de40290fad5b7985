/**
 * A learning-rate factor: 1, then falling linearly to 0 over the last
 * `fraction` of training (as pix2pix and CycleGAN decay theirs); `done` is
 * the share of the steps taken so far. A fraction of 0 keeps the rate.
 */
export function linearDecay(done: number, fraction: number): number {
  return fraction > 0 ? Math.min(1, (1 - done) / fraction) : 1;
}

/** A factor that falls linearly from 1 to 0 over the first `share` of training and stays 0 after. */
export function fadeOut(done: number, share: number): number {
  return Math.max(0, 1 - done / share);
}
