// What the chaos suites share: a seeded PRNG (so a failing schedule replays) and the operator
// killer, which SIGKILLs and restarts the operator process every 1-3.5 s (seeded) until calmed.
import type { ChildProcess } from "node:child_process";
import type { ControllerName } from "@dataprotection/controllers";
import { testTimeouts } from "../backup/fixtures.ts";
import { killed, startOperatorProcess } from "../backup/fixtures/operator-process.ts";

/** mulberry32: a small seeded PRNG, so a failing schedule can be replayed with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Kills and restarts the operator every 1-3.5 s (seeded) until calmed; counts the kills. */
export class Chaos {
  kills = 0;
  private current?: ChildProcess;
  private running = true;
  private loop?: Promise<void>;

  constructor(
    private readonly kubeconfigPath: string,
    private readonly random: () => number,
    private readonly controllers: ControllerName[] = ["backup", "restorejob"],
  ) {}

  private startOperator(): Promise<ChildProcess> {
    return startOperatorProcess(this.kubeconfigPath, { controllers: this.controllers, timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 60_000 } });
  }

  async start(): Promise<void> {
    this.current = await this.startOperator();
    this.loop = (async () => {
      while (this.running) {
        await new Promise((r) => setTimeout(r, 1000 + this.random() * 2500));
        if (!this.running) break;
        await killed(this.current);
        this.kills++;
        this.current = await this.startOperator();
      }
    })();
  }

  /** Stops killing; leaves one operator running (for clean-up). */
  async calm(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async stop(): Promise<void> {
    await this.calm();
    await killed(this.current);
  }
}
