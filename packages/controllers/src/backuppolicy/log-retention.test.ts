import { expect } from "chai";
import { AnnotationLogKeepFrom } from "@dataprotection/api";
import type { ObservedBackup } from "./backups.ts";
import { decideLogRetention, LOG_KEEP_FROM_MARGIN_MS, logKeepFrom, logRetentionConfigMapName } from "./log-retention.ts";

const t = (s: string) => new Date(`2026-05-01T${s}Z`);
function backup(name: string, o: Partial<ObservedBackup>): ObservedBackup {
  return {
    name, namespace: "ns", backupType: "datafile", policyName: "p", scheduled: true, protected: false,
    creationTimestamp: t("00:00:00"), deleting: false, uid: `uid-${name}`, ...o,
  };
}
const log = backup("log1", { backupType: "logfile", phase: "Running", startTimestamp: t("00:00:00") });

describe("BackupPolicy log retention (which archived log the running logfile Backup may prune)", () => {
  it("keeps from the oldest kept base's start, less the margin: Completed and still running bases count, deleted, deleting and failed ones do not", () => {
    const own = [
      log,
      backup("gone", { phase: "Completed", startTimestamp: t("01:00:00"), deleting: true }),
      backup("failed", { phase: "Failed", startTimestamp: t("01:30:00") }),
      backup("b2", { phase: "Completed", startTimestamp: t("02:00:00") }),
      backup("b3", { phase: "InProgress", startTimestamp: t("03:00:00") }),
      backup("snap", { backupType: "snapshot", phase: "Completed", startTimestamp: t("04:00:00") }),
    ];
    expect(logKeepFrom(own)!.toISOString()).to.equal(new Date(t("02:00:00").getTime() - LOG_KEEP_FROM_MARGIN_MS).toISOString());
    // A base not yet started counts from its creation.
    expect(logKeepFrom([log, backup("new", { creationTimestamp: t("00:30:00") }), ...own])!.getTime()).to.equal(t("00:30:00").getTime() - LOG_KEEP_FROM_MARGIN_MS);
    // The operator's margin (OperatorOptions.logKeepFromMarginMs) replaces the default minute.
    expect(logKeepFrom(own, 10_000)!.getTime()).to.equal(t("02:00:00").getTime() - 10_000);
    const handed = decideLogRetention(own, "ns", 10_000).patches.at(-1)?.patch as { metadata: { annotations: Record<string, string> } };
    expect(Object.values(handed.metadata.annotations)).to.deep.equal([new Date(t("02:00:00").getTime() - 10_000).toISOString().replace(".000Z", "Z")]);
  });

  it("keeps everything (decides nothing) while no base is kept", () => {
    expect(logKeepFrom([log, backup("f", { phase: "Failed" })])).to.equal(undefined);
    expect(decideLogRetention([log, backup("f", { phase: "Failed" })], "ns")).to.deep.equal({ creates: [], patches: [] });
  });

  it("hands a new keep-from to the running logfile Backup: its ConfigMap (owned by it) created if absent, its data, then the annotation recording it", () => {
    const d = decideLogRetention([log, backup("b2", { phase: "Completed", startTimestamp: t("02:00:00") })], "ns");
    const cm = logRetentionConfigMapName("log1");
    expect(d.creates).to.have.length(1);
    expect(d.creates[0]!.object).to.deep.include({ apiVersion: "v1", kind: "ConfigMap", data: { keepFrom: "2026-05-01T01:59:00Z" } });
    expect((d.creates[0]!.object as { metadata: { ownerReferences: Array<{ kind: string; uid: string; controller: boolean }> } }).metadata.ownerReferences[0])
      .to.deep.include({ kind: "Backup", name: "log1", uid: "uid-log1", controller: true });
    expect(d.patches.map((p) => [p.kind.kind, p.name, p.patch])).to.deep.equal([
      ["ConfigMap", cm, { data: { keepFrom: "2026-05-01T01:59:00Z" } }],
      ["Backup", "log1", { metadata: { annotations: { [AnnotationLogKeepFrom]: "2026-05-01T01:59:00Z" } } }],
    ]);
  });

  it("writes nothing once the logfile Backup records the current keep-from, and nothing for a logfile Backup that is not running", () => {
    const b2 = backup("b2", { phase: "Completed", startTimestamp: t("02:00:00") });
    expect(decideLogRetention([{ ...log, logKeepFrom: "2026-05-01T01:59:00Z" }, b2], "ns")).to.deep.equal({ creates: [], patches: [] });
    for (const other of [{ ...log, phase: "Completed" }, { ...log, phase: "Failed" }, { ...log, deleting: true }]) {
      expect(decideLogRetention([other, b2], "ns")).to.deep.equal({ creates: [], patches: [] });
    }
  });
});
