// manifest.json's authentication: with a repo key, an HMAC over a canonical serialization of the
// whole manifest (backup id included), so whoever can write the repo but has no key can neither
// edit a manifest nor pass another backup's off as this one's. Without a key a manifest is plain
// JSON anyone can rewrite: the checksums the operator recorded (DP_EXPECT_CHECKSUMS) are the
// defence there.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { AgentError } from "./errors.ts";
import { type KeySource, keyCheck, manifestKey } from "./format/keys.ts";
import type { Manifest } from "./manifest.ts";

/** What a manifest is checked against and sealed with. */
export interface ManifestTrust {
  /** The repo key (DP_ENCRYPTION_KEY / _FILE): manifests are authenticated with it. */
  key?: KeySource;
  /** DP_BACKUP_ID: the backup this manifest must belong to. */
  backupId?: string;
  /** Told when a writer adopts a manifest written before manifests were authenticated. */
  warn?: (line: string) => void;
}

/**
 * "read": the manifest decides what is verified, so it must be authenticated (with a key) and
 * belong to DP_BACKUP_ID. "update": a writer's read-modify-write; it also takes a manifest from
 * before authentication and binding (no mac, macSalt, macKeyCheck or backupId at all: written by an older
 * dp-agent earlier in the same backup, e.g. a log archive running across an upgrade) and seals
 * it from then on.
 */
export type ManifestUse = "read" | "update";

/** JSON with object keys sorted (UTF-16 order) and no whitespace: equal values, equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : canonicalJson(x))).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

// A passphrase costs an scrypt per derivation: a read-modify-write derives once per salt.
const keys = new WeakMap<KeySource, Map<string, Promise<Buffer>>>();

function macKey(source: KeySource, salt: string): Promise<Buffer> {
  let bySalt = keys.get(source);
  if (!bySalt) keys.set(source, (bySalt = new Map()));
  let k = bySalt.get(salt);
  if (!k) bySalt.set(salt, (k = manifestKey(source, Buffer.from(salt, "hex"))));
  return k;
}

/** HMAC-SHA256 (hex) of the manifest without its `mac`, keyed by manifestKey(key, macSalt). */
async function macOf(m: Manifest, source: KeySource, salt: string): Promise<string> {
  const { mac: _, ...rest } = m;
  return createHmac("sha256", await macKey(source, salt)).update(canonicalJson(rest)).digest("hex");
}

/** Before writing: record the backup id and, with a key, the mac (without one, drop a stale mac). */
export async function sealManifest(m: Manifest, trust: ManifestTrust): Promise<void> {
  if (trust.backupId !== undefined) m.backupId = trust.backupId;
  delete m.mac;
  if (!trust.key) {
    delete m.macSalt;
    delete m.macKeyCheck;
    return;
  }
  if (typeof m.macSalt !== "string" || !/^[0-9a-f]{32}$/.test(m.macSalt)) m.macSalt = randomBytes(16).toString("hex");
  m.macKeyCheck = keyCheck(await macKey(trust.key, m.macSalt)).toString("hex");
  m.mac = await macOf(m, trust.key, m.macSalt);
}

/** Refuse (AgentError) a manifest this repo's key does not authenticate, or another backup's. */
export async function checkManifest(m: Manifest, backupPath: string, trust: ManifestTrust, use: ManifestUse): Promise<void> {
  const of = `manifest.json of ${backupPath}`;
  if (trust.key) {
    const legacy = m.mac === undefined && m.macSalt === undefined && m.macKeyCheck === undefined && m.backupId === undefined;
    // A legacy manifest is read only for a backup that is not bound (no DP_BACKUP_ID: the operator
    // gives none for a Backup made before binding), so old backups stay restorable; a bound
    // backup's manifest stripped of its mac is refused.
    const legacyRead = legacy && use === "read" && trust.backupId === undefined;
    if (m.mac === undefined && !(legacy && use === "update") && !legacyRead) {
      throw new AgentError(
        `${of} is not authenticated by this repository's key: it has no mac (written without the key, by a dp-agent from before authenticated manifests, or with its mac removed): refusing it`,
      );
    }
    if (m.mac !== undefined && !(await macMatches(m, trust.key))) {
      if (typeof m.macSalt === "string" && /^[0-9a-f]{32}$/.test(m.macSalt) && m.macKeyCheck !== keyCheck(await macKey(trust.key, m.macSalt)).toString("hex")) {
        throw new AgentError(`${of} is not authenticated by this repository's key: it was written with another key (the encryption key is not the one this backup was written with, or the manifest was changed)`);
      }
      throw new AgentError(`${of} is not authenticated by this repository's key: its mac does not match (changed after it was written, or written with another key): refusing it`);
    }
    if (legacy && use === "update") trust.warn?.(`${of} was written before manifests were authenticated: it is sealed with this repository's key from now on`);
    if (legacyRead) trust.warn?.(`warning: ${of} was written before manifests were authenticated: it is trusted as a backup made before then (no DP_BACKUP_ID)`);
  }
  if (trust.backupId === undefined) return;
  if (m.backupId === undefined) {
    if (use === "update") return;
    throw new AgentError(
      `${of} predates backup binding (it records no backup id) and cannot show it belongs to backup ${trust.backupId} (DP_BACKUP_ID): refusing it; give the checksums the Backup recorded (DP_EXPECT_CHECKSUMS)`,
    );
  }
  if (m.backupId !== trust.backupId) {
    throw new AgentError(`${of} belongs to another backup: it records backup ${String(m.backupId)}, this is backup ${trust.backupId} (DP_BACKUP_ID): refusing it`);
  }
}

async function macMatches(m: Manifest, key: KeySource): Promise<boolean> {
  if (typeof m.mac !== "string" || !/^[0-9a-f]{64}$/.test(m.mac) || typeof m.macSalt !== "string" || !/^[0-9a-f]{32}$/.test(m.macSalt)) return false;
  return timingSafeEqual(Buffer.from(m.mac, "hex"), Buffer.from(await macOf(m, key, m.macSalt), "hex"));
}
