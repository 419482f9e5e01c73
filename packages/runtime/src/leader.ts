import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "winston";
import type { KubeClient } from "./client.ts";
import { realClock, sleep, type Clock } from "./clock.ts";
import { isAlreadyExists, isConflict, isNotFound } from "./errors.ts";
import { Kinds } from "./kinds.ts";
import type { KubeObject } from "./object.ts";

export interface LeaderElectionOptions {
  leaseName: string;
  namespace: string;
  /** Unique per replica; default hostname_pid_random. */
  identity?: string;
  /** How long a non-renewed lease blocks others (default 15s). */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long (default 10s; < leaseDuration). */
  renewDeadlineMs?: number;
  /** Pause between acquire/renew attempts (default 2s). */
  retryPeriodMs?: number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Called the moment leadership is lost or given up; must stop all work at once. */
  onStoppedLeading(): void;
}

export function defaultIdentity(): string {
  return `${hostname()}_${process.pid}_${randomBytes(3).toString("hex")}`;
}

// MicroTime wants exactly six fractional digits.
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, "000Z");

/**
 * Lease-based election as client-go does it: a lease is expired when this replica
 * has not seen it change for leaseDuration (its own clock, so skew does not matter).
 */
export class LeaderElector {
  readonly identity: string;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private observed?: string;
  private observedAt = 0;
  private leading = false;
  private lastRenew = 0;
  private holder?: string;

  constructor(
    private readonly client: KubeClient,
    private readonly o: LeaderElectionOptions,
    private readonly cb: LeaderCallbacks,
    private readonly clock: Clock = realClock,
    private readonly log?: Logger,
  ) {
    this.identity = o.identity ?? defaultIdentity();
    this.leaseMs = o.leaseDurationMs ?? 15_000;
    this.renewMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    if (this.renewMs >= this.leaseMs) throw new Error("renewDeadlineMs must be shorter than leaseDurationMs");
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns, leads, and campaigns again after a loss, until signal aborts; then releases the lease if held. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!this.leading) {
        if (await this.attempt(signal)) {
          this.leading = true;
          this.lastRenew = this.clock.now();
          this.log?.info("became leader", { lease: this.o.leaseName, identity: this.identity });
          this.cb.onStartedLeading();
        }
        await sleep(this.clock, this.retryMs, signal);
        continue;
      }
      await sleep(this.clock, this.retryMs, signal);
      if (signal.aborted) break;
      // Bounded by the renew deadline: a hung request must not keep a stale leader working.
      const left = this.lastRenew + this.renewMs - this.clock.now();
      const renewed = left > 0 && (await raceTimeout(this.attempt(signal), left, this.clock));
      if (renewed) this.lastRenew = this.clock.now();
      else if (this.clock.now() - this.lastRenew >= this.renewMs || (this.holder !== undefined && this.holder !== this.identity)) {
        this.lose("could not renew the lease");
      }
    }
  }

  /** Gives the lease up so another replica takes over without waiting for it to expire. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.get<Lease>(Kinds.Lease, this.o.leaseName, this.o.namespace);
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = microTime(this.clock.now());
      lease.spec = { leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec.leaseTransitions };
      await this.client.replace(Kinds.Lease, lease);
      this.log?.info("released lease", { lease: this.o.leaseName, identity: this.identity });
    } catch (e) {
      this.log?.warn("could not release lease", { lease: this.o.leaseName, error: String(e) });
    }
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.log?.warn("lost leadership", { lease: this.o.leaseName, identity: this.identity, why });
    this.cb.onStoppedLeading();
  }

  /** One acquire-or-renew; false when someone else holds a live lease or the write lost a race. */
  private async attempt(signal: AbortSignal): Promise<boolean> {
    const now = this.clock.now();
    const base = { leaseDurationSeconds: Math.ceil(this.leaseMs / 1000), renewTime: microTime(now) };
    try {
      let lease: Lease;
      try {
        lease = await this.client.get<Lease>(Kinds.Lease, this.o.leaseName, this.o.namespace);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        const created: Lease = { metadata: { name: this.o.leaseName, namespace: this.o.namespace }, spec: { ...base, holderIdentity: this.identity, acquireTime: microTime(now), leaseTransitions: 0 } };
        await this.client.create(Kinds.Lease, created);
        this.holder = this.identity;
        return true;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseTransitions]);
      if (record !== this.observed) {
        this.observed = record;
        this.observedAt = now;
      }
      this.holder = spec.holderIdentity || undefined;
      const held = !!spec.holderIdentity && spec.holderIdentity !== this.identity;
      const duration = (spec.leaseDurationSeconds ?? 0) * 1000;
      if (held && this.observedAt + duration > now) return false;
      const mine = spec.holderIdentity === this.identity;
      lease.spec = { ...base, holderIdentity: this.identity, acquireTime: mine ? spec.acquireTime : microTime(now), leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1 };
      const saved = await this.client.replace(Kinds.Lease, lease);
      const s = (saved as Lease).spec ?? {};
      this.observed = JSON.stringify([s.holderIdentity, s.renewTime, s.leaseTransitions]);
      this.observedAt = now;
      this.holder = this.identity;
      return true;
    } catch (e) {
      if (!isConflict(e) && !isAlreadyExists(e) && !signal.aborted) this.log?.warn("lease attempt failed", { lease: this.o.leaseName, error: String(e) });
      return false;
    }
  }
}

function raceTimeout(p: Promise<boolean>, ms: number, clock: Clock): Promise<boolean> {
  return new Promise((resolve) => {
    const cancel = clock.setTimeout(() => resolve(false), ms);
    void p.then((v) => {
      cancel();
      resolve(v);
    });
  });
}
