/**
 * Yields `items` in order, each with the result of `work` on it, started up to `depth` working
 * items ahead (items without work ride along): reads of the next chunks overlap the consumer.
 */
export async function* ahead<T, R>(items: AsyncIterable<T>, work: (item: T) => Promise<R> | undefined, depth: number): AsyncGenerator<{ item: T; result?: R }> {
  const it = items[Symbol.asyncIterator]();
  const queue: { item: T; p?: Promise<R> }[] = [];
  let working = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && working < depth && queue.length < 64 * depth) {
        const next = await it.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const p = work(next.value);
        if (p) {
          working++;
          p.catch(() => undefined); // awaited below, in order
        }
        queue.push({ item: next.value, p });
      }
      const head = queue.shift();
      if (!head) return;
      if (!head.p) {
        yield { item: head.item };
        continue;
      }
      const result = await head.p;
      working--;
      yield { item: head.item, result };
    }
  } finally {
    if (!exhausted) await it.return?.(undefined);
    await Promise.allSettled(queue.map((q) => q.p));
  }
}
