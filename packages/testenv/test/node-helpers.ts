// Helpers for the local-node integration tests: namespaces, polling, small pod specs.
import type { V1Pod } from "@kubernetes/client-node";

// Polling and namespaces are shared with the e2e suites.
export { testNamespace, until } from "../src/helpers.ts";

export function containerTerminated(pod: V1Pod, container: string) {
  return pod.status?.containerStatuses?.find((c) => c.name === container)?.state?.terminated;
}
