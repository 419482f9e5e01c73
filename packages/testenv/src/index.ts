// Public surface of the test environment. Only tests, e2e suites and the embedded
// `npm start` import this package.
export type { ControlPlane, ControlPlaneOptions } from "./types.ts";
export { startControlPlane } from "./controlplane/start.ts";
export { sharedControlPlane, stopSharedControlPlane } from "./shared.ts";
export { installCrds } from "./crds.ts";
