// The dedup repo's keys: one master key (the raw key, or scrypt of the passphrase with the repo's
// salt: once per repo, not per object), and from it one subkey per purpose,
// HKDF-SHA256(master, salt, "dp-agent dedup v1 <purpose>"):
//   data   AES-256-GCM: blobs, pack headers, index files, snapshots (AAD tells them apart, seal.ts)
//   id     HMAC-SHA256 of a chunk's plaintext: its id (ids.ts)
//   gear   the chunker's gear table seed (gear.ts): cut points a repo reader cannot predict
//   config HMAC of the config document, and the key check
// The master never keys anything itself.
import { hkdfSync, scrypt } from "node:crypto";
import { type KeySource, keyCheck } from "../format/keys.ts";

// The same cost as objects' (format/keys.ts): ~100 ms and 32 MiB, once per repo opened.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export interface RepoKeys {
  /** AES-256-GCM key of everything sealed; undefined in an unencrypted repo. */
  data?: Buffer;
  /** HMAC-SHA256 key of chunk ids. */
  id: Buffer;
  /** Seed of the gear table. */
  gear: Buffer;
  /** HMAC key of the config document (encrypted repos). */
  config?: Buffer;
}

export async function masterKey(source: KeySource, salt: Buffer): Promise<Buffer> {
  if (source.kind === "raw") return source.key;
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(source.passphrase.normalize("NFC"), salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** The subkeys of an encrypted repo. */
export function deriveKeys(master: Buffer, salt: Buffer): Required<RepoKeys> {
  const sub = (purpose: string): Buffer => Buffer.from(hkdfSync("sha256", master, salt, `dp-agent dedup v1 ${purpose}`, 32));
  return { data: sub("data"), id: sub("id"), gear: sub("gear"), config: sub("config") };
}

/** 8 bytes in the config that tell a wrong key from a changed config. */
export function configKeyCheck(keys: RepoKeys): string {
  if (!keys.config) throw new Error("internal: an unencrypted repo has no key check");
  return keyCheck(keys.config).toString("hex");
}
