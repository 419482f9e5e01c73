// Pure: where 3scale's databases are, from the URLs in its Secrets, parsed as hostile input.
// A URL only ever becomes the keys of an endpoint Secret (host, port, username, password,
// database) that a tool reads through secretKeyRef: nothing of it reaches a command line, a
// log, an Event or a status. Messages name the Secret and key, never the value.
import type { V1Secret } from "@kubernetes/client-node";
import { LabelManagedBy, LabelThreescaleOwner, ManagedBy } from "@dataprotection/api";
import { labelValue } from "@dataprotection/runtime";

export type Engine = "mysql" | "postgresql" | "redis";

export interface Endpoint {
  engine: Engine;
  host: string;
  port: number;
  username?: string;
  password?: string;
  database?: string;
}

/** The components an APIManagerBackup with includeDatabases takes, in this (documented) order. */
export const COMPONENTS = ["system-database", "zync-database", "system-redis", "backend-redis", "backend-redis-queues"] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface Component {
  name: ComponentName;
  endpoint: Endpoint;
  /** Where it was read: `Secret "ns/name" key KEY`. */
  source: string;
}

const SCHEMES: Record<string, Engine> = {
  "mysql2:": "mysql", "mysql:": "mysql", "mariadb:": "mysql",
  "postgresql:": "postgresql", "postgres:": "postgresql",
  "redis:": "redis",
};
const DEFAULT_PORT: Record<Engine, number> = { mysql: 3306, postgresql: 5432, redis: 6379 };

/** RFC 1123 host names (no leading `-`, so never an option), dotted IPv4, or bracketed IPv6. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6 = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
/** Database names the tools accept as a plain name (libpq reads `=` as a connection string). */
const DATABASE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/;
/** Printable, no control characters, bounded: it goes into an env var, never a command line. */
const printable = (s: string): boolean => s.length >= 1 && s.length <= 256 && [...s].every((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f);

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * Parses a database URL as 3scale writes them (`mysql2://user:pass@host:3306/system`,
 * `postgresql://user:pass@host/zync_production`, `redis://:pass@host:6379/1`). Rejected:
 * another scheme than `allowed`, TLS schemes (rediss, not supported by the tools yet), a query
 * or fragment (options the tools would not honour), a host that is not a name or an address,
 * a port out of range, a database name that is not plain, credentials with control characters.
 * `what` names the Secret and key in messages; the URL itself is never quoted.
 */
export function parseDatabaseUrl(raw: string, allowed: readonly Engine[], what: string): Parsed<Endpoint> {
  const bad = (why: string): Parsed<Endpoint> => ({ ok: false, message: `${what} is not a usable database URL: ${why}` });
  const text = raw.trim();
  if (!text) return bad("it is empty");
  if (text.length > 2048) return bad("it is longer than 2048 characters");
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return bad("it does not parse as a URL");
  }
  const engine = SCHEMES[u.protocol];
  if (!engine) return bad(`scheme "${u.protocol.slice(0, -1).slice(0, 16).replace(/[^a-z0-9+.-]/gi, "?")}" is not one of ${[...new Set(Object.entries(SCHEMES).filter(([, e]) => allowed.includes(e)).map(([s]) => s.slice(0, -1)))].join(", ")}`);
  if (!allowed.includes(engine)) return bad(`it names a ${engine} server where ${allowed.join(" or ")} is expected`);
  if (u.search || u.hash) return bad("query parameters and fragments are not supported (the tools would not honour them)");
  const host = u.hostname;
  if (!host) return bad("it names no host");
  if (!(HOSTNAME.test(host) || IPV4.test(host) || IPV6.test(host))) return bad("the host is not a DNS name or an IP address");
  let port = DEFAULT_PORT[engine];
  if (u.port) {
    if (!/^\d{1,5}$/.test(u.port) || Number(u.port) < 1 || Number(u.port) > 65535) return bad("the port is not between 1 and 65535");
    port = Number(u.port);
  }
  const username = u.username ? decode(u.username) : undefined;
  const password = u.password ? decode(u.password) : undefined;
  if (username !== undefined && !printable(username)) return bad("the user name is not printable text of at most 256 characters");
  if (password !== undefined && !printable(password)) return bad("the password is not printable text of at most 256 characters");
  const path = u.pathname.replace(/^\//, "");
  const out: Endpoint = { engine, host: IPV6.test(host) ? host.slice(1, -1) : host, port };
  if (username) out.username = username;
  if (password) out.password = password;
  if (engine === "redis") {
    // The RDB holds every logical database: the number only has to be one.
    if (path && !/^\d{1,4}$/.test(path)) return bad("the Redis database is not a number");
  } else {
    const db = decode(path);
    if (!db) return bad("it names no database");
    if (!DATABASE.test(db)) return bad("the database name is not plain (letters, digits, _ and -, at most 63)");
    out.database = db;
  }
  return { ok: true, value: out };
}

/** The Secrets the components are read from, decoded (key -> value); absent when not found. */
export interface ThreescaleSecrets {
  "system-database"?: Record<string, string>;
  "system-redis"?: Record<string, string>;
  "backend-redis"?: Record<string, string>;
  zync?: Record<string, string>;
}

export const COMPONENT_SECRETS = ["system-database", "system-redis", "backend-redis", "zync"] as const;

export type Located = { ok: true; components: Component[] } | { ok: false; component: ComponentName; message: string };

const SENTINEL_KEYS: Record<string, string[]> = {
  "system-redis": ["SENTINEL_HOSTS"],
  "backend-redis": ["REDIS_STORAGE_SENTINEL_HOSTS", "REDIS_QUEUES_SENTINEL_HOSTS"],
};

/**
 * Every component of a 3scale installation, from its Secrets in `namespace`: system-database
 * (URL; DB_USER/DB_PASSWORD when the URL has no credentials), system-redis (URL),
 * backend-redis (REDIS_STORAGE_URL) and backend-redis-queues (REDIS_QUEUES_URL, only when it
 * names another server than the storage one: an RDB holds every logical database), and
 * zync-database (the `zync` Secret's DATABASE_URL, DATABASE_PASSWORD when the URL has no
 * password) when the `zync` Secret has a DATABASE_URL (zync runs with a database). Redis Sentinel is refused (the tools speak to one
 * server). Components in `skip` are not located (a restore locates those the APIManager runs
 * only once it runs them: their Secrets may not exist before).
 */
export function locateComponents(namespace: string, secrets: ThreescaleSecrets, skip: ReadonlySet<ComponentName> = new Set()): Located {
  const comps: Component[] = [];
  const where = (secret: string, key: string) => `Secret "${namespace}/${secret}" key ${key}`;
  const missing = (component: ComponentName, secret: string, key?: string): Located => ({
    ok: false, component,
    message: key ? `${where(secret, key)} is missing or empty: set it to the ${component} URL, or create the APIManagerBackup without includeDatabases` : `Secret "${namespace}/${secret}" not found: includeDatabases locates ${component} from it`,
  });
  const take = (component: ComponentName, secret: string, key: string, allowed: readonly Engine[], fallback?: { user?: string; password?: string }): Located | undefined => {
    if (skip.has(component)) return undefined;
    const data = secrets[secret as keyof ThreescaleSecrets];
    if (!data) return missing(component, secret);
    for (const k of SENTINEL_KEYS[secret] ?? []) {
      if (data[k]?.trim()) return { ok: false, component, message: `${where(secret, k)} is set: Redis Sentinel is not supported by includeDatabases yet; back up ${component} by hand` };
    }
    const url = data[key];
    if (!url?.trim()) return missing(component, secret, key);
    const p = parseDatabaseUrl(url, allowed, where(secret, key));
    if (!p.ok) return { ok: false, component, message: p.message };
    const ep = { ...p.value };
    if (!ep.username && fallback?.user && data[fallback.user]) ep.username = data[fallback.user];
    if (!ep.password && fallback?.password && data[fallback.password]) ep.password = data[fallback.password];
    comps.push({ name: component, endpoint: ep, source: where(secret, key) });
    return undefined;
  };
  const steps: Array<() => Located | undefined> = [
    () => take("system-database", "system-database", "URL", ["mysql", "postgresql"], { user: "DB_USER", password: "DB_PASSWORD" }),
    () => (secrets.zync?.DATABASE_URL?.trim() ? take("zync-database", "zync", "DATABASE_URL", ["postgresql"], { password: "DATABASE_PASSWORD" }) : undefined),
    () => take("system-redis", "system-redis", "URL", ["redis"]),
    () => take("backend-redis", "backend-redis", "REDIS_STORAGE_URL", ["redis"]),
    () => {
      const data = secrets["backend-redis"];
      if (skip.has("backend-redis-queues") || skip.has("backend-redis") || !data?.REDIS_QUEUES_URL?.trim()) return undefined;
      const p = parseDatabaseUrl(data.REDIS_QUEUES_URL, ["redis"], where("backend-redis", "REDIS_QUEUES_URL"));
      if (!p.ok) return { ok: false, component: "backend-redis-queues", message: p.message };
      const storage = comps.find((c) => c.name === "backend-redis")!.endpoint;
      if (p.value.host === storage.host && p.value.port === storage.port) return undefined;
      comps.push({ name: "backend-redis-queues", endpoint: p.value, source: where("backend-redis", "REDIS_QUEUES_URL") });
      return undefined;
    },
  ];
  for (const s of steps) {
    const r = s();
    if (r) return r;
  }
  return { ok: true, components: comps };
}

/**
 * The built-in tool each engine is taken with. Each has a logical restore into the running
 * server its endpoint names (redis-rdb-online loads the RDB through a private temporary server;
 * redis-rdb's physical restore needs the server's data volume, which an endpoint does not have).
 */
export const BASE_TOOL: Record<Engine, string> = { mysql: "mariadb-dump", postgresql: "postgres-dump", redis: "redis-rdb-online" };

/** One endpoint Secret per component and namespace: a tool's secretKeyRef names it, so the name is fixed. */
export const endpointSecretName = (c: ComponentName): string => `threescale-${c}-endpoint`;
/** One tool per component and engine (cluster-scoped; its env names the component's endpoint Secret). */
export const componentToolName = (c: ComponentName, e: Engine): string => `threescale-${c}-${BASE_TOOL[e]}`;

/**
 * The endpoint Secret of a component: the keys of EndpointSecretKeys, as stringData. Owned (not
 * as controller) by the APIManagerBackup or APIManagerRestore using it, so deleting that CR
 * midway leaves no credentials behind; a finished backup or restore deletes it itself.
 */
export function endpointSecret(namespace: string, owner: { name: string; uid: string; kind?: "APIManagerBackup" | "APIManagerRestore" }, c: Component): V1Secret {
  const e = c.endpoint;
  const data: Record<string, string> = { host: e.host, port: String(e.port) };
  if (e.username) data.username = e.username;
  if (e.password) data.password = e.password;
  if (e.database) data.database = e.database;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: endpointSecretName(c.name), namespace,
      labels: { [LabelManagedBy]: ManagedBy, [LabelThreescaleOwner]: labelValue(owner.name), "app.kubernetes.io/component": c.name },
      ownerReferences: [{ apiVersion: "apps.3scale.net/v1alpha1", kind: owner.kind ?? "APIManagerBackup", name: owner.name, uid: owner.uid }],
    },
    type: "Opaque",
    stringData: data,
  };
}
