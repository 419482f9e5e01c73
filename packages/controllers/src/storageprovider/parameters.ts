// Pure: the parameters a provider's templates see for one repo (its config plus its
// credential Secret's keys) and their check against the provider's parametersSchema.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { BackupRepo, StorageProvider } from "@dataprotection/api";

/** `.Parameters`: the repo's config, then the credential Secret's (decoded) keys on top. */
export function repoParameters(repo: BackupRepo, credential: Record<string, string> | undefined): Record<string, string> {
  return { ...(repo.spec.config ?? {}), ...(credential ?? {}) };
}

/** Decodes a Secret's base64 `data` (and plain `stringData`) into strings. */
export function decodeSecretData(secret: { data?: Record<string, string>; stringData?: Record<string, string> } | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret?.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
  return { ...out, ...(secret?.stringData ?? {}) };
}

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

/** The schema itself is broken (cannot be compiled): a provider problem, not a repo one. */
export function schemaProblem(provider: StorageProvider): string | undefined {
  const schema = provider.spec.parametersSchema?.openAPIV3Schema;
  if (!schema) return undefined;
  try {
    validator(schema);
    return undefined;
  } catch (e) {
    return `StorageProvider "${provider.metadata?.name}" .spec.parametersSchema.openAPIV3Schema is not a valid schema: ${(e as Error).message}`;
  }
}

function validator(schema: Record<string, unknown>): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    // Kubernetes extension keywords mean nothing to ajv; drop them rather than fail.
    v = ajv.compile(stripExtensions(schema) as object);
    compiled.set(schema, v);
  }
  return v;
}

function stripExtensions(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(stripExtensions);
  if (s === null || typeof s !== "object") return s;
  return Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith("x-kubernetes-")).map(([k, v]) => [k, stripExtensions(v)]));
}

/**
 * Problems with a repo's parameters, each naming the field and the fix; empty when valid.
 * credentialFields must be present in the credential Secret; everything is checked
 * against openAPIV3Schema.
 */
export function parameterProblems(provider: StorageProvider, repo: BackupRepo, credential: Record<string, string> | undefined): string[] {
  const repoName = repo.metadata?.name;
  const providerName = provider.metadata?.name;
  const problems: string[] = [];
  const fields = provider.spec.parametersSchema?.credentialFields ?? [];
  const cred = repo.spec.credential;
  for (const f of fields) {
    if (credential?.[f] !== undefined) continue;
    if (!cred?.name) problems.push(`StorageProvider "${providerName}" needs credential field "${f}": set BackupRepo "${repoName}" .spec.credential to a Secret with key "${f}"`);
    else problems.push(`Secret "${cred.namespace ?? "default"}/${cred.name}" has no key "${f}", which StorageProvider "${providerName}" needs: add it to the Secret`);
  }
  const schema = provider.spec.parametersSchema?.openAPIV3Schema;
  if (!schema) return problems;
  let v: ValidateFunction;
  try {
    v = validator(schema);
  } catch {
    return [...problems, schemaProblem(provider) ?? ""];
  }
  const params = repoParameters(repo, credential);
  if (!v(params)) for (const e of v.errors ?? []) problems.push(describeError(e, repoName, fields));
  return problems;
}

function describeError(e: ErrorObject, repoName: string | undefined, credentialFields: string[]): string {
  const missing = e.keyword === "required" ? String((e.params as { missingProperty?: string }).missingProperty) : undefined;
  const field = missing ?? e.instancePath.replace(/^\//, "").replace(/\//g, ".");
  const where = credentialFields.includes(field) ? "the credential Secret" : `BackupRepo "${repoName}" .spec.config`;
  if (missing) return `parameter "${field}" is required: set it in ${where}`;
  return `parameter "${field}" ${e.message ?? "is invalid"}: fix it in ${where}`;
}
