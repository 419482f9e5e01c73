// Deterministic pseudo-random bytes for tests and property tests (fast-check draws the seed;
// drawing every byte through fast-check would be slow for streams of tens of KiB).
import { createCipheriv, createHash } from "node:crypto";

/** `n` bytes from `seed`: AES-128-CTR keystream; `alphabet` < 256 folds them into fewer values (low-entropy data). */
export function bytesFrom(seed: number | string, n: number, alphabet = 256): Buffer {
  const key = createHash("sha256").update(`test data ${seed}`).digest();
  const out = createCipheriv("aes-128-ctr", key.subarray(0, 16), key.subarray(16, 32)).update(Buffer.alloc(n));
  if (alphabet < 256) for (let i = 0; i < n; i++) out[i] = 97 + (out[i] % alphabet);
  return out;
}
