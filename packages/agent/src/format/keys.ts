import { createHmac, hkdfSync, scrypt } from "node:crypto";
import { AgentError } from "../errors.ts";
import type { Kdf } from "./header.ts";

/** The user's key as given: 32 raw bytes, or a passphrase stretched per object with scrypt. */
export type KeySource = { kind: "raw"; key: Buffer } | { kind: "passphrase"; passphrase: string };

// scrypt cost for passphrases: ~100 ms and 32 MiB once per object.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/**
 * Read a key as the env gives it: 64 hex digits or base64 of 32 bytes is a raw key,
 * anything else (at least 12 characters) a passphrase.
 */
export function parseKey(text: string | Buffer): KeySource {
  if (Buffer.isBuffer(text)) {
    // A 32-byte binary key file (e.g. `head -c32 /dev/urandom`) is used as is.
    if (text.length === 32 && !/^[\x20-\x7e]*$/.test(text.toString("latin1"))) return { kind: "raw", key: Buffer.from(text) };
    text = text.toString("utf8");
  }
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return { kind: "raw", key: Buffer.from(t, "hex") };
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t, "base64");
    if (b.length === 32) return { kind: "raw", key: b };
  }
  if (t.length < 12) throw new AgentError("encryption key is too short: give 32 bytes as hex/base64 or a passphrase of at least 12 characters");
  return { kind: "passphrase", passphrase: t };
}

export function kdfOf(source: KeySource | undefined): Kdf {
  return source === undefined ? "none" : source.kind === "raw" ? "raw" : "scrypt";
}

/** The per-object AES key: HKDF(master, salt), where master is the raw key or scrypt(passphrase, salt). */
export function objectKey(source: KeySource, salt: Buffer): Promise<Buffer> {
  return subkey(source, salt, "dp-agent object v1");
}

/**
 * The key of manifest.json's HMAC: derived like an object key, under its own HKDF info, from the
 * manifest's random `macSalt` (scrypt needs a salt; a raw key gets the same treatment).
 */
export function manifestKey(source: KeySource, salt: Buffer): Promise<Buffer> {
  return subkey(source, salt, "dp-agent manifest v1");
}

// HKDF-SHA256(master, salt, info): one master key, independent subkeys per purpose.
async function subkey(source: KeySource, salt: Buffer, info: string): Promise<Buffer> {
  const master =
    source.kind === "raw"
      ? source.key
      : await new Promise<Buffer>((resolve, reject) =>
          scrypt(source.passphrase.normalize("NFC"), salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
        );
  return Buffer.from(hkdfSync("sha256", master, salt, info, 32));
}

/** 8 bytes stored in the header so a wrong key is reported as such, not as corruption. */
export function keyCheck(key: Buffer): Buffer {
  return createHmac("sha256", key).update("dp-agent key check").digest().subarray(0, 8);
}
