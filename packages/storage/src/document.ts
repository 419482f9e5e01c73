// The one document the operator hands dp-agent for a repo (env DP_REPO_CONFIG):
//   {"version":1,"kind":"azure","params":{"container":"backups",...},
//    "secretEnv":{"accountName":"DP_REPO_SECRET_ACCOUNT_NAME","accountKey":"DP_REPO_SECRET_ACCOUNT_KEY"}}
// Secret values never enter it: secretEnv names the env each one arrives in (a secretKeyRef to
// the repo's Secret copy), so the document can be shown, logged and compared freely.
import { RepoError } from "./errors.ts";
import { type Params, type Tuning, repoBackend, repoConfigFrom, repoSecretEnvName } from "./registry.ts";
import type { RepoConfig } from "./types.ts";

export const REPO_CONFIG_ENV = "DP_REPO_CONFIG";
/** The version this package writes and reads; a reader refuses any other (a newer operator's document). */
export const REPO_CONFIG_VERSION = 1;

export interface RepoDocument {
  version: typeof REPO_CONFIG_VERSION;
  kind: string;
  params: Record<string, string>;
  /** Canonical secret key -> the env var holding its value. */
  secretEnv: Record<string, string>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The document for a `kind` repo. With `withSecrets` (the repo has a credential Secret) every
 * Secret key the backend declares gets its env; the pod's secretKeyRefs are optional, so a key
 * the Secret lacks is simply unset and dp-agent names it if it was required.
 */
export function repoDocument(kind: string, params: Params, withSecrets: boolean): RepoDocument {
  const d = repoBackend(kind);
  const sorted = Object.fromEntries(Object.entries(params).sort(([a], [b]) => a.localeCompare(b)));
  const secretEnv = withSecrets ? Object.fromEntries(Object.keys(d.secrets).map((k) => [k, repoSecretEnvName(k)])) : {};
  return { version: REPO_CONFIG_VERSION, kind, params: sorted, secretEnv };
}

export function serializeRepoDocument(doc: RepoDocument): string {
  return JSON.stringify({ version: doc.version, kind: doc.kind, params: doc.params, secretEnv: doc.secretEnv });
}

/** Parses and checks the shape of a document; RepoError("InvalidConfig") says what is wrong. */
export function parseRepoDocument(text: string, source = REPO_CONFIG_ENV): RepoDocument {
  const bad = (why: string) => new RepoError("InvalidConfig", `${source} ${why}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('is not JSON: give {"version":1,"kind":...,"params":{...},"secretEnv":{...}}');
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw bad("must be a JSON object");
  const o = v as Record<string, unknown>;
  if (o.version !== REPO_CONFIG_VERSION) {
    throw bad(`has version ${JSON.stringify(o.version)}; this dp-agent reads version ${REPO_CONFIG_VERSION}: run the dp-agent image that comes with the operator`);
  }
  if (typeof o.kind !== "string" || !o.kind) throw bad('has no "kind"');
  repoBackend(o.kind);
  const strings = (field: string): Record<string, string> => {
    const m = o[field] ?? {};
    if (typeof m !== "object" || Array.isArray(m) || m === null) throw bad(`"${field}" must be an object of strings`);
    for (const [k, x] of Object.entries(m)) if (typeof x !== "string") throw bad(`"${field}.${k}" must be a string`);
    return m as Record<string, string>;
  };
  const params = strings("params");
  const secretEnv = strings("secretEnv");
  for (const [k, env] of Object.entries(secretEnv)) if (!ENV_NAME.test(env)) throw bad(`"secretEnv.${k}" is not an env var name`);
  return { version: REPO_CONFIG_VERSION, kind: o.kind, params, secretEnv };
}

/**
 * The typed config a document describes, its secrets read from `env`. An unset env of a
 * required secret, an unknown secret key or a bad parameter is a RepoError("InvalidConfig").
 */
export function repoConfigFromDocument(doc: RepoDocument, env: Readonly<Record<string, string | undefined>>, tuning: Tuning = {}, source = REPO_CONFIG_ENV): RepoConfig {
  const d = repoBackend(doc.kind);
  const secrets: Record<string, string> = {};
  for (const [key, name] of Object.entries(doc.secretEnv)) {
    const spec = d.secrets[key];
    if (!spec) throw new RepoError("InvalidConfig", `${source} secretEnv names "${key}", which the ${doc.kind} backend does not take (${Object.keys(d.secrets).join(", ") || "no secrets"})`);
    const value = env[name];
    if (value) secrets[key] = value;
    else if (spec.required) throw new RepoError("InvalidConfig", `${name} is not set: the ${doc.kind} repo needs its secret "${key}" there: add key "${key}" to the repo's credential Secret`);
  }
  try {
    return repoConfigFrom(doc.kind, doc.params, secrets, tuning);
  } catch (err) {
    if (err instanceof RepoError) throw new RepoError(err.code, `${source}: ${err.message}`, { cause: err });
    throw err;
  }
}
