// The log retention scenario both PITR suites run (WAL for PostgreSQL, binlogs for MariaDB): with
// the BackupPolicy controller running, deleting the older of two base backups prunes exactly the
// log files only it needed (finished before the kept base's start less a minute), keeps every one
// the kept base needs, and the kept base restores to points across its window.
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { AnnotationLogKeepFrom, DataProtectionGroup, type Backup } from "@dataprotection/api";
import { until } from "../harness.ts";
import { backupInPhase, createBackup, deleteBackup, exists, getBackup, hostPathOf } from "../backup/fixtures.ts";

interface LogManifest {
  files: Array<{ name: string; stopTime?: string }>;
}

export interface RetentionScenario {
  kc: KubeConfig;
  ns: string;
  /** The policy (its logfile schedule on) whose logfile Backup the controller starts. */
  policy: string;
  /** The archive interval, seconds. */
  intervalS: number;
  /** "WAL segments", "binlogs": for messages. */
  what: string;
  /** Whether a manifest entry is a finished log file (not the growing one). */
  isFinished: (object: string) => boolean;
  /** Finish the current log file on the source (pg_switch_wal, FLUSH BINARY LOGS). */
  switchLog: () => Promise<void>;
  /** Restore logfile Backup `log` to `t` into a fresh server `name` and compare its rows with the source's. */
  restoreAndCompare: (log: string, name: string, t: number) => Promise<void>;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const minus = (rfc: string, ms: number) => iso(Date.parse(rfc) - ms);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function expectLogRetention(s: RetentionScenario): Promise<void> {
  const { kc, ns } = s;
  const custom = kc.makeApiClient(CustomObjectsApi);
  const logName = await until("the policy's logfile Backup archiving", async () => {
    const list = (await custom.listNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns, plural: "backups" })) as { items: Backup[] };
    const log = list.items.find((b) => b.spec.backupPolicyName === s.policy && b.spec.backupType === "logfile" && (b.status?.availableReplicas ?? 0) > 0);
    return log?.metadata?.name;
  }, 180_000, 500);
  await sleep(2 * s.intervalS * 1000);
  const keepFromOf = async () => (await getBackup(kc, ns, logName))?.metadata?.annotations?.[AnnotationLogKeepFrom];
  const switches = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await sleep(1_500);
      await s.switchLog();
    }
  };

  await createBackup(kc, ns, "base1", s.policy);
  const base1 = await backupInPhase(kc, ns, "base1", ["Completed"], 240_000);
  expect(await until("keep-from handed over for base1", async () => ((await keepFromOf()) === minus(base1.status!.startTimestamp!, 60_000) ? true : undefined), 30_000, 500)).to.equal(true);

  // Log files only base1 needs: finished and archived more than a minute before base2 starts.
  const repoDir = await hostPathOf(kc, ns, base1.status!.persistentVolumeClaimName!);
  const manifest = async (): Promise<LogManifest> => JSON.parse(await readFile(join(repoDir, ns, logName, "manifest.json"), "utf8")) as LogManifest;
  const finished = (m: LogManifest) => m.files.filter((f) => s.isFinished(f.name));
  await switches(3);
  await until(`three finished ${s.what} archived`, async () => (finished(await manifest()).length >= 3 ? true : undefined), 60_000, 500);
  const lastPush = Math.max(...finished(await manifest()).map((f) => Date.parse(f.stopTime!)));
  await sleep(Math.max(0, lastPush + 65_000 - Date.now()));

  await createBackup(kc, ns, "base2", s.policy);
  const base2 = await backupInPhase(kc, ns, "base2", ["Completed"], 240_000);
  const keepFrom = minus(base2.status!.startTimestamp!, 60_000);
  await switches(2);
  await until(`the ${s.what} finished after base2 archived`, async () => (finished(await manifest()).some((f) => Date.parse(f.stopTime!) >= Date.parse(base2.status!.startTimestamp!)) ? true : undefined), 60_000, 500);
  const before = finished(await manifest());
  const onlyBase1 = before.filter((f) => Date.parse(f.stopTime!) < Date.parse(keepFrom)).map((f) => f.name);
  const kept = before.filter((f) => Date.parse(f.stopTime!) >= Date.parse(keepFrom)).map((f) => f.name);
  expect(onlyBase1.length, `${s.what} only base1 needs`).to.be.at.least(3);
  expect(kept.length, `${s.what} base2 needs`).to.be.at.least(1);
  expect(await keepFromOf(), "nothing is pruned while base1 is kept").to.equal(minus(base1.status!.startTimestamp!, 60_000));
  for (const n of onlyBase1) expect(finished(await manifest()).map((f) => f.name), "still there while base1 is kept").to.include(n);

  await deleteBackup(kc, ns, "base1");
  await until("base1 gone", async () => ((await getBackup(kc, ns, "base1")) ? undefined : true), 120_000, 500);
  expect(await until("keep-from moved to base2's start less a minute", async () => ((await keepFromOf()) === keepFrom ? true : undefined), 30_000, 500)).to.equal(true);
  const after = await until(`the archiver pruned the ${s.what} only base1 needed`, async () => {
    const names = finished(await manifest()).map((f) => f.name);
    return onlyBase1.every((n) => !names.includes(n)) ? names : undefined;
  }, 60_000, 500);
  for (const n of kept) expect(after, `one of the ${s.what} base2 needs is kept`).to.include(n);
  for (const n of onlyBase1) expect(await exists(join(repoDir, ns, logName, n)), `${n}'s object removed`).to.equal(false);

  // The kept base restores across its window: just after it, and near the newest archived log.
  await sleep(10_000);
  const log = await getBackup(kc, ns, logName);
  const start = Math.ceil(Date.parse(base2.status!.completionTimestamp!) / 1000) * 1000 + 1000;
  const end = Math.floor(Date.parse(log!.status!.manifests!.backupLog!.stopTime!) / 1000) * 1000 - 3 * s.intervalS * 1000;
  expect(end - start, "the window is long enough for two distinct points").to.be.greaterThan(2_000);
  await s.restoreAndCompare(logName, "k1", start);
  await s.restoreAndCompare(logName, "k2", end);
}
