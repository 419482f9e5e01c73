// An imported Backup (spec.importFrom): validation of what a namespace user names, the Job that
// verifies the backup, completion from dp-agent import's report, deletion keeping the data.
import { expect } from "chai";
import { BackupDataFormat, BackupPhase, Finalizer } from "@dataprotection/api";
import { repoAccessFor } from "../backuprepo/access.ts";
import { Kinds } from "../kinds.ts";
import { decideDatafile } from "./decide.ts";
import { dataUnreachable, decideDeletion } from "./delete.ts";
import { toolJobName } from "./job.ts";
import { buildImportJob, importFilePath, importOutcome, startImport, validateImport } from "./import.ts";
import { Reason } from "./reasons.ts";
import { backup, job, NOW, repo, toolPod } from "./testdata.ts";

const FROM = { backupRepoName: "repo", path: "/team-a/nightly-1" };
const imported = (path = FROM.path) => backup({ importFrom: { ...FROM, path } });
const access = repoAccessFor(repo());
const report = (o: Record<string, unknown>) => JSON.stringify({ totalSize: 2048, dataSize: 4096, checksum: "sha256:aa", filePath: "team-a/nightly-1", files: [{ name: "data.tar", size: 2048, checksum: "sha256:bb" }], ...o });

describe("Backup import: validation", () => {
  it("takes a plain path of a repo the namespace may use, with or without the leading slash", () => {
    for (const p of ["/team-a/nightly-1", "team-a/nightly-1", "team-a/prefix/x/nightly-1/"]) {
      const v = validateImport(imported(p), [repo()], undefined);
      expect(v.ok, p).to.equal(true);
      if (v.ok) expect(v.filePath).to.equal(importFilePath(p)).and.match(/^\/team-a\//);
    }
  });
  it("refuses a path that climbs out or is not plain names, a missing repo, and a repo whose namespaceSelector does not admit the namespace", () => {
    for (const p of ["../x", "/team-a/../../etc", "a/./b", "a//b", "a\u0000b", "a b", ""]) {
      const v = validateImport(imported(p), [repo()], undefined);
      expect(v.ok, p).to.equal(false);
      if (!v.ok) expect(v.reason).to.equal(Reason.PathInvalid);
    }
    const missing = validateImport(imported(), [repo("other")], undefined);
    expect(missing).to.include({ ok: false, reason: Reason.RepoNotFound });
    const tenant = { ...repo(), spec: { ...repo().spec, namespaceSelector: { matchLabels: { team: "a" } } } };
    const refused = validateImport(imported(), [tenant], { team: "b" });
    expect(refused).to.include({ ok: false, reason: Reason.RepoNotAllowed });
    expect(validateImport(imported(), [tenant], { team: "a" }).ok).to.equal(true);
  });
});

describe("Backup import: the Job and its start", () => {
  it("runs dp-agent import alone, with the repo's env and the path, no backup id and no token", () => {
    const j = buildImportJob(imported(), access, "/team-a/nightly-1", "agent:1");
    const pod = j.spec!.template.spec!;
    expect(j.metadata?.name).to.equal(toolJobName("b1", 0));
    expect(pod.automountServiceAccountToken).to.equal(false);
    expect(pod.containers).to.have.length(1);
    expect(pod.containers[0]!.command).to.deep.equal(["dp-agent", "import"]);
    const env = Object.fromEntries((pod.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    expect(env.DP_BACKUP_PATH).to.equal("team-a/nightly-1");
    expect(env).to.not.have.property("DP_BACKUP_ID");
  });
  it("goes InProgress recording the repo and the path the RestoreJob will read", () => {
    const d = startImport(imported(), "repo", access, "/team-a/nightly-1", NOW, "agent:1");
    expect(d.status?.phase).to.equal(BackupPhase.InProgress);
    expect(d.status?.backupRepoName).to.equal("repo");
    expect(d.status?.manifests?.backupTool?.filePath).to.equal("/team-a/nightly-1");
    expect(d.creates?.map((c) => c.kind)).to.deep.equal([Kinds.Job]);
    expect(d.events?.[0]?.message).to.contain('importing /team-a/nightly-1 from BackupRepo "repo"');
  });
});

describe("Backup import: completion", () => {
  const inProgress = () => ({ ...imported(), status: { phase: BackupPhase.InProgress, startTimestamp: "2024-05-01T09:59:00Z", attempts: 0, backupRepoName: "repo", manifests: { backupTool: { filePath: "/team-a/nightly-1" } } } });
  const follow = (message: string) => decideDatafile({ backup: inProgress(), job: job(toolJobName("b1", 0), "Complete"), pods: [toolPod(message)], onFailAttempted: 0, podStartMs: 60_000 }, NOW);

  it("completes with the manifest's backup id (not this Backup's uid), its tool and its files", () => {
    const d = follow(report({ backupId: "uid-of-the-original", tool: "postgres-dump" }));
    expect(d.status?.phase).to.equal(BackupPhase.Completed);
    expect(d.status?.backupToolName).to.equal("postgres-dump");
    const bt = d.status?.manifests?.backupTool;
    expect(bt?.backupId).to.equal("uid-of-the-original");
    expect(bt?.dataFormat).to.equal(BackupDataFormat.Agent);
    expect(bt?.files?.[0]).to.deep.include({ name: "data.tar", checksum: "sha256:bb" });
    expect(bt?.checkpoint).to.equal(undefined);
    expect(d.events?.[0]?.message).to.contain("imported backup uid-of-the-original verified");
  });
  it("records sealed plain files as such (the RestoreJob unseals them)", () => {
    expect(importOutcome(toolPod(report({ backupId: "u", tool: "mysql", files: [{ name: "plain-files.dpar", size: 1, checksum: "sha256:cc" }] })))).to.deep.equal({ ok: true, backupId: "u", toolName: "mysql", format: BackupDataFormat.SealedPlainFiles });
  });
  it("fails a report without a backup id or a usable tool name: nothing a restore could insist on", () => {
    for (const [o, text] of [[{ tool: "x" }, "no backup id"], [{ backupId: "u" }, "no tool"], [{ backupId: "u", tool: "../Evil" }, "not a BackupTool name"]] as const) {
      const d = follow(report(o));
      expect(d.status?.phase).to.equal(BackupPhase.Failed);
      expect(d.status?.failureReason).to.contain(Reason.DataNotStored).and.contain(text);
    }
  });
});

describe("Backup import: deletion", () => {
  it("keeps the data: no delete Job, the finalizer goes, an Event says where the data stays", () => {
    const b = { ...imported(), metadata: { ...imported().metadata, finalizers: [Finalizer], deletionTimestamp: "2024-05-01T09:00:00Z" as never }, status: { phase: BackupPhase.Completed, startTimestamp: "2024-05-01T08:00:00Z", backupRepoName: "repo", manifests: { backupTool: { filePath: "/team-a/nightly-1" } } } };
    const d = decideDeletion({ backup: b, children: [], repoAccess: access, repoInUse: true, deletePods: [], activeJobs: [], hasStatefulSet: false, snapshots: [], agentImage: "agent:1" }, NOW);
    expect(d.creates ?? []).to.have.length(0);
    expect(d.finalizer).to.deep.equal({ remove: Finalizer });
    expect(d.events?.[0]).to.deep.include({ reason: Reason.DataRetained });
    expect(d.events?.[0]?.message).to.contain("/team-a/nightly-1").and.contain("stays");
  });
});

describe("Backup deletion when the repo's Secret is gone", () => {
  it("releases the Backup with a Warning that the data stays (its namespace is not held forever)", () => {
    const b = backup({}, { phase: BackupPhase.Completed, manifests: { backupTool: { filePath: "/ns/b1" } } });
    const d = dataUnreachable(b, 'Secret "default/repo-cred" of BackupRepo "repo" not found');
    expect(d.finalizer).to.deep.equal({ remove: Finalizer });
    expect(d.creates ?? []).to.have.length(0);
    expect(d.events?.[0]).to.deep.include({ type: "Warning", reason: Reason.DataDeleteFailed });
    expect(d.events?.[0]?.message).to.equal('Secret "default/repo-cred" of BackupRepo "repo" not found: the data at /ns/b1 cannot be removed by the operator and stays in the repo; remove it by hand');
  });
});
