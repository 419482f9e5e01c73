// A loopback proxy in front of the API server that can hold requests. Clients speak plain
// HTTP to it (so it can read request lines); it speaks TLS with the admin client
// certificate upstream. hold(match) stops forwarding a connection's bytes from the first
// request whose line matches; release() forwards what is held on connections still open
// and drops the bytes of connections the client closed meanwhile: an aborted request never
// reaches the server. Every request line forwarded is logged with its time.
import net from "node:net";
import tls from "node:tls";
import type https from "node:https";
import { KubeConfig } from "@kubernetes/client-node";

export interface HeldRequest {
  line: string;
  heldAt: number;
  /** When the client closed the connection (aborted the request), if it did. */
  closedAt?: number;
}

interface Conn {
  client: net.Socket;
  upstream: tls.TLSSocket;
  held?: Buffer[];
  request?: HeldRequest;
}

const requestLine = /^(GET|POST|PUT|PATCH|DELETE) \S+ HTTP\/1\.1(?=\r\n)/gm;

export class HoldProxy {
  readonly forwarded: Array<{ at: number; line: string }> = [];
  readonly held: HeldRequest[] = [];
  private server = net.createServer((s) => this.accept(s));
  private conns = new Set<Conn>();
  private match?: (line: string) => boolean;
  private tlsOptions: tls.ConnectionOptions = {};
  port = 0;

  constructor(private readonly upstream: { server: string; kubeConfig: KubeConfig }) {}

  async listen(): Promise<void> {
    const o: https.RequestOptions = {};
    await this.upstream.kubeConfig.applyToHTTPSOptions(o);
    const url = new URL(this.upstream.server);
    this.tlsOptions = { host: url.hostname, port: Number(url.port), ca: o.ca, cert: o.cert, key: o.key, servername: net.isIP(url.hostname) ? undefined : url.hostname };
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** A kubeconfig for plain HTTP to this proxy (the proxy authenticates upstream). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "proxy", server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: "proxied" }],
      contexts: [{ name: "proxy", cluster: "proxy", user: "proxied" }],
      currentContext: "proxy",
    });
    return kc;
  }

  /** From now on a request whose line matches is held, with everything after it on its connection. */
  hold(match: (line: string) => boolean): void {
    this.match = match;
  }

  /** Stops holding: held bytes of open connections go on, those of closed ones are dropped. */
  release(): void {
    this.match = undefined;
    for (const c of this.conns) {
      const chunks = c.held;
      c.held = undefined;
      for (const chunk of chunks ?? []) this.forward(c, chunk);
    }
  }

  /** Writes (not GET) forwarded at or after `since` whose line matches. */
  writesSince(since: number, match: (line: string) => boolean = () => true): string[] {
    return this.forwarded.filter((f) => f.at >= since && !f.line.startsWith("GET ") && match(f.line)).map((f) => f.line);
  }

  async close(): Promise<void> {
    for (const c of this.conns) this.drop(c);
    await new Promise((r) => this.server.close(() => r(undefined)));
  }

  private accept(client: net.Socket): void {
    const upstream = tls.connect(this.tlsOptions);
    const c: Conn = { client, upstream };
    this.conns.add(c);
    client.on("data", (chunk: Buffer) => {
      if (!c.held && this.match) {
        const line = chunk.toString("latin1").match(requestLine)?.find((l) => this.match!(l));
        if (line) {
          c.request = { line, heldAt: Date.now() };
          this.held.push(c.request);
          c.held = [];
        }
      }
      if (c.held) c.held.push(chunk);
      else this.forward(c, chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("close", () => {
      if (c.request && c.request.closedAt === undefined) c.request.closedAt = Date.now();
      this.drop(c);
    });
    client.on("error", () => this.drop(c));
    upstream.on("error", () => this.drop(c)).on("close", () => this.drop(c));
  }

  private forward(c: Conn, chunk: Buffer): void {
    const at = Date.now();
    for (const line of chunk.toString("latin1").match(requestLine) ?? []) this.forwarded.push({ at, line });
    c.upstream.write(chunk);
  }

  private drop(c: Conn): void {
    c.held = undefined;
    c.client.destroy();
    c.upstream.destroy();
    this.conns.delete(c);
  }
}
