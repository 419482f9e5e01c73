// Locks: who is using a repo, how, and until when. Deleting data (prune) needs the repo to
// itself; writing (backup) and reading (restore, check) can share it. A lock is an object
// locks/<32 hex, random>, sealed like a snapshot (seal.ts, the lock id as AAD) so that in an
// encrypted repo only the key can write one, holding canonical JSON
//   {v: 1, kind: "shared" | "exclusive", op, host, pid, created, expires}
// with times in ISO 8601 from the holder's clock. The protocol (README.md, "Deduplicating
// repository": locks, and why no live snapshot names a deleted chunk):
//   - take: write your lock, then list the locks. A shared lock conflicts with a live exclusive
//     one; an exclusive lock with any other live lock. On a conflict remove yours and fail,
//     naming the holder. Both sides list after writing, so of two that race one sees the other.
//   - a lock whose expiry has passed (on the reader's clock) is stale: ignored; an exclusive
//     taker deletes it before it reads anything. A lock that does not open (corrupt, forged, or
//     not this repo's key) blocks, whatever it claims: it is never permission.
//   - hold: the holder rewrites its lock with a later expiry every `refresh` (on a timer, and
//     whenever the operation checks in), and trusts it only while `margin` of its lease is
//     left; a rewrite first checks the lock is still there (a taker may have deleted it as
//     stale), so it never brings back a lock that was broken. Before each step that must not
//     happen without the lock (a snapshot written, an index file or a pack deleted) the holder
//     checks it is still there and good, and stops otherwise.
// The assumption, as for any lease: a holder's pause between its last check and the step it
// guards, plus the clock difference between hosts, stays below `margin`.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { isRepoError } from "@dataprotection/storage";
import { AgentError } from "../errors.ts";
import { canonicalJson } from "../manifest-auth.ts";
import { isLockId, lockAad } from "./format.ts";
import { readAll } from "./read-all.ts";
import type { RepoStore } from "./store.ts";

export type LockKind = "shared" | "exclusive";

export interface LockOptions {
  /** How long a lock is good for after each write, in ms (default 15 min). */
  lease?: number;
  /** How often a holder rewrites its lock, in ms (default 3 min). */
  refresh?: number;
  /** A holder stops trusting its lock this long before it expires, in ms (default 5 min). */
  margin?: number;
  /** The clock, ms since the epoch (default Date.now): tests inject one. */
  now?: () => number;
  /** Recorded in locks for messages (default the host name and process id). */
  host?: string;
  pid?: number;
  /** Also refresh on a timer, not only when the operation checks in (default true). */
  timer?: boolean;
  /**
   * How long `acquire` waits for conflicting locks to go, in ms of real time (default 0: fail at
   * once). A backup that meets a prune, or a prune that meets backups, waits rather than fails.
   */
  wait?: number;
}

export const DEFAULT_LEASE = 15 * 60_000;
export const DEFAULT_REFRESH = 3 * 60_000;
export const DEFAULT_MARGIN = 5 * 60_000;

export interface LockInfo {
  v: 1;
  kind: LockKind;
  /** What holds it: "backup", "prune", "check", "restore". */
  op: string;
  host: string;
  pid: number;
  created: string;
  expires: string;
}

export interface ListedLock {
  id: string;
  key: string;
  /** Undefined when the lock does not open: `problem` says why. */
  info?: LockInfo;
  problem?: string;
}

type LockStore = Pick<RepoStore, "backend" | "layout" | "sealer">;

export function describeLock(l: ListedLock): string {
  if (!l.info) return `an unreadable lock ${l.id} (${l.problem}; if no dp-agent holds it, delete ${l.key} by hand)`;
  const i = l.info;
  return `${i.op} on ${i.host} pid ${i.pid} (${i.kind} lock ${l.id}, taken ${i.created}, lease until ${i.expires})`;
}

export function openLock(sealer: LockStore["sealer"], id: string, sealed: Buffer): LockInfo | undefined {
  const plain = sealer.open(lockAad(id), sealed);
  if (!plain) return undefined;
  let i: LockInfo;
  try {
    i = JSON.parse(plain.toString("utf8")) as LockInfo;
  } catch {
    return undefined;
  }
  const time = (s: unknown): boolean => typeof s === "string" && !Number.isNaN(Date.parse(s));
  const ok =
    i && i.v === 1 && (i.kind === "shared" || i.kind === "exclusive") && typeof i.op === "string" && typeof i.host === "string" &&
    Number.isSafeInteger(i.pid) && time(i.created) && time(i.expires);
  return ok ? i : undefined;
}

export class Locks {
  readonly lease: number;
  readonly refresh: number;
  readonly margin: number;
  readonly now: () => number;
  readonly host: string;
  readonly pid: number;
  readonly timer: boolean;
  readonly wait: number;

  constructor(
    readonly store: LockStore,
    opts: LockOptions = {},
  ) {
    this.lease = opts.lease ?? DEFAULT_LEASE;
    this.refresh = opts.refresh ?? DEFAULT_REFRESH;
    this.margin = opts.margin ?? DEFAULT_MARGIN;
    this.now = opts.now ?? Date.now;
    this.host = opts.host ?? hostname();
    this.pid = opts.pid ?? process.pid;
    this.timer = opts.timer ?? true;
    this.wait = opts.wait ?? 0;
    const ms = (v: number): boolean => Number.isFinite(v) && v >= 0;
    if (!ms(this.lease) || !ms(this.refresh) || !ms(this.margin) || this.refresh <= 0 || this.margin + this.refresh >= this.lease) {
      throw new RangeError(`lock timing ${JSON.stringify({ lease: this.lease, refresh: this.refresh, margin: this.margin })}: need refresh > 0 and margin + refresh < lease`);
    }
  }

  /** Every lock in the repo, opened where it opens. */
  async list(): Promise<ListedLock[]> {
    const { backend, layout, sealer } = this.store;
    const out: ListedLock[] = [];
    for await (const o of backend.list(layout.locks)) {
      const id = layout.nameOf(o.key, isLockId);
      if (!id) continue;
      let sealed: Buffer;
      try {
        sealed = await readAll(await backend.get(o.key));
      } catch (err) {
        if (isRepoError(err, "NotFound")) continue; // released since the listing
        throw err;
      }
      const info = openLock(sealer, id, sealed);
      out.push(info ? { id, key: o.key, info } : { id, key: o.key, problem: sealer.encrypted ? "it does not authenticate with this repository's key" : "it fails its checksum or is not a lock" });
    }
    return out;
  }

  /** A lock whose lease has run out on this clock. */
  stale(l: ListedLock): boolean {
    return l.info !== undefined && this.now() > Date.parse(l.info.expires);
  }

  /** Live locks that conflict with one of `kind` (unreadable ones always do). */
  conflicts(kind: LockKind, locks: readonly ListedLock[]): ListedLock[] {
    return locks.filter((l) => !l.info || (!this.stale(l) && (kind === "exclusive" || l.info.kind === "exclusive")));
  }

  /** Take a lock: write it, then look at the others; fails (its own lock removed) on a conflict. */
  async acquire(kind: LockKind, op: string): Promise<HeldLock> {
    const deadline = Date.now() + this.wait;
    for (let delay = 500; ; delay = Math.min(2 * delay, 10_000)) {
      try {
        return await this.tryAcquire(kind, op, this.wait);
      } catch (err) {
        if (!(err instanceof LockConflict) || Date.now() + delay > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async tryAcquire(kind: LockKind, op: string, waited: number): Promise<HeldLock> {
    const held = new HeldLock(this, kind, op);
    await held.write();
    try {
      const others = (await this.list()).filter((l) => l.id !== held.id);
      const blocking = this.conflicts(kind, others);
      if (blocking.length > 0) {
        const what = kind === "exclusive" ? "needs the repository to itself, but it is in use by" : "cannot run: the repository is locked by";
        throw new LockConflict(`${op} ${what} ${blocking.map(describeLock).join("; ")}${waited > 0 ? ` (waited ${Math.round(waited / 1000)} s for it)` : ""}`);
      }
      if (kind === "exclusive") {
        // Before anything is read: a holder that finds its lock gone stops before its next step.
        for (const l of others.filter((x) => this.stale(x))) {
          await this.store.backend.delete(l.key);
          held.staleRemoved.push(l);
        }
      }
    } catch (err) {
      await held.release();
      throw err;
    }
    held.start();
    return held;
  }
}

/** Another live lock is in the way (acquire may wait for it to go). */
class LockConflict extends AgentError {}

export class HeldLock {
  readonly id = randomBytes(16).toString("hex");
  readonly key: string;
  /** Stale locks this (exclusive) lock's taking deleted. */
  readonly staleRemoved: ListedLock[] = [];
  private readonly created: string;
  private expires = 0;
  private written = 0;
  private lost?: AgentError;
  private released = false;
  private chain: Promise<void> = Promise.resolve();
  private interval?: NodeJS.Timeout;

  constructor(
    private readonly locks: Locks,
    readonly kind: LockKind,
    readonly op: string,
  ) {
    this.key = locks.store.layout.lock(this.id);
    this.created = new Date(locks.now()).toISOString();
  }

  /** Write (or rewrite) the lock with a lease from now. */
  async write(): Promise<void> {
    const { backend, sealer } = this.locks.store;
    const now = this.locks.now();
    const info: LockInfo = { v: 1, kind: this.kind, op: this.op, host: this.locks.host, pid: this.locks.pid, created: this.created, expires: new Date(now + this.locks.lease).toISOString() };
    await backend.put(this.key, sealer.seal(lockAad(this.id), Buffer.from(canonicalJson(info), "utf8")));
    this.expires = now + this.locks.lease;
    this.written = now;
  }

  start(): void {
    if (!this.locks.timer) return;
    this.interval = setInterval(() => void this.refresh().catch(() => undefined), this.locks.refresh);
    this.interval.unref();
  }

  /** Rewrite the lock with a later expiry, if it is still there and still good (else it is lost). */
  refresh(): Promise<void> {
    const next = this.chain.catch(() => undefined).then(() => this.rewrite());
    this.chain = next;
    return next;
  }

  private async rewrite(): Promise<void> {
    if (this.released || this.lost) return;
    if (!this.good()) return;
    if (!(await this.locks.store.backend.stat(this.key))) {
      this.lose(`its lock ${this.id} was removed while it ran (a prune took it for stale: was this process paused longer than the ${this.locks.lease / 1000} s lease?)`);
      return;
    }
    await this.write();
  }

  private good(): boolean {
    if (this.locks.now() + this.locks.margin < this.expires) return true;
    this.lose(`its lock ${this.id} ran out: its lease ended ${new Date(this.expires).toISOString()} (less a ${this.locks.margin / 1000} s margin) without being renewed`);
    return false;
  }

  private lose(why: string): void {
    this.lost ??= new AgentError(`${this.op} stopped: ${why}`);
  }

  /** Throw unless the lock is still good; rewrite it when a refresh is due. Cheap: call often. */
  async ensure(): Promise<void> {
    if (!this.lost && this.locks.now() - this.written >= this.locks.refresh) await this.refresh();
    if (this.lost || !this.good()) throw this.lost!;
  }

  /** Before a step the lock guards: check the lock is there and renew it; throw if it is lost. */
  async confirm(): Promise<void> {
    await this.refresh();
    if (this.lost || !this.good()) throw this.lost!;
  }

  /** After a step the lock guards: is it still there and good? */
  async stillHeld(): Promise<boolean> {
    if (this.lost || !this.good()) return false;
    return (await this.locks.store.backend.stat(this.key)) !== undefined;
  }

  /** Stop refreshing and delete the lock (a failure to delete is left to the lease). */
  async release(): Promise<void> {
    this.released = true;
    if (this.interval) clearInterval(this.interval);
    await this.chain.catch(() => undefined);
    await this.locks.store.backend.delete(this.key).catch(() => undefined);
  }
}
