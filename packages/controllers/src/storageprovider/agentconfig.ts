// Pure: dp-agent's storage settings for a Tool repo, from the provider's
// agentConfigTemplate (key=value lines) or, without one, from the repo's config. The backend
// and its parameters are the storage registry's: `type=` picks the backend (the registry's
// default when absent, KubeBlocks 0.6 compatible), every other key must be one of its parameters.
import type { BackupRepo, StorageProvider } from "@dataprotection/api";
import { DEFAULT_TOOL_REPO_KIND, findRepoBackend, repoBackendKinds } from "@dataprotection/storage";
import { renderTemplate } from "./template.ts";
import { templateValuesWithoutSecrets } from "./values.ts";

/** The backend a Tool repo uses and its parameters (checked by the registry where used). */
export interface AgentStorageConfig {
  kind: string;
  params: Record<string, string>;
}

/** Rendered with the repo's config only: credential values never reach env values. */
export function agentConfigFor(provider: StorageProvider | undefined, repo: BackupRepo): AgentStorageConfig {
  const tpl = provider?.spec.agentConfigTemplate;
  if (!tpl) {
    // No template: the repo's config holds the default backend's parameters (and maybe others').
    const known = findRepoBackend(DEFAULT_TOOL_REPO_KIND)!.params;
    const params = Object.fromEntries(Object.entries(repo.spec.config ?? {}).filter(([k, v]) => k in known && v !== ""));
    return { kind: DEFAULT_TOOL_REPO_KIND, params };
  }
  const name = `StorageProvider "${provider?.metadata?.name}" .spec.agentConfigTemplate`;
  const text = renderTemplate(name, tpl, templateValuesWithoutSecrets(repo));
  let kind = DEFAULT_TOOL_REPO_KIND;
  const params: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`${name} rendered "${line}": each line must be key=value`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === "type") kind = value || kind;
    else if (value) params[key] = value;
  }
  const backend = findRepoBackend(kind);
  if (!backend) throw new Error(`${name} rendered type=${kind}: use one of ${repoBackendKinds().join(", ")}`);
  const unknown = Object.keys(params).find((k) => !(k in backend.params));
  if (unknown) throw new Error(`${name} rendered unknown key "${unknown}": the ${kind} backend takes type, ${Object.keys(backend.params).join(", ")}`);
  return { kind, params };
}
