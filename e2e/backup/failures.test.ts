// Every failure path ends Failed with a specific failureReason and a Warning Event, never hanging;
// an operator restart while a Job runs finds that Job instead of creating a twin.
import { expect } from "chai";
import { BatchV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { DataProtectionGroup, type BackupTool } from "@dataprotection/api";
import { e2eCluster, eventsFor, getCustom, startTestOperator, testNamespace, untilEvents } from "../harness.ts";
import {
  backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, installShared, jobsOf, startTargetPod, testTimeouts, tool,
} from "./fixtures.ts";
import { until } from "../harness.ts";
import { waitRestore } from "../restore/seed.ts";

const failTool = tool("e2e-fails", ["sh", "-c", "echo tool says boom >&2; exit 1"]);
const slowTool = tool("e2e-slow", ["sh", "-c", 'sleep 6; mkdir -p "$BACKUP_DIR"; echo done > "$BACKUP_DIR/out.txt"']);
// A tool writer trying to point the backup at another namespace's directory in the repo.
const redirectTool = tool("e2e-redirect", ["sh", "-c", 'echo x > "$BACKUP_DIR/x"'], { env: [{ name: "BACKUP_DIR", value: "/backupdata/victim-ns/b" }, { name: "DATA_DIR", value: "/data/../../etc" }] });
const badSecretTool = tool("e2e-bad-secret", ["sh", "-c", "echo never"], { env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "no-such-secret", key: "token" } } }] });

async function expectFailed(kc: KubeConfig, ns: string, name: string, reason: string, timeoutMs = 60_000): Promise<string> {
  const b = await backupInPhase(kc, ns, name, ["Failed"], timeoutMs);
  expect(b.status!.failureReason).to.match(new RegExp(`^${reason}: `));
  const events = await until(`Warning ${reason} Event`, async () => {
    const evs = (await eventsFor(kc, ns, name)).filter((e) => e.type === "Warning" && e.reason === reason);
    return evs.length ? evs : undefined;
  }, 60_000);
  expect(events[0].message).to.contain("Backup failed");
  return b.status!.failureReason!;
}

describe("Backup: failure paths and restarts", function () {
  this.timeout(240_000);
  let op: Operator | undefined;

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig, [failTool, slowTool, badSecretTool, redirectTool]);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("fails on a missing policy, a missing tool, a missing Secret and no target pod, each naming what is missing", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-invalid");
    try {
      await createPolicy(kc, ns.name, "no-tool", datafilePolicy("no-such-tool"));
      await createPolicy(kc, ns.name, "no-target", { ...datafilePolicy("volume"), datafile: { ...datafilePolicy("volume").datafile!, target: { labelsSelector: { matchLabels: { app: "nothing-here" } } } } });
      await createPolicy(kc, ns.name, "no-secret", datafilePolicy("volume", { target: { labelsSelector: { matchLabels: { app: "db" } }, secret: { name: "absent-cred", usernameKey: "username", passwordKey: "password" } } }));
      await createBackup(kc, ns.name, "p", "no-such-policy");
      await createBackup(kc, ns.name, "t", "no-tool");
      await createBackup(kc, ns.name, "n", "no-target");
      await createBackup(kc, ns.name, "s", "no-secret");
      expect(await expectFailed(kc, ns.name, "p", "PolicyNotFound")).to.contain(`BackupPolicy "${ns.name}/no-such-policy" not found`);
      expect(await expectFailed(kc, ns.name, "t", "ToolNotFound")).to.contain(`BackupTool "no-such-tool" not found: create it or change BackupPolicy "${ns.name}/no-tool" .spec.datafile.backupToolName`);
      expect(await expectFailed(kc, ns.name, "s", "SecretNotFound")).to.contain(`Secret "${ns.name}/absent-cred"`);
      expect(await expectFailed(kc, ns.name, "n", "TargetPodNotFound")).to.contain("app=nothing-here");
    } finally {
      await ns.cleanup();
    }
  });

  it("refuses a tool whose env overrides BACKUP_DIR or climbs out with ..: Failed ToolUnsuitable before any Job, and the BackupTool is Valid=False", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-tool-env");
    try {
      await createPVC(kc, ns.name, "data");
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "p", datafilePolicy(redirectTool.metadata!.name!));
      await createBackup(kc, ns.name, "b", "p");
      const reason = await expectFailed(kc, ns.name, "b", "ToolUnsuitable");
      expect(reason).to.contain('BackupTool "e2e-redirect" .spec.env sets BACKUP_DIR');
      expect(await jobsOf(kc, ns.name, "b")).to.deep.equal([]);
      const t = await until("BackupTool e2e-redirect judged", async () => {
        const x = await getCustom<BackupTool>(kc, DataProtectionGroup, "backuptools", undefined, "e2e-redirect");
        return x?.status?.conditions?.find((c) => c.type === "Valid") ? x : undefined;
      }, 60_000);
      expect(t.status!.conditions!.find((c) => c.type === "Valid")).to.deep.include({ status: "False", reason: "InvalidEnv" });
      expect(t.status!.conditions!.find((c) => c.type === "Valid")!.message).to.contain("BACKUP_DIR");
    } finally {
      await ns.cleanup();
    }
  });

  it("refuses a path-prefix annotation that climbs out (PathInvalid) and a RestoreJob that mounts the node's file system (hostPath), before any Job", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const api = kc.makeApiClient(CustomObjectsApi);
    const ns = await testNamespace(kc, "bk-paths");
    try {
      await createPVC(kc, ns.name, "data");
      await startTargetPod(kc, ns.name);
      await api.createNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "backuppolicies", body: {
        apiVersion: `${DataProtectionGroup}/v1alpha1`, kind: "BackupPolicy", metadata: { name: "climb", annotations: { "dataprotection.kubeblocks.io/path-prefix": "../other-ns" } }, spec: datafilePolicy("volume"),
      } });
      await createBackup(kc, ns.name, "b", "climb");
      expect(await expectFailed(kc, ns.name, "b", "PathInvalid")).to.contain("is not a relative path of names");
      expect(await jobsOf(kc, ns.name, "b")).to.deep.equal([]);

      await api.createNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "restorejobs", body: {
        apiVersion: `${DataProtectionGroup}/v1alpha1`, kind: "RestoreJob", metadata: { name: "host" },
        spec: { backupJobName: "b", target: { labelsSelector: { matchLabels: { app: "db" } } }, targetVolumes: [{ name: "node-root", hostPath: { path: "/" } }], targetVolumeMounts: [{ name: "node-root", mountPath: "/data" }] },
      } });
      const rj = await waitRestore(kc, ns.name, "host", "Failed");
      expect(rj.status!.failureReason).to.match(/^InvalidRestoreJob: RestoreJob ".*\/host" .spec.targetVolumes "node-root" is a hostPath volume/);
      const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns.name });
      expect(jobs.items.map((j) => j.metadata?.name), "no Job for the refused RestoreJob").to.deep.equal([]);
    } finally {
      await ns.cleanup();
    }
  });

  it("fails when the tool exits 1, and retries exactly onFailAttempted times first", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-toolfail");
    try {
      await createPVC(kc, ns.name, "data");
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "once", datafilePolicy("e2e-fails"));
      await createPolicy(kc, ns.name, "thrice", datafilePolicy("e2e-fails", { onFailAttempted: 2 }));
      await createBackup(kc, ns.name, "once", "once");
      await createBackup(kc, ns.name, "thrice", "thrice");
      expect(await expectFailed(kc, ns.name, "once", "JobFailed")).to.contain("tool says boom");
      expect(await jobsOf(kc, ns.name, "once")).to.have.length(1);

      const reason = await expectFailed(kc, ns.name, "thrice", "JobFailed", 120_000);
      expect(reason).to.contain("after 3 attempts");
      const b = await backupInPhase(kc, ns.name, "thrice", ["Failed"]);
      expect(b.status!.attempts).to.equal(3);
      expect(await jobsOf(kc, ns.name, "thrice")).to.have.length(3);
      // Events are written in the background: wait until both AttemptFailed Events are there.
      const attempts = (await untilEvents(kc, ns.name, "thrice", "two AttemptFailed Events", (evs) => evs.filter((e) => e.reason === "AttemptFailed").length >= 2))
        .filter((e) => e.reason === "AttemptFailed");
      expect(attempts.map((e) => e.message?.slice(0, 18)).sort()).to.deep.equal(["attempt 1 of 3 fai", "attempt 2 of 3 fai"]);
    } finally {
      await ns.cleanup();
    }
  });

  it("fails a backup whose tool pod cannot start (missing Secret) after the bounded wait", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-nostart");
    // The bounded wait is what is tested, not its length: an operator waiting 12 s instead of 45 s.
    await op?.stop();
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: { ...testTimeouts, podStartMs: 12_000 } });
    try {
      await createPVC(kc, ns.name, "data");
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "p", datafilePolicy("e2e-bad-secret"));
      await createBackup(kc, ns.name, "b", "p");
      const reason = await expectFailed(kc, ns.name, "b", "PodCannotStart", 90_000);
      expect(reason).to.contain("no-such-secret").and.contain("for more than 12s");
      await until("tool Job deleted", async () => ((await jobsOf(kc, ns.name, "b")).length === 0 ? true : undefined), 30_000);
    } finally {
      await ns.cleanup();
      await op?.stop();
      op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: testTimeouts });
    }
  });

  it("after an operator restart while the Job runs, finds that Job (exactly one) and completes the Backup", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-restart");
    try {
      await createPVC(kc, ns.name, "data");
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "p", datafilePolicy("e2e-slow"));
      await createBackup(kc, ns.name, "b", "p");
      await backupInPhase(kc, ns.name, "b", ["InProgress"]);
      expect(await jobsOf(kc, ns.name, "b")).to.have.length(1);
      await op!.stop();
      op = undefined;
      op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: testTimeouts });
      const b = await backupInPhase(kc, ns.name, "b", ["Completed"], 90_000);
      expect(b.status!.totalSize).to.equal("5");
      expect(await jobsOf(kc, ns.name, "b")).to.have.length(1);
    } finally {
      await ns.cleanup();
    }
  });
});
