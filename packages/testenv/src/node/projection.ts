// Pure: which files a secret / configMap / downwardAPI / projected volume holds.
import type { V1DownwardAPIVolumeFile, V1KeyToPath, V1Pod } from "@kubernetes/client-node";
import { fieldRefValue, resourceFieldValue, type NodeFacts } from "./fieldref.ts";

export interface FileSpec {
  /** Relative path inside the volume. */
  path: string;
  content: Buffer;
  mode: number;
}

/** Files for a Secret/ConfigMap's data; `items` selects and renames keys. */
export function keyFiles(
  what: string, data: Record<string, Buffer>, items: V1KeyToPath[] | undefined, defaultMode: number, optional: boolean,
): FileSpec[] | { error: string } {
  if (!items || items.length === 0) {
    return Object.keys(data).sort().map((k) => ({ path: k, content: data[k], mode: defaultMode }));
  }
  const out: FileSpec[] = [];
  for (const it of items) {
    if (!(it.key in data)) {
      if (optional) continue;
      return { error: `configured key "${it.key}" not found in ${what}` };
    }
    out.push({ path: it.path, content: data[it.key], mode: it.mode ?? defaultMode });
  }
  return out;
}

/** Files for downwardAPI items. */
export function downwardFiles(
  pod: V1Pod, items: V1DownwardAPIVolumeFile[] | undefined, defaultMode: number, facts: NodeFacts,
): FileSpec[] | { error: string } {
  const out: FileSpec[] = [];
  for (const it of items ?? []) {
    const r = it.fieldRef
      ? fieldRefValue(pod, it.fieldRef.fieldPath, facts)
      : it.resourceFieldRef
        ? resourceFieldValue(pod, undefined, it.resourceFieldRef, facts)
        : { error: `downwardAPI item ${it.path}: no fieldRef or resourceFieldRef` };
    if ("error" in r) return r;
    out.push({ path: it.path, content: Buffer.from(r.value), mode: it.mode ?? defaultMode });
  }
  return out;
}

/** Rejects paths that would escape the volume directory. */
export function safeRelative(p: string): boolean {
  return p.length > 0 && !p.startsWith("/") && !p.split("/").includes("..");
}
