import { availableParallelism } from "node:os";
import type { Transform } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { CompressStream, DecompressStream } from "zstd-napi";
import type { Compression } from "./format/header.ts";

export interface CompressionOptions {
  algorithm: Compression;
  /** zstd 1..19 (default 3), gzip 1..9 (default 6). */
  level?: number;
  /** zstd worker threads; 0 compresses on the main thread. Default: every core. */
  threads?: number;
}

/** A compressing Transform, or undefined for "none". */
export function compressor(o: CompressionOptions): Transform | undefined {
  switch (o.algorithm) {
    case "zstd":
      // With nbWorkers > 0 zstd compresses on its own threads while ours encrypts and does I/O.
      return new CompressStream({ compressionLevel: o.level ?? 3, nbWorkers: o.threads ?? availableParallelism() });
    case "gzip":
      return createGzip({ level: o.level ?? 6, chunkSize: 256 * 1024 });
    case "none":
      return undefined;
  }
}

export function decompressor(algorithm: Compression): Transform | undefined {
  switch (algorithm) {
    case "zstd":
      return new DecompressStream();
    case "gzip":
      return createGunzip({ chunkSize: 256 * 1024 });
    case "none":
      return undefined;
  }
}
