// Following a Backup or RestoreJob to its end: polls the object and hands each read to onPoll.
import { NotFoundError, TimeoutError, UsageError } from "./exit.ts";
import { type KubeClient, type Kind, isNotFound, realClock, sleep } from "@dataprotection/runtime";

export interface Phased {
  metadata?: { name?: string };
  status?: { phase?: string; failureReason?: string };
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
  /** Called with the object at every poll (the last call sees it in its final phase). */
  onPoll: (obj: Phased) => void;
}

/**
 * Resolves with the object in its final phase; rejects with TimeoutError after timeoutMs
 * and with NotFoundError when it is deleted.
 */
export async function waitForEnd<T extends Phased>(client: KubeClient, kind: Kind, name: string, namespace: string, done: readonly string[], o: WaitOptions): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    let obj: T;
    try {
      obj = await client.get<T & { metadata: { name: string } }>(kind, name, namespace);
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`${kind.kind} ${namespace}/${name} was deleted while waiting for it`);
      throw err;
    }
    o.onPoll(obj);
    const phase = obj.status?.phase ?? "";
    if (done.includes(phase)) return obj;
    if (Date.now() >= deadline) throw new TimeoutError(`timed out after ${Math.round(o.timeoutMs / 1000)}s waiting for ${kind.kind} ${namespace}/${name} (phase ${phase || "not set yet"})`);
    await sleep(realClock, o.pollMs ?? 1000);
  }
}

/** "30m", "90s", "2h", "1h30m" or plain seconds -> milliseconds. */
export function parseDuration(s: string): number {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const re = /(\d+)(h|m|s)/g;
  let total = 0;
  let used = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000 }[m[2] as "h" | "m" | "s"];
    used += m[0].length;
  }
  if (used !== s.length || used === 0) throw new UsageError(`"${s}" is not a duration such as 30m, 90s or 1h30m`);
  return total;
}
