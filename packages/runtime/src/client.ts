import https from "node:https";
import http from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import { ApiError } from "./errors.ts";
import { resourcePath, type Kind } from "./kinds.ts";
import type { KubeObject } from "./object.ts";

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  resourceVersion?: string;
  /** Server closes the watch after this long (client-go picks 5-10 minutes). */
  timeoutSeconds?: number;
  /** Abort the watch when no byte (event or bookmark) arrives for this long. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/** The watch went silent longer than idleTimeoutMs. */
export class WatchStalledError extends Error {
  constructor(ms: number) {
    super(`watch received nothing for ${ms}ms`);
    this.name = "WatchStalledError";
  }
}

export type PatchType = "merge" | "json" | "strategic" | "apply";
const patchContentTypes: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Socket inactivity limit; watches pass 0 and use their own idle timer. */
  timeoutMs?: number;
}

/**
 * A small typed client for any kind, over raw HTTPS with the kubeconfig's
 * credentials and one keep-alive agent (client-node makes a new agent per call).
 */
export class KubeClient {
  private agent?: https.Agent | http.Agent;
  private readonly server: URL;

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly requestTimeoutMs = 30_000,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
  }

  get<T extends KubeObject>(kind: Kind, name: string, namespace?: string): Promise<T> {
    return this.request("GET", resourcePath(kind, namespace, name));
  }

  list<T extends KubeObject>(kind: Kind, o: ListOptions = {}): Promise<ObjectList<T>> {
    const { namespace, ...query } = o;
    return this.request("GET", resourcePath(kind, namespace), { query: { ...query } });
  }

  /** Every page of a list, and the resourceVersion to watch from. */
  async listAll<T extends KubeObject>(kind: Kind, o: ListOptions = {}): Promise<ObjectList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.list<T>(kind, { limit: 500, ...o, continue: cont });
      for (const it of page.items) items.push(it);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    return { metadata: { resourceVersion: rv }, items };
  }

  create<T extends KubeObject>(kind: Kind, obj: T): Promise<T> {
    return this.request("POST", resourcePath(kind, obj.metadata.namespace), { body: withType(kind, obj) });
  }

  /** PUT with the object's resourceVersion: 409 Conflict when it changed meanwhile. */
  replace<T extends KubeObject>(kind: Kind, obj: T, subresource?: "status"): Promise<T> {
    const path = resourcePath(kind, obj.metadata.namespace, obj.metadata.name, subresource);
    return this.request("PUT", path, { body: withType(kind, obj) });
  }

  patch<T extends KubeObject>(kind: Kind, name: string, namespace: string | undefined, patch: unknown, o: { type?: PatchType; subresource?: string; fieldManager?: string; force?: boolean } = {}): Promise<T> {
    const type = o.type ?? "merge";
    const path = resourcePath(kind, namespace, name, o.subresource);
    const query = { fieldManager: o.fieldManager, force: o.force };
    return this.request("PATCH", path, { body: patch, contentType: patchContentTypes[type], query });
  }

  delete(kind: Kind, name: string, namespace?: string, o: { propagationPolicy?: "Foreground" | "Background" | "Orphan"; uid?: string } = {}): Promise<unknown> {
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (o.propagationPolicy) body.propagationPolicy = o.propagationPolicy;
    if (o.uid) body.preconditions = { uid: o.uid };
    return this.request("DELETE", resourcePath(kind, namespace, name), { body });
  }

  /**
   * Streams watch events to onEvent until the server ends the watch (resolves) or
   * it fails, stalls or is aborted (rejects; an abort rejects with the signal's reason).
   * A 410 answer, as HTTP code or as an ERROR event, is left to the caller to interpret.
   */
  async watch(kind: Kind, o: WatchOptions, onEvent: (e: WatchEvent) => void): Promise<void> {
    const query = {
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion: o.resourceVersion,
      labelSelector: o.labelSelector,
      timeoutSeconds: o.timeoutSeconds,
    };
    const res = await this.send("GET", resourcePath(kind, o.namespace), { query, signal: o.signal, timeoutMs: 0 });
    if (res.statusCode !== 200) throw await errorFrom(res);
    await new Promise<void>((resolve, reject) => {
      let buf = "";
      let timer: NodeJS.Timeout | undefined;
      const idle = o.idleTimeoutMs;
      const arm = (): void => {
        if (!idle) return;
        clearTimeout(timer);
        timer = setTimeout(() => res.destroy(new WatchStalledError(idle)), idle);
      };
      const finish = (err?: unknown): void => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      arm();
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        arm();
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          try {
            onEvent(JSON.parse(line) as WatchEvent);
          } catch (e) {
            res.destroy(e as Error);
            return;
          }
        }
      });
      res.on("end", () => finish());
      res.on("error", (e) => finish(o.signal?.aborted ? o.signal.reason : e));
      res.on("close", () => finish(res.complete ? undefined : (o.signal?.reason ?? new Error("watch connection closed"))));
    });
  }

  /** One request; JSON in and out; non-2xx answers become ApiError. */
  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, o);
    const text = await readBody(res);
    if ((res.statusCode ?? 0) >= 300) throw parseError(res.statusCode ?? 0, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(method: string, path: string, o: RequestOptions): Promise<http.IncomingMessage> {
    const opts: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const url = new URL(this.server.toString().replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    const isHttps = url.protocol === "https:";
    this.agent ??= isHttps
      ? new https.Agent({ keepAlive: true, maxSockets: 64, ca: opts.ca, cert: opts.cert, key: opts.key, pfx: opts.pfx, passphrase: opts.passphrase, rejectUnauthorized: opts.rejectUnauthorized, servername: opts.servername })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
    const headers: Record<string, string> = { Accept: "application/json" };
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
    let payload: string | undefined;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers["Content-Type"] = o.contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    const mod = isHttps ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, signal: o.signal }, resolve);
      req.on("error", (e) => reject(o.signal?.aborted ? o.signal.reason : e));
      const t = o.timeoutMs ?? this.requestTimeoutMs;
      if (t > 0) req.setTimeout(t, () => req.destroy(new Error(`${method} ${path}: no answer within ${t}ms`)));
      req.end(payload);
    });
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}

function withType<T extends KubeObject>(kind: Kind, obj: T): T {
  return { ...obj, apiVersion: obj.apiVersion ?? (kind.group ? `${kind.group}/${kind.version}` : kind.version), kind: obj.kind ?? kind.kind };
}

function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

async function errorFrom(res: http.IncomingMessage): Promise<ApiError> {
  return parseError(res.statusCode ?? 0, await readBody(res));
}

function parseError(code: number, text: string): ApiError {
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    return new ApiError(code, s.reason ?? "", s.message ?? `HTTP ${code}`, s);
  } catch {
    return new ApiError(code, "", `HTTP ${code}: ${text.slice(0, 200)}`);
  }
}
