// One pod on the node: volumes, init containers in order, then the containers under the
// restart policy; status written after every change; graceful termination on deletion.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { V1Container, V1ObjectReference, V1Pod, V1Probe } from "@kubernetes/client-node";
import type { NodeContext } from "./context.ts";
import {
  ContainerCannotRun, ContainerConfigError, discardLayer, prepareContainer, startContainer, terminationMessage, type PreparedContainer,
} from "./container.ts";
import { errorMessage, isConflict, isNotFound } from "./errors.ts";
import { adoptAfterNodeRestart, buildPodStatus, podPhase, restartPolicyOf, terminatedReason, type ContainerRuntime, type PodRuntime } from "./pod-status.ts";
import { ProbeCounter, runProbe } from "./probe.ts";
import { killGroup, reapGroup, type Tracked } from "./processes.ts";
import { setupVolumes, VolumeNotReady } from "./volumes.ts";

/** Restart backoff: kubelet doubles from 10s up to 5m; tests want it faster. */
export function restartDelayMs(restarts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, restarts - 1), 20_000);
}

/** Signal number -> exit code as a shell reports it (128 + n). */
function signalExitCode(signal: NodeJS.Signals | null): number | undefined {
  const nums: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11, SIGPIPE: 13 };
  return signal ? nums[signal] ?? 1 : undefined;
}

export class PodWorker {
  readonly dir: string;
  private pod: V1Pod;
  private readonly rt: PodRuntime;
  private readonly running = new Map<string, Tracked>();
  private stopping = false;
  private readonly wakers = new Set<() => void>();
  private lastWritten = "";
  private writeFailed = false;
  private writing: Promise<void> = Promise.resolve();
  private readonly warned = new Set<string>();
  private terminating: Promise<void> | undefined;
  done: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: NodeContext, pod: V1Pod) {
    this.pod = pod;
    const md = pod.metadata!;
    this.dir = join(ctx.dataDir, "pods", `${md.namespace}_${md.name}_${md.uid}`);
    const waiting = (c: V1Container): ContainerRuntime => ({
      name: c.name, image: c.image ?? "", restartCount: 0, ready: false,
      state: { kind: "waiting", reason: pod.spec?.initContainers?.length ? "PodInitializing" : "ContainerCreating" },
    });
    this.rt = {
      startTime: new Date(),
      sandboxReady: false,
      initContainers: (pod.spec?.initContainers ?? []).map(waiting),
      containers: (pod.spec?.containers ?? []).map(waiting),
    };
  }

  get uid(): string {
    return this.pod.metadata!.uid!;
  }

  /** Newer pod object from the API (resourceVersion for status writes). */
  update(pod: V1Pod): void {
    this.pod = pod;
    // A status write lost to an API outage is retried on the next sync.
    if (this.writeFailed) this.changed();
  }

  /** Whether the named container has a process now. */
  isRunning(container: string): boolean {
    return this.running.has(container);
  }

  get namespace(): string {
    return this.pod.metadata!.namespace!;
  }

  get name(): string {
    return this.pod.metadata!.name!;
  }

  pids(): number[] {
    return [...this.running.values()].map((t) => t.pid);
  }

  start(): void {
    this.done = this.run().catch((err) => this.ctx.log(`pod ${this.key()}: ${errorMessage(err)}`));
  }

  /** SIGTERM every container, SIGKILL after the grace period; idempotent. */
  terminate(graceSeconds: number): Promise<void> {
    if (!this.terminating) {
      this.stopping = true;
      for (const w of this.wakers) w();
      if (this.running.size > 0) void this.warn("Normal", "Killing", `Stopping containers (grace period ${graceSeconds}s)`);
      this.terminating = Promise.all([...this.running.values()].map((t) => killGroup(t, graceSeconds * 1000)))
        .then(() => this.done)
        .then(() => this.flush());
    }
    return this.terminating;
  }

  private key(): string {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  private ref(): V1ObjectReference {
    const md = this.pod.metadata!;
    return { kind: "Pod", apiVersion: "v1", namespace: md.namespace, name: md.name, uid: md.uid };
  }

  private async warn(type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const k = `${reason}:${message}`;
    if (this.warned.has(k) || this.ctx.dead) return;
    this.warned.add(k);
    await this.ctx.events.record(this.ref(), type, reason, message);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private async run(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // A pod this node ran before it was restarted: its processes are gone (pod-status.ts).
    if (adoptAfterNodeRestart(this.pod, this.rt, new Date())) {
      void this.warn("Warning", "ContainerStatusUnknown", "the node restarted and its containers are gone; restartPolicy Never: the pod fails");
      this.changed();
      return this.flush();
    }
    this.changed();
    const volumes = await this.setupVolumesUntilReady();
    if (!volumes) return;
    for (let i = 0; i < this.rt.initContainers.length; i++) {
      const ok = await this.runInit(this.pod.spec!.initContainers![i], this.rt.initContainers[i], volumes);
      if (!ok) return this.flush();
    }
    for (const c of this.rt.containers) c.state = { kind: "waiting", reason: "ContainerCreating" };
    this.changed();
    await Promise.all(this.pod.spec!.containers.map((c, i) => this.runMain(c, this.rt.containers[i], volumes)));
    await this.flush();
  }

  private async setupVolumesUntilReady(): Promise<Map<string, string> | undefined> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        const setup = await setupVolumes({ core: this.ctx.core, pod: this.pod, podDir: this.dir, facts: this.ctx.facts, caPem: this.ctx.caPem });
        this.rt.sandboxReady = true;
        if (setup.refreshAt) this.scheduleRefresh(setup.refreshAt);
        return setup.paths;
      } catch (err) {
        const message = errorMessage(err);
        if (!(err instanceof VolumeNotReady)) this.ctx.log(`pod ${this.key()}: volume setup: ${message}`);
        // Wait quietly a moment (a PVC is often bound within a second), then say why.
        if (attempt >= 2) {
          void this.warn("Warning", "FailedMount", message);
          for (const c of [...this.rt.initContainers, ...this.rt.containers]) {
            c.state = { kind: "waiting", reason: "ContainerCreating", message };
          }
          this.changed();
        }
        await this.sleep(Math.min(500 * 2 ** attempt, 5000));
      }
    }
    return undefined;
  }

  /** Rewrites projected tokens (and secrets/configMaps) before the token expires. */
  private scheduleRefresh(at: Date): void {
    const t = setTimeout(() => {
      if (this.stopping) return;
      setupVolumes({ core: this.ctx.core, pod: this.pod, podDir: this.dir, facts: this.ctx.facts, caPem: this.ctx.caPem })
        .then((s) => s.refreshAt && this.scheduleRefresh(s.refreshAt))
        .catch((err) => {
          this.ctx.log(`pod ${this.key()}: volume refresh: ${errorMessage(err)}`);
          this.scheduleRefresh(new Date(Date.now() + 10_000));
        });
    }, Math.max(1000, at.getTime() - Date.now()));
    t.unref();
  }

  /** Prepares the container, retrying config errors; undefined when stopping or when it can never run. */
  private async prepare(c: V1Container, st: ContainerRuntime, volumes: Map<string, string>): Promise<PreparedContainer | "cannot-run" | undefined> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        return await prepareContainer(this.ctx, this.pod, c, this.dir, volumes);
      } catch (err) {
        const message = errorMessage(err);
        if (err instanceof ContainerCannotRun) {
          const now = new Date();
          st.lastState = undefined;
          st.state = { kind: "terminated", exitCode: 128, reason: "ContainerCannotRun", message, startedAt: now, finishedAt: now };
          void this.warn("Warning", "Failed", message);
          this.changed();
          return "cannot-run";
        }
        const reason = err instanceof ContainerConfigError ? "CreateContainerConfigError" : "CreateContainerError";
        st.state = { kind: "waiting", reason, message };
        void this.warn("Warning", "Failed", `Error: ${message}`);
        this.changed();
        await this.sleep(Math.min(1000 * 2 ** attempt, 10_000));
      }
    }
    return undefined;
  }

  /** Runs one instance of the container to its end; returns its exit code, or undefined if it did not start. */
  private async runOnce(c: V1Container, st: ContainerRuntime, volumes: Map<string, string>): Promise<number | undefined> {
    const p = await this.prepare(c, st, volumes);
    if (p === "cannot-run") return 128;
    if (!p || this.stopping) return undefined;
    const proc = await startContainer(this.ctx, p);
    const startedAt = new Date();
    this.running.set(c.name, proc);
    // terminate() may have run while the process was being spawned.
    if (this.stopping) void killGroup(proc, 0);
    st.state = { kind: "running", startedAt, pid: proc.pid };
    st.ready = !c.readinessProbe && !c.startupProbe;
    this.changed();
    const probes = this.startProbes(c, st, proc, p);
    const exit = await proc.exited;
    // A background child of the container (a shell's `cmd &`) must not outlive it and hold what the restarted container needs.
    reapGroup(proc);
    await discardLayer(p).catch((err) => this.ctx.log(`pod ${this.key()}: discarding ${c.name}'s layer: ${errorMessage(err)}`));
    probes.stop();
    this.running.delete(c.name);
    const sig = signalExitCode(exit.signal);
    const exitCode = exit.code ?? (sig !== undefined ? 128 + sig : 1);
    st.ready = false;
    st.state = {
      kind: "terminated", exitCode, signal: sig, reason: terminatedReason(exitCode),
      message: await terminationMessage(p, c, exitCode), startedAt, finishedAt: new Date(), pid: proc.pid,
    };
    this.changed();
    return exitCode;
  }

  /** Startup probe first; then readiness (sets ready) and liveness (kills on failure). */
  private startProbes(c: V1Container, st: ContainerRuntime, proc: Tracked, p: PreparedContainer): { stop(): void } {
    let stopped = false;
    const timers = new Set<NodeJS.Timeout>();
    const later = (fn: () => void, seconds: number) => {
      const t = setTimeout(() => { timers.delete(t); fn(); }, seconds * 1000);
      timers.add(t);
    };
    const loop = (probe: V1Probe, counter: ProbeCounter, onFlip: (ok: boolean) => void, once = false) => {
      const tick = async () => {
        if (stopped || this.stopping) return;
        const ok = await runProbe(probe, c, proc.pid, p.plan, p.env, this.ctx.procs).catch(() => false);
        if (stopped) return;
        if (counter.record(ok)) onFlip(counter.result);
        if (!(once && counter.result)) later(() => void tick(), probe.periodSeconds ?? 10);
      };
      later(() => void tick(), probe.initialDelaySeconds ?? 0);
    };
    const kill = (what: string) => {
      void this.warn("Warning", "Unhealthy", `${what} probe failed for container ${c.name}; restarting it`);
      void killGroup(proc, (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
    };
    const steady = () => {
      if (c.readinessProbe) {
        loop(c.readinessProbe, new ProbeCounter(c.readinessProbe, false), (ok) => {
          st.ready = ok;
          this.changed();
        });
      } else if (!st.ready) {
        st.ready = true;
        this.changed();
      }
      if (c.livenessProbe) loop(c.livenessProbe, new ProbeCounter(c.livenessProbe, true), (ok) => !ok && kill("Liveness"));
    };
    if (c.startupProbe) {
      const startup = c.startupProbe;
      const counter = new ProbeCounter(startup, false);
      let failures = 0;
      loop(startup, counter, () => steady(), true);
      // A startup probe that never passes kills the container after failureThreshold tries.
      const watchdog = () => {
        if (stopped || counter.result) return;
        if (++failures > (startup.failureThreshold ?? 3)) kill("Startup");
        else later(watchdog, startup.periodSeconds ?? 10);
      };
      later(watchdog, (startup.initialDelaySeconds ?? 0) + (startup.periodSeconds ?? 10));
    } else {
      steady();
    }
    return {
      stop: () => {
        stopped = true;
        for (const t of timers) clearTimeout(t);
      },
    };
  }

  private async runInit(c: V1Container, st: ContainerRuntime, volumes: Map<string, string>): Promise<boolean> {
    const policy = restartPolicyOf(this.pod);
    while (!this.stopping) {
      const code = await this.runOnce(c, st, volumes);
      if (code === undefined) return false;
      if (code === 0) return true;
      if (policy === "Never") return false;
      await this.backoff(st);
    }
    return false;
  }

  private async runMain(c: V1Container, st: ContainerRuntime, volumes: Map<string, string>): Promise<void> {
    const policy = restartPolicyOf(this.pod);
    while (!this.stopping) {
      const code = await this.runOnce(c, st, volumes);
      if (code === undefined) return;
      const restart = policy === "Always" || (policy === "OnFailure" && code !== 0);
      if (!restart || this.stopping) return;
      await this.backoff(st);
    }
  }

  private async backoff(st: ContainerRuntime): Promise<void> {
    st.lastState = st.state;
    st.restartCount++;
    st.state = { kind: "waiting", reason: "CrashLoopBackOff", message: `back-off restarting failed container ${st.name}` };
    this.changed();
    await this.sleep(restartDelayMs(st.restartCount));
  }

  /** Phase as the node currently sees it. */
  phase(): string {
    return podPhase(restartPolicyOf(this.pod), this.rt);
  }

  private changed(): void {
    this.writing = this.writing.then(() => this.writeStatus()).then(() => {
      this.writeFailed = false;
    }, (err) => {
      this.writeFailed = true;
      this.ctx.log(`pod ${this.key()}: status: ${errorMessage(err)}`);
    });
  }

  private async flush(): Promise<void> {
    this.changed();
    await this.writing;
  }

  private async writeStatus(): Promise<void> {
    // A node that died writes nothing more: what its pods did last is what the API keeps.
    if (this.ctx.dead) return;
    for (let attempt = 0; attempt < 5; attempt++) {
      const status = buildPodStatus(this.pod, this.rt, this.ctx.facts.ip, new Date());
      const json = JSON.stringify(status);
      if (json === this.lastWritten) return;
      const md = this.pod.metadata!;
      try {
        this.pod = await this.ctx.core.replaceNamespacedPodStatus({ name: md.name!, namespace: md.namespace!, body: { ...this.pod, status } });
        this.lastWritten = json;
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err)) throw err;
        const fresh = await this.ctx.core.readNamespacedPod({ name: md.name!, namespace: md.namespace! }).catch(() => undefined);
        if (!fresh || fresh.metadata?.uid !== md.uid) return;
        this.pod = fresh;
      }
    }
  }
}
