// Pure: dp-agent's storage settings for a Tool repo, from the provider's
// agentConfigTemplate (key=value lines) or, without one, from the repo's config.
import type { BackupRepo, StorageProvider } from "@dataprotection/api";
import { renderTemplate } from "./template.ts";
import { templateValuesWithoutSecrets } from "./values.ts";

/** Settings dp-agent understands (mapped to DP_S3_* env). */
export interface AgentStorageConfig {
  type: string;
  bucket?: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: string;
  prefix?: string;
}

const KNOWN = ["type", "bucket", "endpoint", "region", "forcePathStyle", "prefix"] as const;

/** Rendered with the repo's config only: credential values never reach env values. */
export function agentConfigFor(provider: StorageProvider | undefined, repo: BackupRepo): AgentStorageConfig {
  const tpl = provider?.spec.agentConfigTemplate;
  if (!tpl) {
    const c = repo.spec.config ?? {};
    return { type: "s3", bucket: c.bucket, endpoint: c.endpoint, region: c.region, forcePathStyle: c.forcePathStyle, prefix: c.prefix };
  }
  const name = `StorageProvider "${provider?.metadata?.name}" .spec.agentConfigTemplate`;
  const text = renderTemplate(name, tpl, templateValuesWithoutSecrets(repo));
  const out: AgentStorageConfig = { type: "s3" };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`${name} rendered "${line}": each line must be key=value`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (!(KNOWN as readonly string[]).includes(key)) throw new Error(`${name} rendered unknown key "${key}": use ${KNOWN.join(", ")}`);
    if (value) out[key as (typeof KNOWN)[number]] = value;
  }
  return out;
}
