import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";

/**
 * A long-running component (etcd, kube-apiserver, ...) whose output goes to a log file.
 * It is started under `setpriv --pdeathsig KILL` so that it dies with the test process
 * even when that process is SIGKILLed and never runs its cleanup.
 */
export class ManagedProcess {
  private child?: ChildProcess;
  private log?: WriteStream;
  private exited?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly binary: string,
    private readonly args: string[],
    private readonly logPath: string,
    private readonly verbose = false,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.log = createWriteStream(this.logPath, { flags: "a" });
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", this.binary, ...this.args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.pipe(this.log, { end: false });
      if (this.verbose) stream?.on("data", (d: Buffer) => process.stderr.write(`[${this.name}] ${d}`));
    }
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /** True while the process has not exited. */
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) {
      this.log?.end();
      return;
    }
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.log?.end();
  }

  /** SIGKILL without grace (used to restart the API server "hard"). */
  async kill(): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }
}
