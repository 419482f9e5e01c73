// The repo's config: plain JSON at <prefix>/config, written once by init, read by every open.
// It fixes what every backup must agree on for chunks to dedup: the chunker's parameters and
// gear seed, the id key, the compression, the pack size. Encrypted repos keep the salt of the
// key derivation (keys.ts), a key check (a wrong key is told apart from a changed config) and an
// HMAC over the rest (canonical JSON without `mac`); their id key and gear seed are derived from
// the key, never stored. Unencrypted repos store a random id key and gear seed instead (ids.ts
// explains why a key at all).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { AgentError } from "../errors.ts";
import { type KeySource, kdfOf } from "../format/keys.ts";
import { canonicalJson } from "../manifest-auth.ts";
import { type CdcParams, DEFAULT_CDC, TREE_CDC, checkCdcParams } from "./cdc.ts";
import { type RepoKeys, configKeyCheck, deriveKeys, masterKey } from "./keys.ts";

export const CONFIG_FORMAT = "dp-agent-dedup";
/**
 * 16 MiB packs (restic's default): few objects (64 per GiB stored), two S3 multipart parts at the
 * default 8 MiB part size, and a small enough unit for a prune to repack.
 */
export const DEFAULT_PACK_SIZE = 16 << 20;
export const DEFAULT_ZSTD_LEVEL = 3;

export interface DedupConfig {
  format: typeof CONFIG_FORMAT;
  version: 1;
  /** The repo's random id (hex). */
  id: string;
  created: string;
  encryption: "aes-256-gcm" | "none";
  kdf: "raw" | "scrypt" | "none";
  /** Salt of the key derivation (hex, 16 bytes). */
  salt: string;
  chunker: CdcParams;
  treeChunker: CdcParams;
  /** Target size of a pack file in bytes. */
  packSize: number;
  /** zstd level; 0: blobs are not compressed. */
  zstdLevel: number;
  /** Unencrypted repos: the chunk id key and the gear seed (hex, 32 bytes each). */
  idKey?: string;
  gearSeed?: string;
  /** Encrypted repos: the key check (hex, 8 bytes) and the config's HMAC (hex). */
  keyCheck?: string;
  mac?: string;
}

/** The largest chunk a repo's chunkers cut (data or tree): the bound of a blob's plaintext. */
export function maxChunk(config: Pick<DedupConfig, "chunker" | "treeChunker">): number {
  return Math.max(config.chunker.max, config.treeChunker.max);
}

export interface InitOptions {
  chunker?: CdcParams;
  treeChunker?: CdcParams;
  packSize?: number;
  zstdLevel?: number;
  /** The key derivation's salt (16 bytes); random when absent. Tests pin it: the chunk cuts follow the keys derived from it. */
  salt?: Buffer;
}

export async function newConfig(key: KeySource | undefined, opts: InitOptions = {}): Promise<{ config: DedupConfig; keys: RepoKeys }> {
  if (opts.salt && opts.salt.length !== 16) throw new Error("internal: a dedup salt is 16 bytes");
  const salt = opts.salt ?? randomBytes(16);
  const config: DedupConfig = {
    format: CONFIG_FORMAT,
    version: 1,
    id: randomBytes(16).toString("hex"),
    created: new Date().toISOString(),
    encryption: key ? "aes-256-gcm" : "none",
    kdf: kdfOf(key),
    salt: salt.toString("hex"),
    chunker: checkCdcParams(opts.chunker ?? DEFAULT_CDC),
    treeChunker: checkCdcParams(opts.treeChunker ?? TREE_CDC),
    packSize: opts.packSize ?? DEFAULT_PACK_SIZE,
    zstdLevel: opts.zstdLevel ?? DEFAULT_ZSTD_LEVEL,
  };
  checkShape(config);
  let keys: RepoKeys;
  if (key) {
    keys = deriveKeys(await masterKey(key, salt), salt);
    config.keyCheck = configKeyCheck(keys);
    config.mac = macOf(config, keys);
  } else {
    keys = { id: randomBytes(32), gear: randomBytes(32) };
    config.idKey = keys.id.toString("hex");
    config.gearSeed = keys.gear.toString("hex");
  }
  return { config, keys };
}

function macOf(config: DedupConfig, keys: RepoKeys): string {
  if (!keys.config) throw new Error("internal: no config key");
  const { mac: _, ...rest } = config;
  return createHmac("sha256", keys.config).update(canonicalJson(rest)).digest("hex");
}

/** Parse, check and unlock a stored config with the given key (or none). */
export async function openConfig(text: string, key: KeySource | undefined, where: string): Promise<{ config: DedupConfig; keys: RepoKeys }> {
  let config: DedupConfig;
  try {
    config = JSON.parse(text) as DedupConfig;
  } catch {
    throw new AgentError(`${where} is not a dedup repository config (not JSON)`);
  }
  checkShape(config, where);
  if (config.encryption === "none") {
    // Whoever can write the repo can write an unencrypted config: with a key, refuse it (as objects are refused).
    if (key) throw new AgentError(`${where}: the repository is not encrypted, but an encryption key is set: refusing a repository written without the key`);
    const hex32 = /^[0-9a-f]{64}$/;
    if (!hex32.test(config.idKey ?? "") || !hex32.test(config.gearSeed ?? "")) throw new AgentError(`${where} is corrupt (no id key or gear seed)`);
    return { config, keys: { id: Buffer.from(config.idKey!, "hex"), gear: Buffer.from(config.gearSeed!, "hex") } };
  }
  if (!key) throw new AgentError(`${where}: the repository is encrypted: set DP_ENCRYPTION_KEY or DP_ENCRYPTION_KEY_FILE`);
  if (kdfOf(key) !== config.kdf) throw new AgentError(`${where}: the repository was created with a ${config.kdf === "raw" ? "raw key" : "passphrase"}, not a ${key.kind === "raw" ? "raw key" : "passphrase"}`);
  const keys = deriveKeys(await masterKey(key, Buffer.from(config.salt, "hex")), Buffer.from(config.salt, "hex"));
  if (config.keyCheck !== configKeyCheck(keys)) throw new AgentError(`${where}: the encryption key is not the one the repository was created with`);
  const mac = Buffer.from(macOf(config, keys), "hex");
  if (typeof config.mac !== "string" || !/^[0-9a-f]{64}$/.test(config.mac) || !timingSafeEqual(mac, Buffer.from(config.mac, "hex"))) {
    throw new AgentError(`${where} is not authenticated by this repository's key: its mac does not match (changed after it was written): refusing it`);
  }
  return { config, keys };
}

function checkShape(c: DedupConfig, where = "config"): void {
  const bad = (why: string): AgentError => new AgentError(`${where} is not a usable dedup repository config (${why})`);
  if (!c || typeof c !== "object" || c.format !== CONFIG_FORMAT) throw bad("not a dp-agent dedup repository");
  if (c.version !== 1) throw bad(`version ${String(c.version)}`);
  if (!(c.encryption === "none" ? c.kdf === "none" : c.encryption === "aes-256-gcm" && (c.kdf === "raw" || c.kdf === "scrypt"))) throw bad("encryption");
  if (typeof c.salt !== "string" || !/^[0-9a-f]{32}$/.test(c.salt)) throw bad("salt");
  try {
    checkCdcParams(c.chunker);
    checkCdcParams(c.treeChunker);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (!Number.isSafeInteger(c.packSize) || c.packSize < 4096 || c.packSize > 1 << 30) throw bad("pack size");
  if (!Number.isInteger(c.zstdLevel) || c.zstdLevel < 0 || c.zstdLevel > 19) throw bad("zstd level");
}
