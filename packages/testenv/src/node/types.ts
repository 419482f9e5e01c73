/** Options for {@link startLocalNode}. */
export interface LocalNodeOptions {
  /** Node name (default local-node-0). */
  name?: string;
  /** Where pods, PVs, snapshots and logs live. Default: a new temp dir, removed by stop(). */
  dataDir?: string;
  /**
   * Be the storage node: install the snapshot CRDs and the `local-path` classes, serve Immediate
   * claims and CSI snapshots. Default true; the other nodes of a cluster set false and provision
   * only the WaitForFirstConsumer claims (`local-path-wffc`) the scheduler places on them.
   */
  storage?: boolean;
  /** Its topology.kubernetes.io/zone label (default none). */
  zone?: string;
  /** Delete the Node object on stop() (default true), so no NotReady node lingers. */
  deleteNodeOnStop?: boolean;
  /** Where the node's own messages go (default: nowhere). */
  log?: (message: string) => void;
  /** What images hold: the node runs commands on the host and ignores images, so these give it their files. */
  images?: ImageFiles[];
  /**
   * Give each container a private root: the host's files through a copy-on-write layer that is
   * discarded when the container ends, as on a real node (default true; DP_NODE_PRIVATE_ROOTS=0
   * turns it off for a comparison).
   */
  privateRoots?: boolean;
}

/**
 * The files an image keeps at `target` (e.g. /opt/dataprotection), found on the host at `source`:
 * a container whose image's repository is `repository` (any tag or digest) gets `source` bound
 * read-only at `target`, so a command the image runs by absolute path runs here too.
 */
export interface ImageFiles {
  repository: string;
  source: string;
  target: string;
}

/** A node that runs the pods scheduled to it as local processes. */
export interface LocalNode {
  name: string;
  dataDir: string;
  /** A container's log (stdout and stderr, all restarts), from the newest pod of that name. */
  logs(namespace: string, pod: string, container: string): Promise<string>;
  /** Pids of every container process running now. */
  pids(): number[];
  /**
   * Kills every container process and stops heartbeats; idempotent. `keepNode`: leave the Node
   * object (it goes NotReady), as a node that died would, to start it again on its data dir.
   */
  stop(how?: { keepNode?: boolean }): Promise<void>;
}
