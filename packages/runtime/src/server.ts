import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthChecks {
  /** Process is alive and not wedged. */
  healthy(): boolean;
  /** Caches synced; standby replicas are ready too. */
  ready(): boolean;
}

/** /metrics, /healthz and /readyz on one port. */
export class HealthServer {
  private server?: http.Server;

  constructor(
    private readonly registry: Registry,
    private readonly checks: HealthChecks,
  ) {}

  async listen(port: number, host: string): Promise<number> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    try {
      if (path === "/metrics") {
        const body = await this.registry.metrics();
        res.writeHead(200, { "Content-Type": this.registry.contentType }).end(body);
      } else if (path === "/healthz" || path === "/livez") {
        const ok = this.checks.healthy();
        res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain" }).end(ok ? "ok" : "unhealthy");
      } else if (path === "/readyz") {
        const ok = this.checks.ready();
        res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain" }).end(ok ? "ok" : "not ready");
      } else {
        res.writeHead(404).end();
      }
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  }
}
