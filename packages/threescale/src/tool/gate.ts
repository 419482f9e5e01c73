// The restore gate (pure): the ConfigMap through which an APIManagerRestore tells the 3scale
// tool's restore, running in its RestoreJob, that the databases the APIManager runs itself were
// restored into the servers the restored APIManager made (controller/restore-decide.ts). The
// routes resync waits for it, so zync resyncs from the restored data, not from an empty database.
// Named after the RestoreJob (DP_RESTORE_JOB_NAME in the tool's env): one gate per restore.
import { childName } from "@dataprotection/runtime";

export const GATE_STATE_KEY = "state";
export const GATE_MESSAGE_KEY = "message";
export const GATE_COMPONENTS_KEY = "components";
export const GateState = { Waiting: "waiting", Restored: "restored", Failed: "failed" } as const;
export type GateState = (typeof GateState)[keyof typeof GateState];

export const restoreGateName = (restoreJobName: string): string => childName(restoreJobName, "databases");

export type GateVerdict =
  /** No gate (nothing to wait for) or the databases are restored: resync. */
  | { verdict: "go" }
  | { verdict: "wait"; components: string }
  | { verdict: "fail"; message: string };

/** What the tool does on reading the gate (`data` undefined: absent); `seen`: it was there before. */
export function gateVerdict(name: string, seen: boolean, data: Readonly<Record<string, string>> | undefined): GateVerdict {
  if (!data) {
    return seen
      ? { verdict: "fail", message: `ConfigMap "${name}" went away while the routes resync waited for the databases the APIManager runs: the APIManagerRestore ended or was deleted` }
      : { verdict: "go" };
  }
  const state = data[GATE_STATE_KEY];
  if (state === GateState.Restored) return { verdict: "go" };
  if (state === GateState.Waiting) return { verdict: "wait", components: data[GATE_COMPONENTS_KEY] ?? "" };
  if (state === GateState.Failed) return { verdict: "fail", message: data[GATE_MESSAGE_KEY] || "the APIManagerRestore failed restoring the databases the APIManager runs" };
  return { verdict: "fail", message: `ConfigMap "${name}" holds state ${JSON.stringify(String(state).slice(0, 40))}, not ${Object.values(GateState).join(", ")}` };
}
