/**
 * One signal that aborts when any of the given ones does (with that one's reason).
 * dispose() unhooks it from the inputs: unlike AbortSignal.any, a short-lived link on a
 * long-lived signal (a request on a reconcile's signal) leaves nothing behind.
 */
export function linkSignals(...inputs: Array<AbortSignal | undefined>): { signal?: AbortSignal; dispose(): void } {
  const signals = [...new Set(inputs.filter((s): s is AbortSignal => s !== undefined))];
  if (signals.length <= 1) return { signal: signals[0], dispose: () => {} };
  const ac = new AbortController();
  const hooks: Array<() => void> = [];
  const dispose = (): void => {
    for (const h of hooks.splice(0)) h();
  };
  for (const s of signals) {
    if (s.aborted) {
      ac.abort(s.reason);
      break;
    }
    const onAbort = (): void => {
      ac.abort(s.reason);
      dispose();
    };
    s.addEventListener("abort", onAbort, { once: true });
    hooks.push(() => s.removeEventListener("abort", onAbort));
  }
  if (ac.signal.aborted) dispose();
  return { signal: ac.signal, dispose };
}
