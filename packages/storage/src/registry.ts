// The registry of repo backends: each described once (kind, parameters, Secret keys, how to
// build it). The operator asks it what a repo needs (params to check, Secret keys to copy, the
// document for dp-agent); dp-agent asks it to build the backend. Adding a backend adds a
// descriptor to backends.ts; nothing outside this package names one.
import { BACKENDS } from "./backends.ts";
import { RepoError } from "./errors.ts";
import type { RepoBackend, RepoConfig } from "./types.ts";

export type Params = Readonly<Record<string, string>>;

export interface ParamSpec {
  required?: boolean;
  /** One line for docs and messages. */
  help: string;
  /** What is wrong with a value ("must be true or false"), or undefined. */
  check?: (value: string) => string | undefined;
}

export interface SecretSpec {
  help: string;
  /** Other spellings accepted in the user's Secret; the canonical name wins when both are there. */
  aliases?: readonly string[];
  required?: boolean;
  /** A credential whose value must never appear outside Secrets (the e2e leak scan looks for it). */
  sensitive?: boolean;
}

/** Per-use limits the caller may impose (the operator's pre-check answers quickly). */
export interface Tuning {
  maxAttempts?: number;
  connectTimeoutMs?: number;
}

export interface BackendDescriptor<C extends RepoConfig = RepoConfig> {
  kind: C["kind"];
  help: string;
  params: Readonly<Record<string, ParamSpec>>;
  /** Keys of the repo's credential Secret; the Secret copy in a workload namespace carries exactly these. */
  secrets: Readonly<Record<string, SecretSpec>>;
  /** Env prefixes the backend or its SDK reads besides the document: a tool may not set them. */
  envPrefixes?: readonly string[];
  /** The typed config from checked params and the secrets present (canonical names). */
  config(params: Params, secrets: Params, tuning: Tuning): C;
  open(config: C): RepoBackend;
}

/**
 * The backend a Tool repo uses when its StorageProvider's agentConfigTemplate has no `type=`
 * line, or there is no template: KubeBlocks 0.6 providers only ever meant S3.
 */
export const DEFAULT_TOOL_REPO_KIND = "s3";

/** Env names the operator sets for a repo, and the prefix of a secret's env. */
export const REPO_ENV_PREFIX = "DP_REPO_";
const SECRET_ENV_PREFIX = "DP_REPO_SECRET_";

const byKind = new Map<string, BackendDescriptor>(BACKENDS.map((d) => [d.kind, d as unknown as BackendDescriptor]));

export function repoBackendKinds(): string[] {
  return [...byKind.keys()];
}

export function findRepoBackend(kind: string): BackendDescriptor | undefined {
  return byKind.get(kind);
}

/** The descriptor of `kind`; RepoError("InvalidConfig") naming the known kinds otherwise. */
export function repoBackend(kind: string): BackendDescriptor {
  const d = byKind.get(kind);
  if (!d) throw new RepoError("InvalidConfig", `unknown repo backend type ${JSON.stringify(kind)}: use one of ${repoBackendKinds().join(", ")}`);
  return d;
}

/** Problems with a backend's parameters, each naming the parameter; empty when valid. */
export function repoParamProblems(kind: string, params: Params): string[] {
  const d = byKind.get(kind);
  if (!d) return [`unknown repo backend type ${JSON.stringify(kind)}: use one of ${repoBackendKinds().join(", ")}`];
  const problems: string[] = [];
  for (const name of Object.keys(params)) {
    if (!(name in d.params)) problems.push(`parameter "${name}" is not one the ${kind} backend takes (${Object.keys(d.params).join(", ")})`);
  }
  for (const [name, spec] of Object.entries(d.params)) {
    const v = params[name];
    if (v === undefined || v === "") {
      if (spec.required) problems.push(`parameter "${name}" is required by the ${kind} backend (${spec.help})`);
      continue;
    }
    const bad = spec.check?.(v);
    if (bad) problems.push(`parameter "${name}" ${bad}`);
  }
  return problems;
}

/** The values of `kind`'s Secret keys found in `source`, under their canonical names (any spelling accepted). */
export function pickRepoSecrets(kind: string, source: Params): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, spec] of Object.entries(repoBackend(kind).secrets)) {
    const v = [key, ...(spec.aliases ?? [])].map((k) => source[k]).find((x) => x !== undefined);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** The required Secret keys of `kind` missing from `secrets` (canonical names), with their spellings for messages. */
export function missingRepoSecrets(kind: string, secrets: Params): string[] {
  return Object.entries(repoBackend(kind).secrets)
    .filter(([key, spec]) => spec.required && !secrets[key])
    .map(([key, spec]) => [key, ...(spec.aliases ?? [])].map((k) => `"${k}"`).join(" or "));
}

/** The env a secret reaches dp-agent through: accessKeyId -> DP_REPO_SECRET_ACCESS_KEY_ID. */
export function repoSecretEnvName(key: string): string {
  return SECRET_ENV_PREFIX + key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/[^A-Za-z0-9]+/g, "_").toUpperCase();
}

/** Env a tool may not set: the repo document, its secrets, and what any backend's SDK reads. */
export function isRepoEnv(name: string): boolean {
  return name.startsWith(REPO_ENV_PREFIX) || [...byKind.values()].some((d) => (d.envPrefixes ?? []).some((p) => name.startsWith(p)));
}

/** Every spelling of every sensitive Secret key of every backend (for leak scans). */
export function sensitiveRepoSecretKeys(): string[] {
  return [...byKind.values()].flatMap((d) => Object.entries(d.secrets).filter(([, s]) => s.sensitive).flatMap(([k, s]) => [k, ...(s.aliases ?? [])]));
}

/**
 * The typed config of a `kind` repo from its parameters and secrets (canonical names). Throws
 * RepoError("InvalidConfig") listing every problem: unknown kind or parameter, a missing or
 * malformed parameter, a missing required secret.
 */
export function repoConfigFrom(kind: string, params: Params, secrets: Params, tuning: Tuning = {}): RepoConfig {
  const problems = repoParamProblems(kind, params);
  const d = repoBackend(kind);
  for (const key of missingRepoSecrets(kind, secrets)) problems.push(`the ${kind} backend needs secret ${key} in the repo's credential Secret`);
  if (problems.length) throw new RepoError("InvalidConfig", problems.join("; "));
  return d.config(params, secrets, tuning);
}

/** Build the backend a config names. Throws RepoError("InvalidConfig") on a malformed config. */
export function backendFromConfig(config: RepoConfig): RepoBackend {
  return repoBackend(config.kind).open(config);
}
