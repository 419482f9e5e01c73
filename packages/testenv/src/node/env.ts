// Container environment resolution as kubelet does it: envFrom first, then env in order,
// with $(VAR) expansion against what is defined so far plus the service variables.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { expandVars } from "./expand.ts";
import { fieldRefValue, resourceFieldValue, type NodeFacts } from "./fieldref.ts";

/** Decoded Secret data and ConfigMap data, keyed by name; a name absent here does not exist. */
export interface EnvSources {
  secrets: Map<string, Record<string, string>>;
  configMaps: Map<string, Record<string, string>>;
}

export type EnvResult = { env: Array<[string, string]> } | { error: string };

/** Names of Secrets and ConfigMaps a container's env/envFrom reads (to fetch before resolving). */
export function envReferences(c: V1Container): { secrets: string[]; configMaps: string[] } {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const f of c.envFrom ?? []) {
    if (f.secretRef?.name) secrets.add(f.secretRef.name);
    if (f.configMapRef?.name) configMaps.add(f.configMapRef.name);
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
    if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name);
  }
  return { secrets: [...secrets], configMaps: [...configMaps] };
}

/**
 * Resolves a container's environment. `base` holds variables every container gets
 * (KUBERNETES_SERVICE_HOST, ...); they may be overridden and are visible to $(VAR).
 */
export function resolveEnv(
  pod: V1Pod, c: V1Container, sources: EnvSources, facts: NodeFacts, base: Array<[string, string]> = [],
): EnvResult {
  const vars = new Map<string, string>(base);
  for (const f of c.envFrom ?? []) {
    const prefix = f.prefix ?? "";
    const ref = f.secretRef ?? f.configMapRef;
    const kind = f.secretRef ? "secret" : "configmap";
    if (!ref?.name) continue;
    const data = (f.secretRef ? sources.secrets : sources.configMaps).get(ref.name);
    if (!data) {
      if (ref.optional) continue;
      return { error: `${kind} "${ref.name}" not found` };
    }
    for (const [k, v] of Object.entries(data)) {
      if (k.includes("=")) continue;
      vars.set(prefix + k, v);
    }
  }
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (!from) {
      vars.set(e.name, expandVars(e.value ?? "", (n) => vars.get(n)));
      continue;
    }
    if (from.secretKeyRef || from.configMapKeyRef) {
      const ref = (from.secretKeyRef ?? from.configMapKeyRef)!;
      const kind = from.secretKeyRef ? "secret" : "configmap";
      const data = (from.secretKeyRef ? sources.secrets : sources.configMaps).get(ref.name ?? "");
      if (!data) {
        if (ref.optional) continue;
        return { error: `${kind} "${ref.name}" not found` };
      }
      if (!(ref.key in data)) {
        if (ref.optional) continue;
        return { error: `couldn't find key ${ref.key} in ${kind === "secret" ? "Secret" : "ConfigMap"} ${pod.metadata?.namespace}/${ref.name}` };
      }
      vars.set(e.name, data[ref.key]);
      continue;
    }
    const r = from.fieldRef
      ? fieldRefValue(pod, from.fieldRef.fieldPath, facts)
      : from.resourceFieldRef
        ? resourceFieldValue(pod, c.name, from.resourceFieldRef, facts)
        : { error: `env ${e.name}: unsupported valueFrom` };
    if ("error" in r) return r;
    vars.set(e.name, r.value);
  }
  return { env: [...vars.entries()] };
}

/** Command line after $(VAR) expansion with the final environment. */
export function expandCommand(c: V1Container, env: Array<[string, string]>): string[] {
  const m = new Map(env);
  const look = (n: string) => m.get(n);
  return [...(c.command ?? []), ...(c.args ?? [])].map((s) => expandVars(s, look));
}
