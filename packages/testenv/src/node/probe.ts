// Readiness, liveness and startup probes (exec, tcpSocket, httpGet) for one container.
import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { V1Container, V1Probe } from "@kubernetes/client-node";
import { buildEnterScript, type LaunchPlan } from "./launch.ts";
import { killGroup, type ProcessTable } from "./processes.ts";

/** Pure: consecutive-result counting as kubelet's prober does. */
export class ProbeCounter {
  private successes = 0;
  private failures = 0;
  result: boolean;

  constructor(private readonly probe: V1Probe, initial: boolean) {
    this.result = initial;
  }

  /** Records one outcome; returns true when the probe's result flipped. */
  record(ok: boolean): boolean {
    if (ok) {
      this.successes++;
      this.failures = 0;
      if (!this.result && this.successes >= (this.probe.successThreshold ?? 1)) return this.flip(true);
    } else {
      this.failures++;
      this.successes = 0;
      if (this.result && this.failures >= (this.probe.failureThreshold ?? 3)) return this.flip(false);
    }
    return false;
  }

  private flip(v: boolean): boolean {
    this.result = v;
    return true;
  }
}

function portOf(port: number | string | undefined, c: V1Container): number {
  if (typeof port === "number") return port;
  const named = c.ports?.find((p) => p.name === port);
  return named?.containerPort ?? Number(port);
}

/** Runs one probe attempt; every probe targets 127.0.0.1 (the pod IP here). */
export async function runProbe(
  probe: V1Probe, c: V1Container, pid: number, plan: LaunchPlan, env: Record<string, string>, procs: ProcessTable,
): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec?.command?.length) {
    // Inside the container's mount namespace and root, as its user.
    const script = buildEnterScript({ ...plan, command: probe.exec.command });
    const t = procs.spawn("nsenter", ["-t", String(pid), "-m", ...(plan.root ? ["-r"] : []), "--", "sh", "-c", script, "sh", ...probe.exec.command], { env, stdio: "ignore" });
    const timer = setTimeout(() => void killGroup(t, 0), timeoutMs);
    const exit = await t.exited;
    clearTimeout(timer);
    return exit.code === 0;
  }
  if (probe.tcpSocket) {
    const port = portOf(probe.tcpSocket.port, c);
    return new Promise((resolve) => {
      const s = connect({ host: "127.0.0.1", port, timeout: timeoutMs });
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("timeout", () => { s.destroy(); resolve(false); });
      s.once("error", () => resolve(false));
    });
  }
  if (probe.httpGet) {
    const g = probe.httpGet;
    const port = portOf(g.port, c);
    const req = g.scheme === "HTTPS" ? httpsRequest : request;
    return new Promise((resolve) => {
      const r = req({
        host: "127.0.0.1", port, path: g.path ?? "/", method: "GET", timeout: timeoutMs, rejectUnauthorized: false,
        headers: Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value])),
      }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      r.once("timeout", () => { r.destroy(); resolve(false); });
      r.once("error", () => resolve(false));
      r.end();
    });
  }
  return true; // grpc and empty probes are treated as passing
}
