// What the parts of a dedup repo share once it is open.
import type { RepoBackend } from "@dataprotection/storage";
import type { BlobCodec } from "./blob.ts";
import type { DedupConfig } from "./config.ts";
import type { Layout } from "./format.ts";
import type { RepoKeys } from "./keys.ts";
import type { RepoIndex } from "./repo-index.ts";
import type { Sealer } from "./seal.ts";

export interface RepoStore {
  backend: RepoBackend;
  layout: Layout;
  config: DedupConfig;
  keys: RepoKeys;
  sealer: Sealer;
  codec: BlobCodec;
  index: RepoIndex;
}
