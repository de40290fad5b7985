/** The indices of the `k` highest values, in index order; among equal values the earlier index wins. */
export function highest(values: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}
