/** A worker thread that answers its requests one at a time, in order. */
export interface Thread<Q, A> {
  /** Posts a request (handing over the buffers in `transfer`) and resolves with its answer. */
  ask(request: Q, transfer?: ArrayBuffer[]): Promise<A>;
  terminate(): Promise<number>;
}

/**
 * Starts the worker module at `url` with `workerData` and waits for its first
 * message, which says it is ready; a worker that fails while starting rejects.
 */
export async function startThread<Q, A>(url: URL, workerData: unknown): Promise<Thread<Q, A>> {
  const { Worker } = await import('node:worker_threads');
  const w = new Worker(url, { workerData });
  await new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  });
  // One request in flight at a time (callers await each answer): each answer settles the pending request.
  let pending = { resolve: (_: A) => {}, reject: (_: unknown) => {} };
  w.on('message', (a: A) => pending.resolve(a));
  w.on('error', (e) => pending.reject(e));
  return {
    ask: (request, transfer = []) =>
      new Promise<A>((resolve, reject) => {
        pending = { resolve, reject };
        w.postMessage(request, transfer);
      }),
    terminate: () => w.terminate(),
  };
}
