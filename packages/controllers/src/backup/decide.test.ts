// Table-driven tests of the pure Backup decisions: validation, the datafile state machine, deletion.
import { expect } from "chai";
import { AccessMethod, AnnotationBackupDestination, AnnotationIsDefaultRepo, AnnotationPathPrefix, BackupDestinationPVC, Finalizer, LabelBackupRepoName, type Backup, type BackupRepo } from "@dataprotection/api";
import { repoAccessFor } from "../backuprepo/access.ts";
import { Kinds } from "../kinds.ts";
import { decideDatafile, startDatafile } from "./decide.ts";
import { decideDeletion, namespaceTerminating } from "./delete.ts";
import { pvcAccess } from "./destination.ts";
import { Reason } from "./reasons.ts";
import { backup, createdJobs, job, NOW, pod, policy, repo, tool, toolPod, writes } from "./testdata.ts";
import { validateNewBackup, type NewObservation } from "./validate.ts";

const base = (): NewObservation => ({
  backup: backup(), policy: policy(), tool: tool(), repos: [repo()], pods: [pod("db-0", { app: "db" })], now: NOW, targetPodWaitMs: 60_000,
});

describe("validateNewBackup", () => {
  const rows: Array<{ name: string; obs: (o: NewObservation) => NewObservation; want: string; text?: string }> = [
    { name: "resolves a valid backup", obs: (o) => o, want: "ok" },
    { name: "fails when the policy is missing", obs: (o) => ({ ...o, policy: undefined }), want: Reason.PolicyNotFound, text: 'BackupPolicy "ns/daily" not found' },
    { name: "fails when the policy lacks the type's section", obs: (o) => ({ ...o, backup: backup({ backupType: "logfile" }) }), want: Reason.PolicySectionMissing, text: ".spec.logfile" },
    { name: "fails when the tool is missing, naming the policy field", obs: (o) => ({ ...o, tool: undefined }), want: Reason.ToolNotFound, text: 'change BackupPolicy "ns/daily" .spec.datafile.backupToolName' },
    { name: "fails a statefulSet tool for a datafile backup", obs: (o) => ({ ...o, tool: tool({ deployKind: "statefulSet" }) }), want: Reason.ToolUnsuitable },
    { name: "fails a datafile backup with a restore-only tool (backupCommands: [], as KubeBlocks 0.6 pitr tools ship), naming the policy field", obs: (o) => ({ ...o, tool: tool({ backupCommands: [], type: "pitr", image: "" }) }), want: Reason.ToolUnsuitable, text: 'BackupTool "volume" has no backupCommands (a restore-only tool, like the KubeBlocks 0.6 pitr tools), so it cannot make a datafile backup: use a tool with backupCommands in BackupPolicy "ns/daily" .spec.datafile.backupToolName' },
    { name: "fails a logfile backup with a restore-only tool too, before its StatefulSet would loop on nothing", obs: (o) => ({ ...o, backup: backup({ backupType: "logfile" }), policy: { ...policy(), spec: { ...policy().spec, logfile: policy().spec.datafile } } as typeof o.policy, tool: tool({ backupCommands: [], type: "pitr", deployKind: "statefulSet" }) }), want: Reason.ToolUnsuitable, text: "cannot make a logfile backup" },
    { name: "takes a tool with an empty image (the target's first container's image is used)", obs: (o) => ({ ...o, tool: tool({ image: "" }) }), want: "ok" },
    { name: "fails a targetless tool with an empty image: no target to take the image from", obs: (o) => ({ ...o, tool: tool({ targetless: true, image: "" }), policy: policy({ target: { labelsSelector: {} } }), pods: [] }), want: Reason.ToolUnsuitable, text: "set the tool's .spec.image" },
    { name: "fails an incremental backup when the tool has no incremental commands", obs: (o) => ({ ...o, backup: backup({ parentBackupName: "p" }) }), want: Reason.ToolUnsuitable },
    { name: "fails when the named repo is missing", obs: (o) => ({ ...o, repos: [] }), want: Reason.RepoNotFound },
    { name: "fails when the named repo is being deleted", obs: (o) => ({ ...o, repos: [{ ...repo(), metadata: { ...repo().metadata, deletionTimestamp: "2024-05-01T09:00:00Z" as never } }] }), want: Reason.RepoNotReady, text: 'BackupRepo "repo" is being deleted' },
    { name: "fails on two default repos without a policy repo", obs: (o) => ({ ...o, policy: policy({ backupRepoName: undefined }), repos: [repo("a", { [AnnotationIsDefaultRepo]: "true" }), repo("b", { [AnnotationIsDefaultRepo]: "true" })] }), want: Reason.AmbiguousDefaultRepo },
    { name: "fails with no destination at all", obs: (o) => ({ ...o, policy: policy({ backupRepoName: undefined }), repos: [] }), want: Reason.NoBackupDestination },
    { name: "fails when target.secret is missing", obs: (o) => ({ ...o, policy: policy({ target: { labelsSelector: { matchLabels: { app: "db" } }, secret: { name: "cred" } } }), secretFound: false }), want: Reason.SecretNotFound, text: 'Secret "ns/cred"' },
    { name: "waits for a target pod within the bounded wait", obs: (o) => ({ ...o, pods: [] }), want: "wait" },
    { name: "fails without a target pod once the wait is over", obs: (o) => ({ ...o, pods: [], targetPodWaitMs: 500 }), want: Reason.TargetPodNotFound, text: "app=db" },
    { name: "does not take a Pending pod as the target", obs: (o) => ({ ...o, pods: [pod("db-0", { app: "db" }, "Pending")], targetPodWaitMs: 500 }), want: Reason.TargetPodNotFound, text: "none is Running" },
    { name: "waits for an InProgress parent", obs: (o) => ({ ...o, tool: tool({ incrementalBackupCommands: ["x"] }), backup: backup({ parentBackupName: "p" }), parent: { ...backup(), metadata: { name: "p", namespace: "ns" }, status: { phase: "InProgress" } } }), want: "wait" },
    { name: "fails when the tool's ServiceAccount is missing in the namespace", obs: (o) => ({ ...o, tool: tool({ serviceAccountName: "cli" }), serviceAccountFound: false }), want: Reason.ServiceAccountNotFound, text: 'ServiceAccount "ns/cli"' },
    { name: "runs a targetless tool without any pod when the selector is empty", obs: (o) => ({ ...o, tool: tool({ targetless: true }), policy: policy({ target: { labelsSelector: {} } }), pods: [] }), want: "ok" },
    { name: "still needs a target for a targetless tool when the policy selects pods", obs: (o) => ({ ...o, tool: tool({ targetless: true }), pods: [], targetPodWaitMs: 500 }), want: Reason.TargetPodNotFound },
    { name: "still needs a target for an empty selector when the tool is not targetless", obs: (o) => ({ ...o, policy: policy({ target: { labelsSelector: {} } }), pods: [], targetPodWaitMs: 500 }), want: Reason.TargetPodNotFound },
    { name: "fails a path-prefix annotation that climbs out of the namespace's directory", obs: (o) => ({ ...o, policy: { ...policy(), metadata: { ...policy().metadata, annotations: { [AnnotationPathPrefix]: "../../other-ns" } } } }), want: Reason.PathInvalid, text: "no \".\" or \"..\" segments" },
    { name: "takes a plain path-prefix annotation", obs: (o) => ({ ...o, policy: { ...policy(), metadata: { ...policy().metadata, annotations: { [AnnotationPathPrefix]: "/pg/daily/" } } } }), want: "ok" },
    { name: "fails with RepoNotAllowed when the repo's namespaceSelector does not match the namespace", obs: (o) => ({ ...o, repos: [{ ...repo(), spec: { ...repo().spec, namespaceSelector: { matchLabels: { team: "a" } } } }], namespaceLabels: { team: "b" } }), want: Reason.RepoNotAllowed, text: 'BackupRepo "repo" does not allow namespace "ns"' },
    { name: "uses a repo whose namespaceSelector matches the namespace", obs: (o) => ({ ...o, repos: [{ ...repo(), spec: { ...repo().spec, namespaceSelector: { matchLabels: { team: "a" } } } }], namespaceLabels: { team: "a" } }), want: "ok" },
    { name: "fails when the parent is missing", obs: (o) => ({ ...o, tool: tool({ incrementalBackupCommands: ["x"] }), backup: backup({ parentBackupName: "p" }) }), want: Reason.ParentNotFound },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const v = validateNewBackup(r.obs(base()));
      const got = v.kind === "fail" ? v.reason : v.kind;
      expect(got).to.equal(r.want);
      if (r.text && v.kind === "fail") expect(v.message).to.contain(r.text);
    });
  }

  it("prefers the Backup's repo label over the policy's repo, and the policy's over the default", () => {
    const o = base();
    const labelled = { ...o, backup: { ...backup(), metadata: { ...backup().metadata, labels: { [LabelBackupRepoName]: "other" } } }, repos: [repo(), repo("other")] };
    const v1 = validateNewBackup(labelled);
    expect(v1.kind === "ok" && v1.destination?.repoName).to.equal("other");
    const v2 = validateNewBackup({ ...o, repos: [repo(), repo("d", { [AnnotationIsDefaultRepo]: "true" })] });
    expect(v2.kind === "ok" && v2.destination?.repoName).to.equal("repo");
  });

  it("writes a Backup annotated backup-destination=persistentVolumeClaim to the policy's claim, even with a default repo; without a claim it names the fix", () => {
    const annotated = { ...backup(), metadata: { ...backup().metadata, annotations: { [AnnotationBackupDestination]: BackupDestinationPVC } } };
    const withClaim = policy({ backupRepoName: undefined, persistentVolumeClaim: { name: "pvc-b1", createPolicy: "Never" } });
    const v = validateNewBackup({ ...base(), backup: annotated, policy: withClaim, repos: [repo("d", { [AnnotationIsDefaultRepo]: "true" })] });
    expect(v.kind === "ok" && [v.destination?.repoName, v.destination?.claim?.name, v.destination?.claim?.create]).to.deep.equal([undefined, "pvc-b1", false]);
    const plain = validateNewBackup({ ...base(), policy: withClaim, repos: [repo("d", { [AnnotationIsDefaultRepo]: "true" })] });
    expect(plain.kind === "ok" && plain.destination?.repoName, "unannotated: the KubeBlocks 0.6 order puts the default repo first").to.equal("d");
    const noClaim = validateNewBackup({ ...base(), backup: annotated, policy: policy({ backupRepoName: undefined }) });
    expect(noClaim.kind === "fail" && [noClaim.reason, noClaim.message.includes(".persistentVolumeClaim.name")]).to.deep.equal([Reason.NoBackupDestination, true]);
  });

  it("picks the primary among matching pods, and a pinned pod over both", () => {
    const pods = [pod("db-0", { app: "db", "kubeblocks.io/role": "secondary" }), pod("db-1", { app: "db", "kubeblocks.io/role": "primary" })];
    const v = validateNewBackup({ ...base(), pods });
    expect(v.kind === "ok" && v.plan.target?.pod.metadata?.name).to.equal("db-1");
    const pinned = { ...backup(), metadata: { ...backup().metadata, annotations: { "dataprotection.kubeblocks.io/target-pod-name": "db-0" } } };
    const v2 = validateNewBackup({ ...base(), backup: pinned, pods });
    expect(v2.kind === "ok" && v2.plan.target?.pod.metadata?.name).to.equal("db-0");
  });

  it("records the incremental chain, base first", () => {
    const parent: Backup = { ...backup(), metadata: { name: "c1", namespace: "ns" }, status: { phase: "Completed", incrementalChain: ["base"], backupRepoName: "repo" } };
    const v = validateNewBackup({ ...base(), tool: tool({ incrementalBackupCommands: ["x"] }), backup: backup({ parentBackupName: "c1" }), parent });
    expect(v.kind === "ok" && v.plan.chain).to.deep.equal(["base", "c1"]);
  });
});

describe("startDatafile", () => {
  it("starts a targetless tool without target fields in status", () => {
    const v = validateNewBackup({ ...base(), tool: tool({ targetless: true }), policy: policy({ target: { labelsSelector: {} } }), pods: [] });
    if (v.kind !== "ok") throw new Error("expected ok");
    expect(v.plan.target).to.equal(undefined);
    v.plan.destination = { repoName: "repo", access: pvcAccess("dp-backup-repo") };
    const d = startDatafile(backup(), v.plan, NOW, "agent");
    expect(d.status!.manifests!.target).to.equal(undefined);
    expect(d.status!.sourceCluster).to.equal(undefined);
    const env = createdJobs(d)[0].spec!.template.spec!.containers[0].env!.map((e) => e.name);
    expect(env).to.include("BACKUP_DIR").and.not.include("DB_HOST");
    expect(d.events![0].message).to.contain("without a target pod");
  });

  it("creates attempt 1's Job and goes InProgress with the resolved status fields", () => {
    const v = validateNewBackup(base());
    if (v.kind !== "ok") throw new Error("expected ok");
    v.plan.destination = { repoName: "repo", access: pvcAccess("dp-backup-repo") };
    const d = startDatafile(backup(), v.plan, NOW, "agent");
    expect(writes(d)).to.deep.equal(["create Job"]);
    // Owned by the Backup and labelled with its name from the decision on (the shell adds nothing).
    expect(createdJobs(d)[0].metadata).to.deep.include({ name: "b1-backup-1", ownerReferences: [{ apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup", name: "b1", uid: "uid-b1", controller: true, blockOwnerDeletion: true }] });
    expect(d.status).to.include({ phase: "InProgress", startTimestamp: "2024-05-01T10:00:00Z", expiration: "2024-05-08T10:00:00Z", backupToolName: "volume", backupRepoName: "repo", persistentVolumeClaimName: "dp-backup-repo", attempts: 0 });
    expect(d.status!.manifests!.backupTool).to.deep.include({ filePath: "/ns/b1", volumeName: "dp-backup-repo" });
    expect(d.events![0].reason).to.equal(Reason.BackupStarted);
  });
});

describe("decideDatafile", () => {
  const running = backup({}, { phase: "InProgress", startTimestamp: "2024-05-01T09:59:00Z", attempts: 0, manifests: { backupTool: { filePath: "/ns/b1" } } });
  const obs = { backup: running, pods: [], onFailAttempted: 0, podStartMs: 300_000 };
  const report = JSON.stringify({ totalSize: 1536, checksum: "sha256:ab", files: ["dir.dpar"], filePath: "ns/b1" });

  it("completes with size, checksum, files, checkpoint and duration from the termination message", () => {
    const d = decideDatafile({ ...obs, job: job("b1-backup-1", "Complete"), pods: [toolPod(report)] }, NOW);
    expect(d.status).to.include({ phase: "Completed", totalSize: "1.5Ki", completionTimestamp: "2024-05-01T09:59:40Z", duration: "40s" });
    expect(d.status!.manifests!.backupTool).to.deep.equal({ filePath: "/ns/b1", uploadTotalSize: "1.5Ki", checksum: "sha256:ab", checkpoint: "2024-05-01T09:59:10Z", files: [{ name: "dir.dpar" }], dataFormat: "Agent" });
  });

  it("fills each file's size and checksum when the report gives them, and keeps bare names", () => {
    const detailed = JSON.stringify({ totalSize: 3 << 20, checksum: "sha256:cd", files: [{ name: "base.tar", size: 3 << 20, checksum: "sha256:ef" }, "pg_wal.tar", { size: 1 }, 7], filePath: "ns/b1" });
    const d = decideDatafile({ ...obs, job: job("b1-backup-1", "Complete"), pods: [toolPod(detailed)] }, NOW);
    expect(d.status!.manifests!.backupTool!.files).to.deep.equal([{ name: "base.tar", size: "3Mi", checksum: "sha256:ef" }, { name: "pg_wal.tar" }]);
  });

  const rows: Array<{ name: string; o: Partial<Parameters<typeof decideDatafile>[0]>; phase?: string; reason?: string; actions?: string[]; attempts?: number }> = [
    { name: "fails when the Job disappeared", o: {}, phase: "Failed", reason: Reason.JobNotFound },
    { name: "fails when the Job failed and no attempts are left", o: { job: job("b1-backup-1", "Failed"), pods: [toolPod("boom", 1)] }, phase: "Failed", reason: Reason.JobFailed, attempts: 1 },
    { name: "fails NoSpace when the tool said the repo was full", o: { job: job("b1-backup-1", "Failed"), pods: [toolPod("dp-agent: repo /backupdata is full (ENOSPC) while writing ns/b1/dir.dpar: free space or grow the volume", 1)] }, phase: "Failed", reason: Reason.NoSpace, attempts: 1 },
    { name: "starts the next attempt while onFailAttempted allows", o: { job: job("b1-backup-1", "Failed"), onFailAttempted: 2 }, actions: ["create Job"], attempts: 1 },
    { name: "waits for a running Job", o: { job: job("b1-backup-1") , pods: [{ metadata: { name: "p" }, status: { phase: "Running" } }] } },
    { name: "waits, bounded, for a pod that cannot start yet", o: { job: job("b1-backup-1", undefined, "2024-05-01T09:59:50Z"), pods: [{ metadata: { name: "p" }, status: { phase: "Pending", containerStatuses: [{ name: "backup", image: "", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "CreateContainerConfigError", message: "secret x not found" } } }] } }] } },
    { name: "fails a pod that cannot start after podStartMs and deletes its Job", o: { job: job("b1-backup-1", undefined, "2024-05-01T09:50:00Z"), pods: [{ metadata: { name: "p" }, status: { phase: "Pending", containerStatuses: [{ name: "backup", image: "", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "CreateContainerConfigError", message: "secret x not found" } } }] } }] }, phase: "Failed", reason: Reason.PodCannotStart, actions: ["delete Job"] },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const d = decideDatafile({ ...obs, ...r.o }, NOW);
      // No phase in a row: the phase stays InProgress (no status written, or the whole status with it).
      expect(d.status?.phase ?? "InProgress").to.equal(r.phase ?? "InProgress");
      if (r.reason) expect(d.status?.failureReason).to.match(new RegExp(`^${r.reason}: `));
      expect(writes(d)).to.deep.equal(r.actions ?? []);
      if (r.attempts !== undefined) expect(d.status?.attempts).to.equal(r.attempts);
    });
  }

  it("names the next attempt's Job deterministically and drops the old Job's generated labels", () => {
    const d = decideDatafile({ ...obs, job: job("b1-backup-1", "Failed"), onFailAttempted: 1 }, NOW);
    const [next] = createdJobs(d);
    expect(next.metadata?.name).to.equal("b1-backup-2");
    expect(next.spec?.template.metadata?.labels).to.not.have.property("controller-uid");
  });
});

describe("decideDeletion", () => {
  const done = backup({}, { phase: "Completed", startTimestamp: "2024-05-01T09:00:00Z", persistentVolumeClaimName: "pvc", manifests: { backupTool: { filePath: "/ns/b1" } } });
  const obs = { backup: done, children: [], deletePods: [], activeJobs: [], hasStatefulSet: false, snapshots: [], agentImage: "agent", repoInUse: false };
  const onRepo = { ...done, status: { ...done.status, persistentVolumeClaimName: undefined, backupRepoName: "r" } } as Backup;
  const s3Repo: BackupRepo = { apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupRepo", metadata: { name: "r" }, spec: { storageProviderRef: "s3", accessMethod: AccessMethod.Tool, pvReclaimPolicy: "Retain", credential: { name: "cred", namespace: "dp" }, encryption: { algorithm: "AES-256-GCM", keySecretRef: { name: "key", namespace: "dp", key: "k" } } } };
  const copies = ["dp-repo-r-credential", "dp-repo-r-encryption"].map((name) => ({ kind: Kinds.Secret, name, namespace: "ns" }));

  it("removes the repo's Secret copies from the namespace with the last Backup that uses the repo", () => {
    const d = decideDeletion({ ...obs, backup: onRepo, repoAccess: repoAccessFor(s3Repo), deleteJob: job("b1-delete", "Complete") }, NOW);
    expect(d.finalizer).to.deep.equal({ remove: Finalizer });
    expect(d.deletes).to.deep.equal(copies);
  });

  it("keeps them while another Backup there uses (or may use) the repo, and while the data is still being removed", () => {
    expect(writes(decideDeletion({ ...obs, backup: onRepo, repoAccess: repoAccessFor(s3Repo), deleteJob: job("b1-delete", "Complete"), repoInUse: true }, NOW))).to.deep.equal([]);
    const running = decideDeletion({ ...obs, backup: onRepo, repoAccess: repoAccessFor(s3Repo) }, NOW);
    expect(running.finalizer).to.equal(undefined);
    // The copies are (re)made before the delete Job that mounts them.
    expect(writes(running)).to.deep.equal(["copySecrets", "create Job"]);
  });

  const rows: Array<{ name: string; o: Partial<Parameters<typeof decideDeletion>[0]>; finalizer?: { remove: string }; actions?: string[]; event?: string }> = [
    { name: "refuses while an incremental child exists", o: { children: [backup({ parentBackupName: "b1" })] }, event: Reason.DeletionBlocked },
    { name: "starts the delete Job", o: {}, actions: ["create Job"], event: Reason.DeletingData },
    { name: "removes the finalizer once the data is gone", o: { deleteJob: job("b1-delete", "Complete") }, finalizer: { remove: Finalizer }, event: Reason.DataDeleted },
    { name: "retries a failed delete Job with an Event", o: { deleteJob: job("b1-delete", "Failed") }, actions: ["delete Job"], event: Reason.DataDeleteFailed },
    { name: "keeps a protected backup's data", o: { backup: { ...done, metadata: { ...done.metadata, labels: { "dataprotection.kubeblocks.io/backup-protection": "retain" } } } }, finalizer: { remove: Finalizer }, event: Reason.DataRetained },
    { name: "has nothing to delete for a backup that never started", o: { backup: backup() }, finalizer: { remove: Finalizer } },
    { name: "never runs rm -rf on a recorded path that climbs out of the repo", o: { backup: { ...done, status: { ...done.status, manifests: { backupTool: { filePath: "/ns/../.." } } } } }, finalizer: { remove: Finalizer }, actions: [], event: Reason.DataDeleteFailed },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const d = decideDeletion({ ...obs, ...r.o }, NOW);
      expect(d.finalizer).to.deep.equal(r.finalizer);
      expect(writes(d)).to.deep.equal(r.actions ?? []);
      if (r.event) expect((d.events ?? []).map((e) => e.reason)).to.include(r.event);
    });
  }
});

describe("namespaceTerminating", () => {
  it("lets a Backup whose namespace is being deleted go, keeping its data, with a Warning", () => {
    const d = namespaceTerminating(backup());
    expect(d).to.deep.equal({
      events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message: "namespace ns is being deleted: the backup's data cannot be removed by a Job and stays in the repo" }],
      finalizer: { remove: Finalizer },
    });
  });
});
