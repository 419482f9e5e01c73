// Public surface of the test environment. Only tests, e2e suites and the embedded
// `npm start` import this package.
export type { ControlPlane, ControlPlaneOptions } from "./types.ts";
export { startControlPlane } from "./controlplane/start.ts";
export { sharedControlPlane, stopSharedControlPlane } from "./shared.ts";
export { installCrds } from "./crds.ts";
export type { ImageFiles, LocalNode, LocalNodeOptions } from "./node/types.ts";
export { startLocalNode } from "./node/start.ts";
export { nodeCount, startLocalNodes } from "./node/nodes.ts";
export { PROJECT_IMAGES, operatorNodeFlags, restartSharedNode, sharedCluster, stopSharedNode, type Cluster } from "./node/shared-cluster.ts";
export { helmBinary } from "./helm.ts";
export { startToxiproxy, toxiproxyBinary, type Toxic, type ToxiProxy, type ToxiproxyServer } from "./toxiproxy.ts";
export { freePort } from "./controlplane/ports.ts";
export { snapshotCrds } from "./snapshot/crds.ts";
export type { VolumeSnapshot, VolumeSnapshotContent, VolumeSnapshotClass } from "./snapshot/types.ts";
export { describeNamespace, until, untilInNamespace, testNamespace } from "./helpers.ts";
