// The part of the kubelet API that `kubectl logs` needs: the API server proxies
// GET /containerLogs/{ns}/{pod}/{container} to the node's daemonEndpoints port.
// Loopback only and unauthenticated: this is a test node.
import { execFile } from "node:child_process";
import { mkdir, open, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { cutLog, findLogFile } from "./logs.ts";

const run = promisify(execFile);

export interface KubeletServerDeps {
  dataDir: string;
  nodeName: string;
  /** Whether the container is running now (a follow stream ends when it stops). */
  running(namespace: string, pod: string, container: string): boolean;
}

async function selfSignedCert(dir: string, cn: string): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
    "-subj", `/CN=${cn}`, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout", join(dir, "kubelet.key"), "-out", join(dir, "kubelet.crt"),
  ]);
  return { cert: await readFile(join(dir, "kubelet.crt"), "utf8"), key: await readFile(join(dir, "kubelet.key"), "utf8") };
}

function intParam(v: string | null): number | undefined {
  if (v === null || v === "") return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

async function follow(res: ServerResponse, file: string, from: number, stillRunning: () => boolean): Promise<void> {
  let pos = from;
  let closed = false;
  res.on("close", () => (closed = true));
  while (!closed) {
    const fh = await open(file, "r").catch(() => undefined);
    if (fh) {
      const { size } = await fh.stat();
      if (size > pos) {
        const buf = Buffer.alloc(size - pos);
        await fh.read(buf, 0, buf.length, pos);
        pos = size;
        res.write(buf);
      }
      await fh.close();
    }
    if (!stillRunning()) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  res.end();
}

async function handle(deps: KubeletServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "https://localhost");
  if (url.pathname === "/healthz") {
    res.end("ok");
    return;
  }
  const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (req.method !== "GET" || !m) {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end(`the local node serves only /containerLogs (no ${url.pathname})`);
    return;
  }
  const [ns, pod, container] = m.slice(1).map(decodeURIComponent);
  const file = await findLogFile(deps.dataDir, ns, pod, container);
  const content = file ? await readFile(file).catch(() => undefined) : undefined;
  if (!file || !content) {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end(`container "${container}" in pod "${ns}/${pod}" has no logs on node ${deps.nodeName}`);
    return;
  }
  res.writeHead(200, { "content-type": "text/plain" });
  const tail = intParam(url.searchParams.get("tailLines"));
  const limit = intParam(url.searchParams.get("limitBytes"));
  res.write(cutLog(content, tail, limit));
  if (url.searchParams.get("follow") === "true" && limit === undefined) {
    await follow(res, file, content.length, () => deps.running(ns, pod, container));
  } else {
    res.end();
  }
}

/** Starts the log server on 127.0.0.1 (random port). */
export async function startKubeletServer(deps: KubeletServerDeps): Promise<{ port: number; close(): Promise<void> }> {
  const tls = await selfSignedCert(join(deps.dataDir, "kubelet"), deps.nodeName);
  const server: Server = createServer(tls, (req, res) => {
    handle(deps, req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
