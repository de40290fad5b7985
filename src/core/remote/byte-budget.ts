/**
 * A bound on the bytes held at once: take(n) waits until n more fit, except
 * that one taker always may go alone (a blob larger than the bound still
 * moves, by itself). Takers go in the order they came.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Array<{ n: number; go: () => void }> = [];

  constructor(readonly limit: number) {}

  private fits(n: number): boolean {
    return this.used === 0 || this.used + n <= this.limit;
  }

  take(n: number): Promise<void> {
    if (!this.waiting.length && this.fits(n)) {
      this.used += n;
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ n, go }));
  }

  give(n: number): void {
    this.used -= n;
    while (this.waiting.length && this.fits(this.waiting[0]!.n)) {
      const next = this.waiting.shift()!;
      this.used += next.n;
      next.go();
    }
  }

  /** Runs f with n bytes taken, and gives them back however it ends. */
  async with<T>(n: number, f: () => Promise<T>): Promise<T> {
    await this.take(n);
    try {
      return await f();
    } finally {
      this.give(n);
    }
  }
}
