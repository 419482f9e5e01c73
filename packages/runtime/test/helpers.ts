import net from "node:net";
import { PassThrough } from "node:stream";
import { randomBytes } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import { createLogger, Kinds, KubeClient, type Logger } from "../src/index.ts";

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A fresh namespace per test; remove() deletes it. */
export async function testNamespace(client: KubeClient, prefix: string): Promise<{ name: string; remove(): Promise<void> }> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await client.create(Kinds.Namespace, { metadata: { name } });
  return { name, remove: async () => void (await client.delete(Kinds.Namespace, name).catch(() => undefined)) };
}

/** A logger writing JSON lines into memory, for asserting on logs. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const stream = new PassThrough();
  const lines: string[] = [];
  let buf = "";
  stream.on("data", (c: Buffer) => {
    buf += c.toString("utf8");
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  return { logger: createLogger({ stream, level: "debug" }), lines };
}

export async function metricSum(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)).reduce((s, v) => s + v.value, 0);
}

/** Runs fn until it succeeds; for writes that race an API server restart. */
export async function retrying<T>(fn: () => Promise<T>, attempts = 200): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * A TCP proxy in front of the API server: cut() drops every connection and
 * refuses new ones, so a client is disconnected while the server stays up.
 */
export class TcpProxy {
  private server = net.createServer((s) => this.accept(s));
  private sockets = new Set<net.Socket>();
  private pairs: Array<[net.Socket, net.Socket]> = [];
  private open = true;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  cut(): void {
    this.open = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.open = true;
  }

  /** Existing connections stop carrying bytes but stay open (a half-dead path); new ones work. */
  freeze(): void {
    for (const [a, b] of this.pairs) {
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
    this.pairs = [];
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(() => r(undefined)));
  }

  /** A copy of kc whose server goes through this proxy. */
  kubeConfigFor(kc: KubeConfig): KubeConfig {
    const out = new KubeConfig();
    out.loadFromString(kc.exportConfig());
    const cluster = out.getCurrentCluster()!;
    const url = new URL(cluster.server);
    url.port = String(this.port);
    out.clusters = out.clusters.map((c) => (c.name === cluster.name ? { ...c, server: url.toString().replace(/\/$/, "") } : c));
    return out;
  }

  private accept(client: net.Socket): void {
    if (!this.open) return void client.destroy();
    const upstream = net.connect(this.target.port, this.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
    this.pairs.push([client, upstream]);
  }
}
