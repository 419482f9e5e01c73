import { expect } from "chai";
import type { Backup, BackupPolicy, RestoreJob } from "@dataprotection/api";
import { type EventLike, MAX_EVENTS, describeBackup, describeDocument, describePolicy, describeRestore, eventLines, eventsOf, parseDescribeKind } from "./describe.ts";

const NOW = new Date("2026-11-23T22:15:00Z");

const b1: Backup = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup",
  metadata: { name: "b1", namespace: "db", uid: "u1", creationTimestamp: "2026-11-23T21:00:00Z", labels: { x: "y", app: "pg" }, annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" } },
  spec: { backupPolicyName: "pg", backupType: "datafile" },
  status: {
    phase: "Completed", totalSize: "12Mi", duration: "4s", startTimestamp: "2026-11-23T21:00:01Z", completionTimestamp: "2026-11-23T21:00:05Z", backupRepoName: "repo1", backupToolName: "volume",
    manifests: { backupTool: { filePath: "/db/b1", dataFormat: "Agent", checksum: "sha256:abc", backupId: "u1", encrypted: false, files: [{ name: "dir.dpar", size: "12Mi", checksum: "sha256:abc" }] } },
    conditions: [{ type: "ToolJobSucceeded", status: "True", reason: "BackupCompleted", message: "Job b1-0\nsucceeded", lastTransitionTime: "2026-11-23T21:00:05Z" }],
  },
} as Backup;

const ev = (reason: string, last: string, o: Partial<EventLike> = {}): EventLike => ({
  metadata: { name: `b1.${reason}` }, involvedObject: { kind: "Backup", name: "b1", uid: "u1" }, type: "Normal", reason, message: reason.toLowerCase(),
  count: 1, firstTimestamp: last, lastTimestamp: last, source: { component: "dataprotection" }, ...o,
});

describe("kubectl-dp describe: kinds and Events", () => {
  it("takes backup, policy or restore (and kubectl's plural and long names); anything else is a usage error", () => {
    expect(["backup", "Backups", "backup.dataprotection.kubeblocks.io"].map(parseDescribeKind)).to.deep.equal(["backup", "backup", "backup"]);
    expect(["policy", "policies", "backuppolicy", "backuppolicies"].map(parseDescribeKind)).to.deep.equal(["policy", "policy", "policy", "policy"]);
    expect(["restore", "restorejob", "restorejobs"].map(parseDescribeKind)).to.deep.equal(["restore", "restore", "restore"]);
    expect(() => parseDescribeKind("pod")).to.throw("describe pod: expected backup, policy or restore");
  });

  it("keeps the object's own Events (kind, name, uid), oldest first", () => {
    const events = [
      ev("Second", "2026-11-23T21:00:05Z"),
      ev("First", "2026-11-23T21:00:01Z"),
      ev("OtherKind", "2026-11-23T21:00:02Z", { involvedObject: { kind: "RestoreJob", name: "b1" } }),
      ev("OtherName", "2026-11-23T21:00:02Z", { involvedObject: { kind: "Backup", name: "b2" } }),
      ev("EarlierObject", "2026-11-20T00:00:00Z", { involvedObject: { kind: "Backup", name: "b1", uid: "old" } }),
      ev("NoUid", "2026-11-23T21:00:03Z", { involvedObject: { kind: "Backup", name: "b1" }, lastTimestamp: null, eventTime: "2026-11-23T21:00:03.123456Z" }),
    ];
    expect(eventsOf(events, "Backup", "b1", "u1").map((e) => e.reason)).to.deep.equal(["First", "NoUid", "Second"]);
  });

  it("prints kubectl's Events block: repeats as (xN over AGE); only the newest ones", () => {
    expect(eventLines([], NOW)).to.deep.equal(["Events:  <none>"]);
    expect(eventLines([ev("BackupCompleted", "2026-11-23T22:05:00Z", { count: 3, firstTimestamp: "2026-11-23T21:15:00Z", type: "Warning", message: "two\nlines" })], NOW)).to.deep.equal([
      "Events:",
      "  Type      Reason            Age                 From             Message",
      "  ----      ------            ---                 ----             -------",
      "  Warning   BackupCompleted   10m (x3 over 60m)   dataprotection   two lines",
    ]);
    const many = Array.from({ length: MAX_EVENTS + 5 }, (_, i) => ev(`R${String(i).padStart(2, "0")}`, `2026-11-23T21:${String(i).padStart(2, "0")}:00Z`));
    const lines = eventLines(many, NOW);
    expect(lines[1]).to.equal("  (5 older Events not shown)");
    expect(lines.length).to.equal(2 + 2 + MAX_EVENTS);
    expect(lines.at(-1)).to.contain(`R${MAX_EVENTS + 4}`);
  });
});

describe("kubectl-dp describe backup", () => {
  it("prints the status, where the data went, the stored objects (files), conditions and Events", () => {
    const lines = describeBackup(b1, [ev("BackupStarted", "2026-11-23T21:00:01Z"), ev("BackupCompleted", "2026-11-23T21:00:05Z", { message: "backup completed: 12Mi" })], NOW);
    expect(lines).to.deep.equal([
      "Name:         b1",
      "Namespace:    db",
      "Labels:       app=pg",
      "              x=y",
      "Annotations:  <none>",
      "Created:      2026-11-23T21:00:00Z (75m ago)",
      "Policy:       pg",
      "Type:         datafile",
      "Phase:        Completed",
      "Started:      2026-11-23T21:00:01Z (74m ago)",
      "Completed:    2026-11-23T21:00:05Z (74m ago)",
      "Duration:     4s",
      "Total Size:   12Mi",
      "Expiration:   <none>",
      "Stored In:    BackupRepo repo1",
      "Backup Tool:  volume",
      "Stored Objects:",
      "  File Path:    /db/b1",
      "  Data Format:  Agent",
      "  Checksum:     sha256:abc",
      "  Backup Id:    u1",
      "  Encrypted:    false",
      "  Files:",
      "    NAME       SIZE   CHECKSUM",
      "    dir.dpar   12Mi   sha256:abc",
      "Conditions:",
      "  Type               Status   Reason            Age   Message",
      "  ToolJobSucceeded   True     BackupCompleted   74m   Job b1-0 succeeded",
      "Events:",
      "  Type     Reason            Age   From             Message",
      "  ----     ------            ---   ----             -------",
      "  Normal   BackupStarted     74m   dataprotection   backupstarted",
      "  Normal   BackupCompleted   74m   dataprotection   backup completed: 12Mi",
    ]);
  });

  it("a failed incremental backup, a logfile backup's log span, a snapshot; <none> for what is not there", () => {
    const failed = describeBackup({
      ...b1, spec: { backupPolicyName: "pg", backupType: "datafile", parentBackupName: "base" },
      status: { phase: "Failed", failureReason: "ToolFailed: exit 1", attempts: 2, incrementalChain: ["base0", "base"], persistentVolumeClaimName: "pvc-1" },
    } as Backup, [], NOW);
    expect(failed).to.include.members(["Parent:             base", "Incremental Chain:  base0 -> base", "Phase:              Failed", "Failure Reason:     ToolFailed: exit 1", "Failed Attempts:    2", "Stored In:          PVC pvc-1", "Stored Objects:     <none>", "Conditions:         <none>", "Events:             <none>", "Total Size:         <none>"]);
    const log = describeBackup({ ...b1, spec: { backupPolicyName: "pg", backupType: "logfile" }, status: { phase: "Running", availableReplicas: 1, manifests: { backupLog: { startTime: "2026-11-23T20:00:00Z", stopTime: "2026-11-23T22:14:50.000Z" }, backupTool: { logFilePath: "/db/log" } } } } as Backup, [], NOW);
    expect(log).to.include.members(["Log Span:            2026-11-23T20:00:00Z/2026-11-23T22:14:50Z", "Available Replicas:  1", "  Log File Path:  /db/log"]);
    const snap = describeBackup({ ...b1, spec: { backupPolicyName: "pg", backupType: "snapshot" }, status: { phase: "Completed", manifests: { backupSnapshot: { volumeSnapshotName: "snap-1" } } } } as Backup, [], NOW);
    expect(snap).to.include("  Volume Snapshot:  snap-1");
  });

  it("an imported backup: where it was imported from, and the userContext its manifest records (long values cut)", () => {
    const imp = describeBackup({
      ...b1, spec: { backupPolicyName: "imported", backupType: "datafile", importFrom: { backupRepoName: "s3", path: "/shop/nightly-1" } },
      status: { phase: "Completed", backupRepoName: "s3", manifests: { userContext: { lsn: "0/3000060", long: "x".repeat(200) } } },
    } as Backup, [], NOW);
    expect(imp.some((l) => /^Imported From: +BackupRepo s3, \/shop\/nightly-1$/.test(l)), imp.join("\n")).to.equal(true);
    expect(imp.some((l) => /^ {2}User Context lsn: +0\/3000060$/.test(l)), imp.join("\n")).to.equal(true);
    expect(imp.some((l) => /^ {2}User Context long: +x{117}\.\.\.$/.test(l)), imp.join("\n")).to.equal(true);
  });
});

describe("kubectl-dp describe policy and restore", () => {
  const policy = {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupPolicy", metadata: { name: "pg", namespace: "db", creationTimestamp: "2026-11-20T00:00:00Z" },
    spec: {
      retention: { ttl: "7d" },
      schedule: { datafile: { enable: true, cronExpression: "0 3 * * *" }, logfile: { enable: false, cronExpression: "*/5 * * * *" } },
      datafile: { target: { labelsSelector: { matchLabels: { app: "pg" } }, secret: { name: "cred", usernameKey: "u", passwordKey: "p" } }, backupToolName: "volume", backupRepoName: "repo1", backupsHistoryLimit: 3 },
      logfile: { target: { labelsSelector: { matchExpressions: [{ key: "role", operator: "In", values: ["primary"] }] } }, backupToolName: "wal" },
    },
    status: { phase: "Available", lastScheduleTime: "2026-11-23T03:00:00Z" },
  } as unknown as BackupPolicy;
  const log = { ...b1, metadata: { name: "log1", namespace: "db", creationTimestamp: "2026-11-23T20:00:00Z" }, spec: { backupPolicyName: "pg", backupType: "logfile" }, status: { phase: "Running", manifests: { backupLog: { startTime: "2026-11-23T20:00:00Z", stopTime: "2026-11-23T22:14:50Z" } } } } as Backup;
  const other = { ...b1, metadata: { name: "x1", namespace: "db", creationTimestamp: "2026-11-23T22:00:00Z" }, spec: { backupPolicyName: "other" } } as Backup;

  it("a policy: schedules with their next tick, each section, how it is doing (as status), its Backups newest first", () => {
    const lines = describePolicy(policy, [b1, log, other], [], NOW);
    expect(lines.slice(4, 10)).to.deep.equal([
      "Created:        2026-11-20T00:00:00Z (3d22h ago)",
      "Phase:          Available",
      "Retention TTL:  7d",
      "Last Schedule:  2026-11-23T03:00:00Z (19h ago)",
      "Last Success:   2026-11-23T21:00:05Z (74m ago)",
      "Schedules:",
    ]);
    const after = (label: string, n: number): string[] => lines.slice(lines.indexOf(label) + 1, lines.indexOf(label) + 1 + n);
    expect(after("Schedules:", 3)).to.deep.equal([
      "  TYPE       ENABLED   CRON          NEXT-TICK",
      "  datafile   true      0 3 * * *     2026-11-24T03:00:00Z (in 4h45m)",
      "  logfile    false     */5 * * * *   -",
    ]);
    expect(after("Datafile:", 5)).to.deep.equal(["  Backup Tool:    volume", "  Backup Repo:    repo1", "  Target:         app=pg", "  Secret:         cred (keys u, p)", "  History Limit:  3"]);
    expect(after("Logfile:", 3)).to.deep.equal(["  Backup Tool:    wal", "  Target:         role in (primary)", "  History Limit:  7"]);
    expect(after("Recovery:", 4)).to.deep.equal([
      "  Newest Point:  b1 (datafile, 2026-11-23T21:00:05Z, 74m old)",
      "  Period:        24h",
      "  Health:        OK",
      "  PITR Window:   2026-11-23T21:00:05Z/2026-11-23T22:14:50Z (logfile backup log1, base b1)",
    ]);
    expect(after("Backups:", 3)).to.deep.equal(["  NAME   TYPE       PHASE       SIZE   AGE", "  b1     datafile   Completed   12Mi   75m", "  log1   logfile    Running            135m"]);
    expect(lines.slice(-2)).to.deep.equal(["Conditions:     <none>", "Events:         <none>"]);
  });

  it("a restore: its backup, target, volumes, phase and how long it took", () => {
    const r = {
      apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "RestoreJob", metadata: { name: "r1", namespace: "db", creationTimestamp: "2026-11-23T22:00:00Z" },
      spec: {
        backupJobName: "b1", restoreTime: "2026-11-23T21:30:00Z", onFailAttempted: 1,
        target: { labelsSelector: { matchLabels: { app: "pg" } }, secret: { name: "cred", usernameKey: "username", passwordKey: "password" } },
        targetVolumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-pg-0" } }], targetVolumeMounts: [{ name: "data", mountPath: "/data" }],
      },
      status: { phase: "Failed", failureReason: "RestoreFailed: boom", startTimestamp: "2026-11-23T22:00:01Z", completionTimestamp: "2026-11-23T22:01:01Z" },
    } as RestoreJob;
    expect(describeRestore(r, [], NOW)).to.deep.equal([
      "Name:               r1",
      "Namespace:          db",
      "Labels:             <none>",
      "Annotations:        <none>",
      "Created:            2026-11-23T22:00:00Z (15m ago)",
      "Backup:             b1",
      "Restore Time:       2026-11-23T21:30:00Z",
      "Target:",
      "  Selector:  app=pg",
      "  Secret:    cred (keys username, password)",
      "Volumes:",
      "  NAME   CLAIM       MOUNT",
      "  data   data-pg-0   /data",
      "On Fail Attempted:  1",
      "Phase:              Failed",
      "Failure Reason:     RestoreFailed: boom",
      "Started:            2026-11-23T22:00:01Z (14m ago)",
      "Completed:          2026-11-23T22:01:01Z (13m ago)",
      "Duration:           60s",
      "Conditions:         <none>",
      "Events:             <none>",
    ]);
  });

  it("-o json|yaml: the object as read and every Event in short", () => {
    const doc = describeDocument(b1, [ev("BackupCompleted", "2026-11-23T21:00:05Z", { count: 2, firstTimestamp: "2026-11-23T21:00:04Z" })]);
    expect(doc.object).to.equal(b1);
    expect(doc.events).to.deep.equal([{ type: "Normal", reason: "BackupCompleted", count: 2, firstTimestamp: "2026-11-23T21:00:04Z", lastTimestamp: "2026-11-23T21:00:05Z", from: "dataprotection", message: "backupcompleted" }]);
  });
});
