import { Rng } from '../../core/stage.js';
import type { Tensor } from '../../core/stage.js';
import { imageTensor } from '../data/images.js';

/** Strokes of each digit 0–9 as polylines on a unit box (x right, y down), drawn the way MNIST's are written. */
const DIGITS: Array<Array<Array<[number, number]>>> = [
  [[[0.5, 0], [0.15, 0.2], [0.1, 0.5], [0.2, 0.85], [0.5, 1], [0.8, 0.85], [0.9, 0.5], [0.85, 0.2], [0.5, 0]]],
  [[[0.35, 0.2], [0.55, 0], [0.55, 1]]],
  [[[0.15, 0.25], [0.4, 0], [0.75, 0.05], [0.85, 0.3], [0.15, 1], [0.9, 1]]],
  [[[0.15, 0.1], [0.5, 0], [0.8, 0.2], [0.5, 0.45], [0.85, 0.7], [0.55, 1], [0.15, 0.9]]],
  [[[0.65, 1], [0.65, 0], [0.1, 0.65], [0.9, 0.65]]],
  [[[0.85, 0], [0.25, 0], [0.2, 0.45], [0.6, 0.4], [0.85, 0.65], [0.6, 1], [0.15, 0.9]]],
  [[[0.75, 0], [0.3, 0.35], [0.15, 0.75], [0.45, 1], [0.8, 0.8], [0.7, 0.5], [0.3, 0.55]]],
  [[[0.1, 0], [0.9, 0], [0.4, 1]]],
  [[[0.5, 0.45], [0.2, 0.25], [0.5, 0], [0.8, 0.25], [0.5, 0.45], [0.15, 0.75], [0.5, 1], [0.85, 0.75], [0.5, 0.45]]],
  [[[0.8, 0.4], [0.45, 0.5], [0.2, 0.25], [0.5, 0], [0.8, 0.2], [0.75, 1]]],
];

function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy || 1)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

/**
 * MNIST-like images: one thick-stroked digit, centred, with a little
 * slant, size and stroke jitter, in the data's polarity. A set that is
 * clearly not signatures, for the sanity rows of evaluate.
 */
export function digitImages(n: number, size: number, polarity: 'ink-one' | 'ink-dark', seed: string): Tensor {
  const data = new Float32Array(n * size * size);
  const r = new Rng(`digits:${seed}`);
  for (let k = 0; k < n; k++) {
    const strokes = DIGITS[r.int(10)]!;
    const box = size * r.uniform(0.5, 0.65);
    const slant = r.uniform(-0.25, 0.25);
    const pen = size * r.uniform(0.05, 0.08);
    const x0 = (size - box * 0.8) / 2;
    const y0 = (size - box) / 2;
    const pts = strokes.map((line) => line.map(([x, y]) => [x0 + (x + slant * (0.5 - y)) * box * 0.8, y0 + y * box] as const));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let d = Infinity;
        for (const line of pts) for (let i = 1; i < line.length; i++) d = Math.min(d, segmentDistance(x + 0.5, y + 0.5, ...line[i - 1]!, ...line[i]!));
        const ink = Math.max(0, Math.min(1, pen / 2 + 0.5 - d));
        data[k * size * size + y * size + x] = polarity === 'ink-one' ? ink : 1 - ink;
      }
    }
  }
  return imageTensor(data, n, size);
}

/** Paper only: no ink anywhere. */
export function blankImages(n: number, size: number, polarity: 'ink-one' | 'ink-dark'): Tensor {
  return imageTensor(new Float32Array(n * size * size).fill(polarity === 'ink-one' ? 0 : 1), n, size);
}
