// Toxiproxy (github.com/Shopify/toxiproxy, built by `npm run setup` into $DP_CACHE/bin): a real
// TCP proxy that injects faults between a client and a server on loopback. A test starts one
// server, puts a proxy in front of its S3 (or any) endpoint, and adds and removes toxics
// (latency, bandwidth, reset_peer, timeout, slicer, limit_data) through its HTTP API.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { freePort } from "./controlplane/ports.ts";

export function toxiproxyBinary(): string {
  const bin = join(process.env.DP_CACHE || join(homedir(), ".cache", "dataprotection"), "bin", "toxiproxy-server");
  if (!existsSync(bin)) throw new Error(`toxiproxy-server missing at ${bin}: build it with \`npm run setup\``);
  return bin;
}

export interface Toxic {
  name: string;
  type: "latency" | "bandwidth" | "slow_close" | "timeout" | "reset_peer" | "slicer" | "limit_data";
  /** upstream: client -> server (uploads); downstream: server -> client (downloads). */
  stream: "upstream" | "downstream";
  toxicity?: number;
  attributes: Record<string, number>;
}

export interface ToxiProxy {
  /** Where clients connect: http://127.0.0.1:<port>. */
  endpoint: string;
  add(t: Toxic): Promise<void>;
  remove(name: string): Promise<void>;
  /** Removes every toxic. */
  clear(): Promise<void>;
}

export interface ToxiproxyServer {
  proxy(name: string, upstream: string): Promise<ToxiProxy>;
  stop(): Promise<void>;
}

export async function startToxiproxy(): Promise<ToxiproxyServer> {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  let log = "";
  const child: ChildProcess = spawn(toxiproxyBinary(), ["-host", "127.0.0.1", "-port", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const r = await fetch(`${api}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`toxiproxy ${method} ${path}: HTTP ${r.status} ${await r.text()}`);
    return r;
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`toxiproxy-server exited at start:\n${log}`);
    if (await fetch(`${api}/version`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`toxiproxy-server did not answer on ${api} within 15 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    async proxy(name, upstream) {
      const listen = await freePort();
      const u = new URL(upstream);
      await call("POST", "/proxies", { name, listen: `127.0.0.1:${listen}`, upstream: `${u.hostname}:${u.port}`, enabled: true });
      const toxics = async () => (await (await call("GET", `/proxies/${name}/toxics`)).json()) as Array<{ name: string }>;
      return {
        endpoint: `http://127.0.0.1:${listen}`,
        add: async (t) => void (await call("POST", `/proxies/${name}/toxics`, { toxicity: 1, ...t })),
        remove: async (t) => void (await call("DELETE", `/proxies/${name}/toxics/${t}`)),
        clear: async () => {
          for (const t of await toxics()) await call("DELETE", `/proxies/${name}/toxics/${t.name}`);
        },
      };
    },
    stop,
  };
}
