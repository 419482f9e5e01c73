import { expect } from "chai";
import type { V1Job, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { Finalizer, type BackupTool, type RestoreJob } from "@dataprotection/api";
import type { KubeObject } from "@dataprotection/runtime";
import { repoAccessFor } from "../backuprepo/access.ts";
import { Kinds } from "../kinds.ts";
import { defaultTimeouts } from "../options.ts";
import { decide, type JobState, type Observation, type RestoreDecision as Decision } from "./decide.ts";
import { planRestore } from "./plan.ts";
import type { PvcView } from "./snapshot.ts";
import { backup, pod, repo, restoreJob, statefulSet, tool } from "./fixtures.test-util.ts";

const NOW = new Date("2024-05-01T12:00:00Z");
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const progressing = (phase: string, since = ago(1000)) => ({ type: "Progressing", status: "True", reason: phase, lastTransitionTime: since });
const verified = { type: "Verified", status: "True", reason: "ChecksumsMatch", lastTransitionTime: ago(1000) };

interface Row {
  name: string;
  phase?: string;
  conditions?: Array<{ type: string; status: string; reason: string; lastTransitionTime: string }>;
  annotations?: Record<string, string>;
  backups?: ReturnType<typeof backup>[];
  tools?: ReturnType<typeof tool>[];
  sts?: V1StatefulSet[];
  stsPods?: number;
  pods?: V1Pod[];
  jobs?: Record<string, JobState>;
  pvcs?: Record<string, PvcView>;
  snapshots?: Observation["snapshots"];
  /** Changes the RestoreJob the row observes. */
  restore?: (rj: RestoreJob) => RestoreJob;
  expect: (d: Decision) => void;
}

const physicalTool = tool("vol", { physical: ["pull"] });
const emptyImage = (t: BackupTool): BackupTool => ({ ...t, spec: { ...t.spec, image: "" } });
const withTemplate = (sts: V1StatefulSet, images: string[]): V1StatefulSet => ({ ...sts, spec: { ...sts.spec!, template: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } } } });
const snapOf = (name: string, volumeType = "data", sourceClaim = "data-db-0", readyToUse = true) => ({ name, volumeType, sourceClaim, readyToUse });
const ok = (phase: JobState["phase"], failures = 0, message?: string): JobState => ({ phase, failures, message });
const nameOf = (o: object) => (o as KubeObject).metadata.name;
const short = (k: { kind: string }) => (k.kind === "PersistentVolumeClaim" ? "PVC" : k.kind);
/** What the decision does to objects, in the order apply does it (the repo access prerequisite aside). */
const actions = (d: Decision) => [
  ...(d.prepare ?? []).flatMap((p) => (p.type === "recordReplicas" ? [`record:${p.statefulSet}=${p.replicas}`] : p.type === "scaleBack" ? [`scale:${p.statefulSet}=${p.replicas}`] : p.type === "deleteJob" ? [`deleteJob:${p.name}`] : [])),
  ...(d.creates ?? []).map((c) => `create${short(c.kind)}:${nameOf(c.object)}`),
  ...(d.patches ?? []).map((x) => `${x.kind.kind === "StatefulSet" ? "scale" : `patch${x.kind.kind}`}:${x.name}=${(x.patch as V1StatefulSet).spec?.replicas}`),
  ...(d.deletes ?? []).map((x) => `delete${short(x.kind)}:${x.name}`),
];
const reasons = (d: Decision) => (d.events ?? []).map((e) => e.reason);

const rows: Row[] = [
  {
    name: "a new RestoreJob becomes New with a startTimestamp and a Started Event",
    expect: (d) => {
      expect(d.status?.phase).to.equal("New");
      expect(d.status?.startTimestamp).to.equal(NOW.toISOString());
      expect(reasons(d)).to.deep.equal(["Started"]);
    },
  },
  {
    name: "fails when the Backup does not exist, naming it and the field to fix",
    phase: "New", backups: [],
    expect: (d) => {
      expect(d.status?.phase).to.equal("Failed");
      expect(d.status?.failureReason).to.equal('BackupNotFound: Backup "ns/full" not found: create it or change RestoreJob "ns/rj" .spec.backupJobName');
      expect(d.events?.[0]).to.include({ type: "Warning", reason: "BackupNotFound" });
    },
  },
  {
    name: "waits while the Backup is still InProgress",
    phase: "New", backups: [backup("full", { phase: "InProgress" })],
    expect: (d) => {
      expect(d.status?.phase).to.equal("New");
      expect(actions(d)).to.deep.equal([]);
      expect(d.requeueAfterMs).to.be.greaterThan(0);
    },
  },
  {
    name: "fails when no StatefulSet matches the selector, before verifying anything",
    phase: "New", sts: [],
    expect: (d) => {
      expect(d.status?.failureReason).to.match(/^TargetNotFound: no StatefulSet in namespace "ns" matches RestoreJob "ns\/rj"/);
      expect(actions(d)).to.deep.equal([]);
    },
  },
  {
    name: "fails when two StatefulSets match the selector, naming both",
    phase: "New", sts: [statefulSet("a", 1), statefulSet("b", 1)],
    expect: (d) => expect(d.status?.failureReason).to.match(/^TargetAmbiguous: 2 StatefulSets \(a, b\) match/),
  },
  {
    name: "starts the verification Job first (the target is not touched)",
    phase: "New",
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["createJob:rj-verify"]);
      expect(reasons(d)).to.deep.equal(["Verifying"]);
      expect(d.status?.phase).to.equal("New");
    },
  },
  {
    name: "fails with the agent's message when verification fails, and never scales the target",
    phase: "New", jobs: { "rj-verify": ok("failed", 1, 'container "verify-0" exited 1: dp-agent: object "dir.dpar" chunk 3: checksum mismatch') },
    expect: (d) => {
      expect(d.status?.phase).to.equal("Failed");
      expect(d.status?.failureReason).to.contain('VerificationFailed: Backup "ns/full" failed verification, the target was not touched: container "verify-0" exited 1: dp-agent: object "dir.dpar"');
      expect(actions(d)).to.deep.equal([]);
      expect(d.status?.completionTimestamp).to.equal(NOW.toISOString());
    },
  },
  {
    name: "tells a repo it could not reach (dp-agent exit 75, after the Job's retries) from a bad backup, and never scales the target",
    phase: "New", jobs: { "rj-verify": { ...ok("failed", 4, 'container "verify-0" exited 75: dp-agent: cannot reach S3 endpoint http://s3:9000 to read s3://b/ns/full/manifest.json (ECONNRESET): check the endpoint and network'), exitCode: 75 } },
    expect: (d) => {
      expect(d.status?.phase).to.equal("Failed");
      expect(d.status?.failureReason).to.match(/^StorageUnreachable: could not read Backup "ns\/full" from its repo to verify it \(4 attempt\(s\)\), the target was not touched: container "verify-0" exited 75: dp-agent: cannot reach S3 endpoint/);
      expect(d.status?.failureReason).to.not.contain("take a new backup");
      expect(actions(d)).to.deep.equal([]);
    },
  },
  {
    name: "names the repo when a restore step ended on dp-agent's unreachable status (75), and scales the target back",
    phase: "InProgressPhy", conditions: [verified], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 0)], jobs: { "rj-restore": { ...ok("failed", 1, 'container "restore-0" exited 75: dp-agent: cannot reach S3 endpoint http://s3:9000 (ECONNRESET)'), exitCode: 75 } },
    expect: (d) => {
      expect(d.status?.phase).to.equal("Failed");
      expect(d.status?.failureReason).to.match(/^StorageUnreachable: restore Job "rj-restore" failed after 1 attempt\(s\): container "restore-0" exited 75: /);
    },
  },
  {
    name: "moves to InProgressPhy once verified",
    phase: "New", jobs: { "rj-verify": ok("succeeded") },
    expect: (d) => {
      expect(d.status?.phase).to.equal("InProgressPhy");
      expect(reasons(d)).to.deep.equal(["Verified", "ScalingDown"]);
      expect(d.status?.conditions?.find((c) => c.type === "Verified")?.status).to.equal("True");
    },
  },
  {
    name: "skips verification of a backup dp-agent did not write, with a Warning",
    phase: "New", backups: [backup("full", { checksum: false })],
    expect: (d) => {
      expect(d.status?.phase).to.equal("InProgressPhy");
      expect(d.events?.[0]).to.include({ type: "Warning", reason: "VerificationSkipped" });
    },
  },
  {
    name: "records the original replicas before scaling down",
    phase: "InProgressPhy", conditions: [verified], sts: [statefulSet("db", 3)],
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["record:db=3"]);
      expect(d.status, "the record moves the resourceVersion: a status with it would conflict").to.equal(undefined);
      expect(d.requeueAfterMs).to.equal(1);
    },
  },
  {
    name: "scales the StatefulSet to 0 once its replicas are recorded",
    phase: "InProgressPhy", conditions: [verified], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 3)],
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["scale:db=0"]);
      expect(d.patches, "after the status: nothing in it depends on the scale-down").to.deep.equal([{ kind: Kinds.StatefulSet, name: "db", namespace: "ns", patch: { spec: { replicas: 0 } } }]);
      expect(reasons(d)).to.deep.equal(["ScalingDown"]);
    },
  },
  {
    name: "waits for the pods to go before restoring",
    phase: "InProgressPhy", conditions: [verified], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 0, 1)], stsPods: 1,
    expect: (d) => expect(actions(d)).to.deep.equal([]),
  },
  {
    name: "starts the restore Job once the StatefulSet has no pods",
    phase: "InProgressPhy", conditions: [verified], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 0)],
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["createJob:rj-restore"]);
      expect(reasons(d)).to.deep.equal(["Restoring"]);
    },
  },
  {
    name: "runs a tool whose image is empty (the KubeBlocks 0.6 pitr tools) with the image of the StatefulSet pod template's first container",
    phase: "InProgressPhy", conditions: [verified], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" },
    tools: [emptyImage(physicalTool)], sts: [withTemplate(statefulSet("db", 0), ["apecloud/spilo:14.8.0", "exporter:1"])],
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["createJob:rj-restore"]);
      expect((d.creates![0]!.object as V1Job).spec!.template.spec!.containers.map((c) => c.image)).to.deep.equal(["apecloud/spilo:14.8.0"]);
    },
  },
  {
    name: "fails a tool with an empty image before verifying or stopping anything when the StatefulSet's pod template names no image",
    phase: "New", tools: [emptyImage(physicalTool)], sts: [statefulSet("db", 2)],
    expect: (d) => {
      expect(d.status?.failureReason).to.equal(`ToolUnsuitable: BackupTool "vol" has an empty image, which means the target's first container's image, but the first container of StatefulSet "db"'s pod template names none: set the tool's .spec.image`);
      expect(actions(d)).to.deep.equal([]);
    },
  },
  {
    name: "fails a targetless logical restore whose tool has an empty image: there is no target to take it from",
    phase: "New", tools: [{ ...emptyImage(tool("vol", { logical: ["psql < x"] })), spec: { ...emptyImage(tool("vol", { logical: ["psql < x"] })).spec, targetless: true } }],
    restore: (rj) => ({ ...rj, spec: { ...rj.spec, target: { labelsSelector: {} }, targetVolumes: [], targetVolumeMounts: [] } }),
    expect: (d) => {
      expect(d.status?.failureReason).to.match(/^ToolUnsuitable: BackupTool "vol" has an empty image, .* but this restore runs without a target pod \(targetless\) to take it from: set the tool's .spec.image$/);
      expect(actions(d)).to.deep.equal([]);
    },
  },
  {
    name: "does not scale down again while the restore Job runs",
    phase: "InProgressPhy", conditions: [verified], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 3)], jobs: { "rj-restore": ok("running") },
    expect: (d) => expect(actions(d)).to.deep.equal([]),
  },
  {
    name: "scales back and completes when the restore Job succeeds",
    phase: "InProgressPhy", conditions: [verified], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 0)], jobs: { "rj-restore": ok("succeeded") },
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["scale:db=3"]);
      expect(d.prepare, "before the status that says WorkloadRestarted").to.deep.equal([{ type: "scaleBack", statefulSet: "db", replicas: 3 }]);
      expect(d.status?.phase).to.equal("Completed");
      expect(d.status?.conditions?.find((c) => c.type === "WorkloadRestarted")?.status).to.equal("True");
      expect(reasons(d)).to.deep.equal(["ScalingUp", "Completed"]);
      expect(d.requeueAfterMs).to.equal(undefined);
      expect(d.finalizer).to.deep.equal({ remove: Finalizer });
    },
  },
  {
    name: "scales back also when the restore Job fails, recording the attempts",
    phase: "InProgressPhy", conditions: [verified], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 0)], jobs: { "rj-restore": ok("failed", 3, 'container "restore-0" exited 2') },
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["scale:db=3"]);
      expect(d.status?.phase).to.equal("Failed");
      expect(d.status?.attempts).to.equal(3);
      expect(d.status?.failureReason).to.contain('JobFailed: restore Job "rj-restore" failed after 3 attempt(s): container "restore-0" exited 2');
    },
  },
  {
    name: "a Failed RestoreJob whose scale-back was lost scales back on the next reconcile",
    phase: "Failed", annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 0)],
    expect: (d) => expect(actions(d)).to.deep.equal(["scale:db=3"]),
  },
  {
    name: "a Completed RestoreJob leaves a StatefulSet the user rescaled alone",
    phase: "Completed", annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=3" }, sts: [statefulSet("db", 5)],
    conditions: [{ type: "WorkloadRestarted", status: "True", reason: "ScaledBack", lastTransitionTime: ago(1) }],
    expect: (d) => expect(actions(d)).to.deep.equal([]),
  },
  {
    name: "logical ReadWrite: one Job, for the primary pod only",
    phase: "InProgressLogic", tools: [tool("vol", { logical: ["psql"], scope: "ReadWrite" })], conditions: [progressing("InProgressLogic")],
    pods: [pod("db-0", { role: "secondary" }), pod("db-1", { role: "primary" })],
    expect: (d) => expect(actions(d)).to.deep.equal(["createJob:rj-logic-db-1"]),
  },
  {
    name: "logical All: one Job per pod",
    phase: "InProgressLogic", tools: [tool("vol", { logical: ["psql"] })], conditions: [progressing("InProgressLogic")],
    pods: [pod("db-0"), pod("db-1")],
    expect: (d) => expect(actions(d).filter((a) => a.startsWith("createJob"))).to.deep.equal(["createJob:rj-logic-db-0", "createJob:rj-logic-db-1"]),
  },
  {
    name: "Jobs come after their repo's Secret copies and PVC (one prerequisite per decision), and are built from the access it names",
    phase: "InProgressLogic", tools: [tool("vol", { logical: ["psql"] })], conditions: [progressing("InProgressLogic")],
    pods: [pod("db-0"), pod("db-1")],
    expect: (d) => {
      const access = repoAccessFor(repo());
      expect(d.prepare).to.deep.equal([{ type: "repoAccess", repo: repo(), access }]);
      expect(d.creates).to.have.length(2);
      for (const c of d.creates ?? []) expect((c.object as V1Job).spec?.template.spec?.volumes).to.deep.include(access.volumes[0]);
    },
  },
  {
    name: "logical: waits for every target pod to be ready",
    phase: "InProgressLogic", tools: [tool("vol", { logical: ["psql"] })], conditions: [progressing("InProgressLogic")],
    pods: [pod("db-0"), pod("db-1", { ready: false })],
    expect: (d) => {
      expect(actions(d)).to.deep.equal([]);
      expect(d.status?.phase).to.equal("InProgressLogic");
    },
  },
  {
    name: "logical: fails when the pods are not ready within targetPodWaitMs",
    phase: "InProgressLogic", tools: [tool("vol", { logical: ["psql"] })], conditions: [progressing("InProgressLogic", ago(defaultTimeouts.targetPodWaitMs + 1))],
    pods: [pod("db-0", { ready: false })],
    expect: (d) => expect(d.status?.failureReason).to.match(/^TargetPodNotFound: 0 of 1 target pods/),
  },
  {
    name: "logical: completes when every pod's Job succeeded",
    phase: "InProgressLogic", tools: [tool("vol", { logical: ["psql"] })], conditions: [progressing("InProgressLogic")],
    pods: [pod("db-0"), pod("db-1")], jobs: { "rj-logic-db-0": ok("succeeded"), "rj-logic-db-1": ok("succeeded") },
    expect: (d) => {
      expect(d.status?.phase).to.equal("Completed");
      expect(d.events?.at(-1)?.message).to.equal('restored Backup "full" through pod(s) "db-0", "db-1"');
    },
  },
  {
    name: "snapshot: replaces the existing PVC with one provisioned from the VolumeSnapshot",
    phase: "InProgressPhy", backups: [backup("full", { type: "snapshot", snapshot: "snap-1", checksum: false })], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=1" },
    sts: [statefulSet("db", 0)], pvcs: { "data-db-0": { ours: false, terminating: false, bound: true } }, snapshots: [snapOf("snap-1")],
    expect: (d) => expect(actions(d)).to.deep.equal(["deletePVC:data-db-0"]),
  },
  {
    name: "snapshot: creates the PVC from the snapshot once the old one is gone",
    phase: "InProgressPhy", backups: [backup("full", { type: "snapshot", snapshot: "snap-1", checksum: false })], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=1" },
    sts: [statefulSet("db", 0)], snapshots: [snapOf("snap-1")],
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["createPVC:data-db-0"]);
      const pvc = d.creates![0]!.object as V1PersistentVolumeClaim;
      expect(pvc.spec?.dataSource).to.deep.equal({ apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "snap-1" });
      expect(pvc.spec?.storageClassName).to.equal("fast");
      expect(pvc.spec?.resources?.requests?.storage).to.equal("2Gi");
    },
  },
  {
    name: "snapshot: waits, before stopping anything, until the target claim's snapshot is readyToUse",
    phase: "New", backups: [backup("full", { type: "snapshot", snapshot: "snap-1", checksum: false })],
    sts: [statefulSet("db", 1)], snapshots: [snapOf("snap-1", "data", "data-db-0", false)],
    expect: (d) => {
      expect(d.status?.phase).to.equal("New");
      expect(actions(d)).to.deep.equal([]);
    },
  },
  {
    name: "snapshot: fails before stopping anything when a target claim has no snapshot of its volume type",
    phase: "New", backups: [backup("full", { type: "snapshot", snapshot: "snap-1", checksum: false })],
    sts: [statefulSet("db", 1)], snapshots: [snapOf("snap-1-log", "log", "log-db-0")],
    expect: (d) => {
      expect(d.status?.phase).to.equal("Failed");
      expect(actions(d)).to.deep.equal([]);
      expect(d.status?.failureReason).to.match(/^SnapshotNotReady: .*target claim "data-db-0" is a data volume but the backup has no data VolumeSnapshot \(it has "snap-1-log" \(log\)\)/);
    },
  },
  {
    name: "snapshot: scales back and completes once our PVC is bound",
    phase: "InProgressPhy", backups: [backup("full", { type: "snapshot", snapshot: "snap-1", checksum: false })], annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=1" },
    sts: [statefulSet("db", 0)], pvcs: { "data-db-0": { ours: true, terminating: false, bound: true } }, snapshots: [snapOf("snap-1")],
    expect: (d) => {
      expect(actions(d)).to.deep.equal(["scale:db=1"]);
      expect(d.status?.phase).to.equal("Completed");
    },
  },
];

describe("restorejob decide", () => {
  for (const r of rows) {
    it(r.name, () => {
      const plain = restoreJob({ phase: r.phase, annotations: r.annotations, conditions: r.conditions });
      const rj = r.restore ? r.restore(plain) : plain;
      const plan = planRestore({
        restore: rj,
        backups: r.backups ?? [backup("full")],
        tools: new Map((r.tools ?? [physicalTool]).map((t) => [t.metadata!.name!, t])),
        repos: new Map([["repo", repo()]]),
      });
      const sts = r.sts ?? [statefulSet("db", 2)];
      const recordedRaw = r.annotations?.["dataprotection.kubeblocks.io/original-replicas"];
      const obs: Observation = {
        restore: rj,
        plan,
        statefulSets: sts,
        statefulSetPods: new Map(sts.map((s) => [s.metadata!.name!, r.stsPods ?? 0])),
        recorded: recordedRaw ? { name: recordedRaw.split("=")[0]!, replicas: Number(recordedRaw.split("=")[1]) } : undefined,
        pods: r.pods ?? [],
        jobs: new Map(Object.entries(r.jobs ?? {})),
        pvcs: new Map(Object.entries(r.pvcs ?? {})),
        snapshots: r.snapshots,
        agentImage: "agent:1",
        timeouts: defaultTimeouts,
      };
      r.expect(decide(obs, NOW));
    });
  }
});
