import https from "node:https";
import http from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import { ApiError, isNotFound } from "./errors.ts";
import { resourcePath, type Kind } from "./kinds.ts";
import type { KubeObject } from "./object.ts";
import { linkSignals } from "./signals.ts";

/** What every request method takes besides its own options. */
export interface CallOptions {
  /** Aborting it ends the request at once (its socket is destroyed) and the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
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

export interface WatchOptions extends CallOptions {
  namespace?: string;
  labelSelector?: string;
  resourceVersion?: string;
  /** Server closes the watch after this long (client-go picks 5-10 minutes). */
  timeoutSeconds?: number;
  /** Abort the watch when no byte (event or bookmark) arrives for this long. */
  idleTimeoutMs?: number;
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

export interface PatchOptions extends CallOptions {
  type?: PatchType;
  subresource?: string;
  fieldManager?: string;
  force?: boolean;
}

export interface DeleteOptions extends CallOptions {
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  uid?: string;
}

interface RequestOptions extends CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Socket inactivity limit; watches pass 0 and use their own idle timer. */
  timeoutMs?: number;
}

/** How long the kubeconfig's credentials are reused before they are loaded again. */
const CREDENTIALS_TTL_MS = 1_000;

/**
 * A small typed client for any kind, over raw HTTPS with the kubeconfig's
 * credentials and one keep-alive agent (client-node makes a new agent per call).
 * Every call takes an AbortSignal; withSignal() gives a view bound to one.
 */
export class KubeClient {
  /**
   * Shared by reference with every view, so views use the same keep-alive sockets. `creds`: the
   * kubeconfig's request options, loaded at most once per CREDENTIALS_TTL_MS (client-node
   * rebuilds them from the kubeconfig, files or exec plugin included, on every call).
   */
  private readonly pool: { agent?: https.Agent | http.Agent; creds?: { at: number; opts: Promise<https.RequestOptions> } } = {};
  private readonly server: URL;
  /** Set on a view (withSignal): every request through it also ends when this aborts. */
  private bound?: AbortSignal;

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly requestTimeoutMs = 30_000,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
  }

  /**
   * A view of this client on the same connections whose every request and watch is also
   * aborted by signal. The manager hands each reconcile one as ctx.client, so a reconciler's
   * requests (and helpers it passes the client to) end with its reconcile.
   */
  withSignal(signal: AbortSignal): KubeClient {
    // The view reaches everything else through its prototype (so: no #private fields here).
    const view = Object.create(this) as KubeClient;
    // A view of a view lives as long as its reconcile: the link need not be unhooked.
    view.bound = linkSignals(this.bound, signal).signal;
    return view;
  }

  /** The signal this view is bound to (undefined for the root client). */
  get signal(): AbortSignal | undefined {
    return this.bound;
  }

  get<T extends KubeObject>(kind: Kind, name: string, namespace?: string, o: CallOptions = {}): Promise<T> {
    return this.request("GET", resourcePath(kind, namespace, name), { signal: o.signal });
  }

  list<T extends KubeObject>(kind: Kind, o: ListOptions = {}): Promise<ObjectList<T>> {
    const { namespace, signal, ...query } = o;
    return this.request("GET", resourcePath(kind, namespace), { query: { ...query }, signal });
  }

  /**
   * Every page of a list, and the resourceVersion to watch from. `each` sees every item as its
   * page arrives, before the next page is read: what it drops from an item (the informer strips
   * managedFields) is never held for the whole list.
   */
  async listAll<T extends KubeObject>(kind: Kind, o: ListOptions = {}, each?: (item: T) => void): Promise<ObjectList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.list<T>(kind, { limit: 500, ...o, continue: cont });
      for (const it of page.items) {
        each?.(it);
        items.push(it);
      }
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    return { metadata: { resourceVersion: rv }, items };
  }

  /**
   * Whether the API server serves `kind`, from discovery (`GET /apis/<group>/<version>`, or
   * `/api/v1`): a GET of a small, static document instead of a LIST. A group or version not
   * served answers 404: false.
   */
  async serves(kind: Kind, o: CallOptions = {}): Promise<boolean> {
    const path = kind.group ? `/apis/${kind.group}/${kind.version}` : `/api/${kind.version}`;
    try {
      const doc = await this.request<{ resources?: Array<{ name?: string }> }>("GET", path, { signal: o.signal });
      return (doc?.resources ?? []).some((r) => r.name === kind.plural);
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  create<T extends KubeObject>(kind: Kind, obj: T, o: CallOptions = {}): Promise<T> {
    return this.request("POST", resourcePath(kind, obj.metadata.namespace), { body: withType(kind, obj), signal: o.signal });
  }

  /** PUT with the object's resourceVersion: 409 Conflict when it changed meanwhile. */
  replace<T extends KubeObject>(kind: Kind, obj: T, subresource?: "status", o: CallOptions = {}): Promise<T> {
    const path = resourcePath(kind, obj.metadata.namespace, obj.metadata.name, subresource);
    return this.request("PUT", path, { body: withType(kind, obj), signal: o.signal });
  }

  patch<T extends KubeObject>(kind: Kind, name: string, namespace: string | undefined, patch: unknown, o: PatchOptions = {}): Promise<T> {
    const type = o.type ?? "merge";
    const path = resourcePath(kind, namespace, name, o.subresource);
    const query = { fieldManager: o.fieldManager, force: o.force };
    return this.request("PATCH", path, { body: patch, contentType: patchContentTypes[type], query, signal: o.signal });
  }

  delete(kind: Kind, name: string, namespace?: string, o: DeleteOptions = {}): Promise<unknown> {
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (o.propagationPolicy) body.propagationPolicy = o.propagationPolicy;
    if (o.uid) body.preconditions = { uid: o.uid };
    return this.request("DELETE", resourcePath(kind, namespace, name), { body, signal: o.signal });
  }

  /**
   * Streams watch events to onEvent until the server ends the watch (resolves) or
   * it fails, stalls or is aborted (rejects; an abort rejects with the signal's reason).
   * A 410 answer, as HTTP code or as an ERROR event, is left to the caller to interpret.
   */
  async watch(kind: Kind, o: WatchOptions, onEvent: (e: WatchEvent) => void): Promise<void> {
    const link = linkSignals(this.bound, o.signal);
    try {
      await this.streamWatch(kind, o, link.signal, onEvent);
    } finally {
      link.dispose();
    }
  }

  private async streamWatch(kind: Kind, o: WatchOptions, signal: AbortSignal | undefined, onEvent: (e: WatchEvent) => void): Promise<void> {
    const query = {
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion: o.resourceVersion,
      labelSelector: o.labelSelector,
      timeoutSeconds: o.timeoutSeconds,
    };
    const res = await this.send("GET", resourcePath(kind, o.namespace), { query, signal, timeoutMs: 0 });
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
      res.on("error", (e) => finish(signal?.aborted ? signal.reason : e));
      res.on("close", () => finish(res.complete ? undefined : (signal?.reason ?? new Error("watch connection closed"))));
    });
  }

  /** One request; JSON in and out; non-2xx answers become ApiError. */
  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const link = linkSignals(this.bound, o.signal);
    try {
      const res = await this.send(method, path, { ...o, signal: link.signal });
      const text = await readBody(res, link.signal);
      if ((res.statusCode ?? 0) >= 300) throw parseError(res.statusCode ?? 0, text);
      return (text ? JSON.parse(text) : undefined) as T;
    } finally {
      link.dispose();
    }
  }

  private async send(method: string, path: string, o: RequestOptions): Promise<http.IncomingMessage> {
    o.signal?.throwIfAborted();
    const opts = await this.credentials();
    o.signal?.throwIfAborted(); // aborted while credentials loaded: nothing was sent
    const url = new URL(this.server.toString().replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    const isHttps = url.protocol === "https:";
    this.pool.agent ??= isHttps
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
      const req = mod.request(url, { method, headers, agent: this.pool.agent, signal: o.signal }, resolve);
      req.on("error", (e) => reject(o.signal?.aborted ? o.signal.reason : e));
      const t = o.timeoutMs ?? this.requestTimeoutMs;
      if (t > 0) req.setTimeout(t, () => req.destroy(new Error(`${method} ${path}: no answer within ${t}ms`)));
      req.end(payload);
    });
  }

  /** The kubeconfig's request options (headers, TLS), shared by concurrent requests and kept for a second: a rotated token is picked up within it. */
  private credentials(): Promise<https.RequestOptions> {
    const now = Date.now();
    const c = this.pool.creds;
    if (c && now - c.at < CREDENTIALS_TTL_MS) return c.opts;
    const opts: https.RequestOptions = {};
    const loading = this.kubeConfig.applyToHTTPSOptions(opts).then(() => opts);
    this.pool.creds = { at: now, opts: loading };
    // A failed load is not kept: the next request tries again.
    loading.catch(() => {
      if (this.pool.creds?.opts === loading) this.pool.creds = undefined;
    });
    return loading;
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.pool.agent?.destroy();
    this.pool.agent = undefined;
  }
}

function withType<T extends KubeObject>(kind: Kind, obj: T): T {
  return { ...obj, apiVersion: obj.apiVersion ?? (kind.group ? `${kind.group}/${kind.version}` : kind.version), kind: obj.kind ?? kind.kind };
}

function readBody(res: http.IncomingMessage, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    // Decoded piece by piece (a split UTF-8 sequence is carried over), not one Buffer.concat of the
    // whole body: a 1.6 MB list page each time left ~10 MiB of malloc'd memory behind at 10,000 objects.
    const chunks: string[] = [];
    const fail = (e: unknown): void => reject(signal?.aborted ? signal.reason : e);
    res.setEncoding("utf8");
    res.on("data", (c: string) => chunks.push(c));
    res.on("end", () => resolve(chunks.join("")));
    res.on("error", fail);
    // An abort mid-body destroys the socket; some Node versions then only emit close.
    res.on("close", () => {
      if (!res.complete) fail(new Error("connection closed before the answer was complete"));
    });
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
