// A few pieces of work at once, each reported in order (pull-log prints a log file's line once it
// and every earlier one are written).
/**
 * Runs `work` over `items`, `width` at a time, calling `done` for each in the items' order as
 * soon as it and every one before it finished. The first failure stops new work and is thrown
 * once the running ones settle.
 */
export async function inOrder<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>, done: (item: T) => void): Promise<void> {
  const finished: boolean[] = [];
  let next = 0;
  let reported = 0;
  let failure: { err: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        await work(items[i]!);
      } catch (err) {
        failure ??= { err };
        return;
      }
      finished[i] = true;
      while (!failure && finished[reported]) done(items[reported++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  if (failure) throw failure.err;
}
