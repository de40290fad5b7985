import { MSSSIM_TOLERANCE, type RowScores } from './scores.js';

const f2 = (v: number) => Number(v.toPrecision(3)).toString();

/**
 * A verdict in words for each model row, derived from the numbers only:
 * how close to real (FD against the real-vs-real floor, precision), how
 * diverse (MS-SSIM against real images', recall), collapse, copying.
 */
export function verdicts(rows: RowScores[], space: string): Array<{ name: string; text: string }> {
  const real = rows.find((r) => r.kind === 'real');
  const models = rows.filter((r) => r.kind === 'model');
  if (!real || !models.length) return [];
  const fd = (r: RowScores) => r.spaces[space]!.fd;
  const closest = models.reduce((a, b) => (fd(b) < fd(a) ? b : a));
  const recall = (r: RowScores) => r.spaces[space]!.recall;
  const mostDiverse = models.find((m) => models.every((o) => o === m || recall(m) > recall(o)));
  const tied = models.every((o) => fd(o) === fd(closest));
  return models.map((m) => {
    const s = m.spaces[space]!;
    const parts: string[] = [];
    const rank = models.length === 1 ? 'the only model' : tied ? 'as close to real as the other models' : m === closest ? 'the closest to real of the models' : `further from real than ${closest.name}`;
    parts.push(`${rank}: ${space} FD ${f2(s.fd)} (real vs real ${f2(fd(real))}), precision ${f2(s.precision)}.`);
    const d = m.msssim - real.msssim;
    if (d > MSSSIM_TOLERANCE) parts.push(`Less diverse than real signatures (MS-SSIM ${f2(m.msssim)} vs ${f2(real.msssim)}).`);
    else if (d < -MSSSIM_TOLERANCE) parts.push(`More varied than real signatures (MS-SSIM ${f2(m.msssim)} vs ${f2(real.msssim)}), often a sign of noise rather than strokes.`);
    else parts.push(`As diverse as real signatures (MS-SSIM ${f2(m.msssim)} vs ${f2(real.msssim)}).`);
    parts.push(`Recall ${f2(s.recall)}${models.length > 1 && m === mostDiverse ? ' (the widest coverage of the models)' : ''}.`);
    if (s.recall < 0.3 && d > MSSSIM_TOLERANCE) parts.push('Signs of mode collapse: few real signatures are covered and the samples resemble each other.');
    const mem = m.memorisation;
    if (mem.copyRate > 0.05) parts.push(`Copies training images: ${Math.round(mem.copyRate * 100)}% of samples are within the copy threshold of one.`);
    else if (mem.ratio < 0.7) parts.push(`Closer to training images than the validation images are (nearest-train ratio ${f2(mem.ratio)}): check the nearest pairs for memorisation.`);
    else parts.push(`No sign of copying (copy rate ${f2(mem.copyRate)}, nearest-train ratio ${f2(mem.ratio)}).`);
    return { name: m.name, text: parts.join(' ') };
  });
}
