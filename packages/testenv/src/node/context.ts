import type { CoreV1Api } from "@kubernetes/client-node";
import type { EventRecorder } from "./events.ts";
import type { NodeFacts } from "./fieldref.ts";
import type { ProcessTable } from "./processes.ts";
import type { ImageFiles } from "./types.ts";

/** What pod workers share with the node. */
export interface NodeContext {
  core: CoreV1Api;
  facts: NodeFacts;
  dataDir: string;
  caPem: string;
  /** Host and port pods use to reach the API server (KUBERNETES_SERVICE_HOST/PORT). */
  apiHost: string;
  apiPort: string;
  procs: ProcessTable;
  images: ImageFiles[];
  /** Each container gets a private copy-on-write root (launch.ts); false: the host's. */
  privateRoots: boolean;
  /** Set when the node is killed as a dead node would be (stop with keepNode): no more status writes or Events. */
  dead?: boolean;
  events: EventRecorder;
  log(message: string): void;
}
