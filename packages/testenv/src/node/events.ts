// Core v1 Events from the node, so `kubectl describe` explains waits and failures.
import type { CoreV1Api, V1ObjectReference } from "@kubernetes/client-node";
import { errorMessage } from "./errors.ts";

export class EventRecorder {
  private seq = 0;
  constructor(
    private readonly core: CoreV1Api,
    private readonly component: string,
    private readonly host: string,
    private readonly log: (m: string) => void = () => undefined,
  ) {}

  /** Best effort: an Event that cannot be written must not stop the node. */
  async record(obj: V1ObjectReference, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const now = new Date();
    const namespace = obj.namespace ?? "default";
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${obj.name}.${now.getTime().toString(16)}${(this.seq++).toString(16)}`, namespace },
          involvedObject: obj,
          type, reason, message,
          source: { component: this.component, host: this.host },
          firstTimestamp: now, lastTimestamp: now, count: 1,
          reportingComponent: this.component, reportingInstance: this.host,
        },
      });
    } catch (err) {
      // Not fatal (namespace terminating, apiserver restarting), but worth a log line.
      this.log(`event ${reason} for ${namespace}/${obj.name}: ${errorMessage(err)}`);
    }
  }
}
