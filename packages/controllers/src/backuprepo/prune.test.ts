import { expect } from "chai";
import type { V1Job } from "@kubernetes/client-node";
import type { Backup, BackupRepo } from "@dataprotection/api";
import type { KubeObject } from "@dataprotection/runtime";
import { buildDeleteJob } from "../backup/delete.ts";
import { repoAccessFor } from "./access.ts";
import { LabelPruneTick, decidePrune, pruneJobName, pruneTargets } from "./prune.ts";

const created = "2026-01-01T00:00:00Z";
const repo = (dedup: BackupRepo["spec"]["deduplication"], status: BackupRepo["status"] = {}) =>
  ({ metadata: { name: "r", generation: 1, creationTimestamp: created as unknown as Date }, spec: { storageProviderRef: "p", pvReclaimPolicy: "Retain", deduplication: dedup }, status }) as BackupRepo & KubeObject;
const backup = (ns: string, name: string, filePath: string | undefined, phase = "Completed", repoName = "r") =>
  ({ metadata: { name, namespace: ns }, spec: { backupPolicyName: "p", backupType: "datafile" }, status: { phase, backupRepoName: repoName, manifests: filePath ? { backupTool: { filePath } } : undefined } }) as unknown as Backup & KubeObject;
const job = (ns: string, name: string, state?: "Complete" | "Failed", message?: string) =>
  ({ metadata: { name, namespace: ns, labels: { [LabelPruneTick]: "1" } }, status: state ? { conditions: [{ type: state, status: "True", message }] } : { active: 1 } }) as V1Job & KubeObject;
const IMAGE = "dp-agent:test";
const at = (s: string) => new Date(s);

describe("scheduled prune of a deduplicated repo (decidePrune)", () => {
  const backups = [backup("b", "x1", "/b/x1"), backup("a", "y1", "/a/y1"), backup("a", "y2", "/a/team/y2"), backup("a", "new", "/a/new", "New"), backup("c", "other", "/c/o", "Completed", "elsewhere"), backup("d", "evil", "/d/../../etc")];

  it("finds, per namespace, each deduplicated storage beside its Backups' data (path prefixes included), skipping other repos, unstarted and unsafe paths", () => {
    expect([...pruneTargets(backups, "r")]).to.deep.equal([["a", ["a/.dedup", "a/team/.dedup"]], ["b", ["b/.dedup"]]]);
  });

  it("does nothing for a repo without deduplication", () => {
    const r = repo(undefined);
    expect(decidePrune(r, repoAccessFor(r), { backups, jobs: [] }, IMAGE, at("2026-01-02T05:00:00Z"))).to.deep.equal({ jobs: [], events: [] });
  });

  it("waits for the first tick after the repo's creation, and says when it is", () => {
    const r = repo({ enabled: true });
    const d = decidePrune(r, repoAccessFor(r), { backups, jobs: [] }, IMAGE, at("2026-01-01T01:00:00Z"));
    expect(d.jobs).to.deep.equal([]);
    expect(d.status).to.deep.equal({ nextPruneTime: "2026-01-01T03:00:00Z" });
    expect(d.wakeAt).to.equal(Date.parse("2026-01-01T03:00:00Z"));
  });

  it("at a tick starts one Job per namespace, pruning each storage there through dp-agent with the repo's access, and records the tick (the newest missed one, once)", () => {
    const r = repo({ enabled: true, pruneSchedule: "0 3 * * *" });
    const d = decidePrune(r, repoAccessFor(r), { backups, jobs: [] }, IMAGE, at("2026-01-03T04:00:00Z"));
    const tick = at("2026-01-03T03:00:00Z");
    expect(d.jobs.map((j) => `${j.metadata!.namespace}/${j.metadata!.name}`)).to.deep.equal([`a/${pruneJobName("r", tick)}`, `b/${pruneJobName("r", tick)}`]);
    const c = d.jobs[0]!.spec!.template.spec!.containers[0]!;
    expect(c.image).to.equal(IMAGE);
    expect(c.command!.slice(3)).to.deep.equal(["dp-prune", "a/.dedup", "a/team/.dedup"]);
    expect(c.command![2]).to.contain('DP_DEDUP_PREFIX="$p" dp-agent dedup prune --skip-missing');
    expect(c.env).to.deep.include({ name: "DP_DEDUP", value: "true" });
    expect(c.volumeMounts!.map((m) => m.mountPath)).to.include("/backupdata");
    expect(d.jobs[0]!.spec!.ttlSecondsAfterFinished).to.be.greaterThan(0);
    expect(d.status).to.deep.equal({
      lastPruneTime: "2026-01-03T03:00:00Z",
      lastPruneJobs: d.jobs.map((j) => `${j.metadata!.namespace}/${j.metadata!.name}`),
      lastPruneResult: "Running",
      nextPruneTime: "2026-01-04T03:00:00Z",
    });
    expect(d.events.map((e) => e.reason)).to.deep.equal(["PruneStarted"]);
    expect(d.wakeAt).to.equal(Date.parse("2026-01-04T03:00:00Z"));
  });

  it("records how the Jobs ended: Succeeded when all completed, Failed naming the Job and its message; while one runs, no new tick starts", () => {
    const running = { lastPruneTime: "2026-01-03T03:00:00Z", lastPruneJobs: ["a/p1", "b/p1"], lastPruneResult: "Running" };
    const r = repo({ enabled: true }, { deduplication: running });
    const later = at("2026-01-04T03:30:00Z");
    const still = decidePrune(r, repoAccessFor(r), { backups, jobs: [job("a", "p1", "Complete"), job("b", "p1")] }, IMAGE, later);
    expect(still.jobs, "not stacked on a running prune").to.deep.equal([]);
    expect(still.status?.lastPruneResult).to.equal("Running");
    expect(still.events).to.deep.equal([]);

    const ok = decidePrune(r, repoAccessFor(r), { backups, jobs: [job("a", "p1", "Complete"), job("b", "p1", "Complete")] }, IMAGE, at("2026-01-03T03:10:00Z"));
    expect(ok.status?.lastPruneResult).to.equal("Succeeded");
    expect(ok.events).to.deep.equal([{ type: "Normal", reason: "PruneSucceeded", message: "prune of 2026-01-03T03:00:00Z finished in 2 namespace(s)" }]);
    expect(ok.jobs).to.deep.equal([]);

    const bad = decidePrune(r, repoAccessFor(r), { backups, jobs: [job("a", "p1", "Complete"), job("b", "p1", "Failed", "BackoffLimitExceeded")] }, IMAGE, at("2026-01-03T03:10:00Z"));
    expect(bad.status?.lastPruneResult).to.equal("Failed: Job b/p1 failed (BackoffLimitExceeded)");
    expect(bad.events[0]).to.include({ type: "Warning", reason: "PruneFailed" });
  });

  it("refuses an invalid schedule once, with the field and the fix", () => {
    const r = repo({ enabled: true, pruneSchedule: "every night" });
    const d = decidePrune(r, repoAccessFor(r), { backups, jobs: [] }, IMAGE, at("2026-01-03T04:00:00Z"));
    expect(d.jobs).to.deep.equal([]);
    expect(d.status?.lastPruneResult).to.match(/^InvalidSchedule: spec\.deduplication\.pruneSchedule: invalid cronExpression "every night"/);
    expect(d.events.map((e) => e.reason)).to.deep.equal(["InvalidPruneSchedule"]);
    const again = decidePrune({ ...r, status: { deduplication: d.status } }, repoAccessFor(r), { backups, jobs: [] }, IMAGE, at("2026-01-03T05:00:00Z"));
    expect(again.events).to.deep.equal([]);
  });

  it("gives every pod of a deduplicated repo DP_DEDUP, and removes its Backups through dp-agent (which forgets their snapshots) even on a mounted repo", () => {
    const r = repo({ enabled: true });
    const access = repoAccessFor(r);
    expect(access.dedup).to.equal(true);
    const b = { ...backup("a", "y1", "/a/y1"), metadata: { name: "y1", namespace: "a", uid: "u1" } } as Backup & KubeObject;
    b.status!.manifests!.backupTool!.backupId = "u1";
    const del = buildDeleteJob(b, access, "/a/y1", IMAGE).spec!.template.spec!.containers[0]!;
    expect(del.command).to.deep.equal(["dp-agent", "rm", "--all"]);
    expect(del.env).to.deep.include({ name: "DP_BACKUP_ID", value: "u1" });
    const plain = repo(undefined);
    expect(buildDeleteJob(b, repoAccessFor(plain), "/a/y1", IMAGE).spec!.template.spec!.containers[0]!.command![0]).to.equal("sh");
    expect(repoAccessFor(plain).env.map((e) => e.name)).to.not.include("DP_DEDUP");
  });
});

describe("provider templates that render but not into a YAML map", () => {
  it("are TemplateErrors naming the field (the repo fails TemplateError), never an uncaught throw", async () => {
    const { buildCSIDriverSecret } = await import("./secret.ts");
    const { buildStorageClass } = await import("./storageclass.ts");
    const { buildRepoPVC } = await import("./pvc.ts");
    const { TemplateError } = await import("../storageprovider/template.ts");
    const values = { Parameters: {}, GeneratedStorageClassName: "sc", CSIDriverSecretRef: { Name: "s", Namespace: "ns" } };
    const r = repo(undefined);
    const provider = (spec: Record<string, string>) => ({ metadata: { name: "sp" }, spec }) as never;
    const cases: Array<[string, () => unknown, RegExp]> = [
      ["a list as the CSI driver Secret", () => buildCSIDriverSecret(provider({ csiDriverSecretTemplate: "- a\n- b" }), values, "r"), /^StorageProvider "sp" \.spec\.csiDriverSecretTemplate must render a YAML map of key: value$/],
      ["a scalar as the StorageClass", () => buildStorageClass(r, provider({ storageClassTemplate: "just text" }), values), /storageClassTemplate must render a YAML map of StorageClass fields/],
      ["invalid YAML as the PVC", () => buildRepoPVC({ repo: r, provider: provider({ persistentVolumeClaimTemplate: "spec: [unclosed" }), namespace: "ns", pvcName: "p", values }), /persistentVolumeClaimTemplate renders invalid YAML: /],
      ["no provisioner", () => buildStorageClass(r, provider({ storageClassTemplate: "parameters: {}" }), values), /renders no provisioner and the provider names no csiDriverName/],
    ];
    for (const [what, build, message] of cases) {
      const err = (() => {
        try {
          build();
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, what).to.be.instanceOf(TemplateError);
      expect((err as Error).message, what).to.match(message);
    }
  });
});
