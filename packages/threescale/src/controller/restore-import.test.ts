// APIManagerRestore from restoreSource.backupRepo: the imports (the APIManager's backup, then the
// components its manifest records), checked as input, failing naming what, before any restore.
import { expect } from "chai";
import type { Backup } from "@dataprotection/api";
import { DATABASES_CONTEXT_KEY } from "../tool/layout.ts";
import { Reason } from "../tool/reasons.ts";
import { decideRestore, type RestoreObservation } from "./restore-decide.ts";
import { importBackupName, importedSource, importsState, recordedComponents, type ImportObservation } from "./restore-import.ts";

const now = new Date("2024-05-01T10:00:00Z");
const cr = { name: "r", namespace: "dr", uid: "u-r" };
const recorded = [
  { name: "system-database", engine: "mysql", backupName: "b-system-database", backupToolName: "threescale-system-database-mariadb-dump", backupPath: "/prod/b-system-database" },
  { name: "backend-redis", engine: "redis", backupToolName: "threescale-backend-redis-redis-rdb-online", backupPath: "prod/b-backend-redis" },
];
const ctx = (v: unknown) => ({ [DATABASES_CONTEXT_KEY]: typeof v === "string" ? v : JSON.stringify(v) });
const backupIn = (phase?: string, failureReason?: string): Backup => ({ metadata: { name: "x", namespace: "dr" }, spec: { backupPolicyName: "p" }, status: phase ? { phase, ...(failureReason ? { failureReason } : {}) } : undefined }) as Backup;
const obs = (what: ImportObservation["what"], backup?: Backup, owned = true): ImportObservation => ({ what, path: `/prod/${what}`, backup, owned });

describe("threescale restore from a BackupRepo: what the APIManager's backup records", () => {
  it("reads the components with their paths; none recorded is a backup without databases", () => {
    const r = recordedComponents(ctx(recorded));
    expect(r.ok && r.components.map((c) => [c.name, c.engine, c.backupPath, c.backupToolName])).to.deep.equal([
      ["system-database", "mysql", "/prod/b-system-database", "threescale-system-database-mariadb-dump"],
      ["backend-redis", "redis", "prod/b-backend-redis", "threescale-backend-redis-redis-rdb-online"],
    ]);
    expect(recordedComponents(undefined)).to.deep.equal({ ok: true, components: [] });
    expect(recordedComponents({ other: "x" })).to.deep.equal({ ok: true, components: [] });
  });
  it("refuses a record that is not JSON, names an unknown or repeated component, a path that climbs out, an unknown engine or a tool that is not a name", () => {
    const rows: Array<[unknown, string]> = [
      ["{", "not JSON"],
      [{ name: "system-database" }, "not a list"],
      [[{ name: "kafka", backupPath: "a/b" }], "not one of"],
      [[recorded[0], recorded[0]], "twice"],
      [[{ ...recorded[0], backupPath: "/prod/../other" }], "no plain backup path"],
      [[{ ...recorded[0], backupPath: 7 }], "no plain backup path"],
      [[{ ...recorded[0], engine: "oracle" }], "unknown engine"],
      [[{ ...recorded[0], backupToolName: "$(rm -rf)" }], "not a name"],
      [[{ ...recorded[0], runByAPIManager: "true" }], "not true or false"],
      [[...Array(6).keys()].map(() => recorded[0]), "at most 5"],
    ];
    for (const [v, text] of rows) {
      const r = recordedComponents(ctx(v));
      expect(r.ok, JSON.stringify(v).slice(0, 60)).to.equal(false);
      if (!r.ok) expect(r.message).to.contain(text);
    }
  });
});

describe("threescale restore from a BackupRepo: the imports", () => {
  it("creates the missing imports (owned, importFrom the recorded path), waits for running ones, completes when all completed", () => {
    const st = importsState(cr, "s3", [obs("apimanager"), obs("system-database", backupIn("InProgress"))]);
    expect(st.state).to.equal("running");
    if (st.state !== "running") return;
    expect(st.creates).to.have.length(1);
    const b = st.creates[0]!.object as Backup;
    expect(b.metadata?.name).to.equal(importBackupName("r", "apimanager"));
    expect(b.spec.importFrom).to.deep.equal({ backupRepoName: "s3", path: "/prod/apimanager" });
    expect(b.metadata?.ownerReferences?.[0]).to.deep.include({ kind: "APIManagerRestore", name: "r", uid: "u-r", controller: true });
    expect(importsState(cr, "s3", [obs("apimanager", backupIn("Completed")), obs("system-database", backupIn("Completed"))])).to.deep.equal({ state: "completed" });
  });
  it("names and labels the imports validly for a CR name of any length (a label value is at most 63 characters)", () => {
    const long = { ...cr, name: `amr-${"x".repeat(240)}` };
    const st = importsState(long, "s3", [obs("apimanager")]);
    const b = (st.state === "running" ? st.creates[0]!.object : undefined) as Backup;
    expect(b.metadata?.name?.length).to.be.at.most(63);
    for (const v of Object.values(b.metadata?.labels ?? {})) expect(v.length, v).to.be.at.most(63);
  });
  it("fails naming the component whose import failed, and on a Backup of that name it does not own", () => {
    const f = importsState(cr, "s3", [obs("apimanager", backupIn("Completed")), obs("backend-redis", backupIn("Failed", "JobFailed: no backup at prod/b-backend-redis"))]);
    expect(f).to.deep.include({ state: "failed", reason: Reason.ImportFailed });
    if (f.state === "failed") expect(f.message).to.contain("component backend-redis at /prod/backend-redis").and.contain("no backup at").and.contain("nothing was restored");
    expect(importsState(cr, "s3", [obs("apimanager", backupIn("Completed"), false)])).to.deep.include({ state: "failed", reason: Reason.BackupNameTaken });
  });
  it("resolves to the imported Backups, as an APIManagerBackup's status would name them", () => {
    const r = recordedComponents(ctx(recorded));
    expect(r.ok && importedSource(cr, r.components)).to.deep.equal({
      backupName: importBackupName("r", "apimanager"),
      databases: [
        { name: "system-database", engine: "mysql", backupName: importBackupName("r", "system-database"), backupToolName: "threescale-system-database-mariadb-dump" },
        { name: "backend-redis", engine: "redis", backupName: importBackupName("r", "backend-redis"), backupToolName: "threescale-backend-redis-redis-rdb-online" },
      ],
    });
    // A component the APIManager ran keeps saying so: it is restored once the restored APIManager runs it.
    const run = recordedComponents(ctx([{ ...recorded[1], runByAPIManager: true }]));
    expect(run.ok && importedSource(cr, run.components).databases.map((d) => d.runByAPIManager)).to.deep.equal([true]);
  });
});

describe("threescale restore from a BackupRepo: decideRestore", () => {
  const base: RestoreObservation = {
    name: "r", namespace: "dr", uid: "u-r", status: {}, source: { ok: true, kind: "importing", repo: "s3", imports: [obs("apimanager")] },
    apimanagers: [], job: { pods: [] }, now, podStartMs: 60_000, options: { jobDeadlineSeconds: 600 },
  };
  it("imports first (Running, ImportStarted), and nothing else is created", () => {
    const d = decideRestore(base);
    expect(d.creates?.map((c) => c.kind.kind)).to.deep.equal(["Backup"]);
    expect(d.status?.conditions?.[0]).to.deep.include({ type: "Running", reason: Reason.ImportStarted });
    expect(d.events?.[0]?.reason).to.equal(Reason.ImportStarted);
  });
  it("refuses before importing when an APIManager exists; fails past the deadline", () => {
    const exists = decideRestore({ ...base, apimanagers: [{ metadata: { name: "am", namespace: "dr" } } as never] });
    expect(exists.status?.failureReason).to.match(new RegExp(`^${Reason.APIManagerExists}: `));
    expect(exists.creates ?? []).to.have.length(0);
    const late = decideRestore({ ...base, status: { startTime: "2024-05-01T09:00:00Z" }, source: { ok: true, kind: "importing", repo: "s3", imports: [obs("apimanager", backupIn("InProgress"))] } });
    expect(late.status?.failureReason).to.match(new RegExp(`^${Reason.ToolJobTimeout}: the imports from BackupRepo "s3"`));
  });
  it("records the imports done (backupsImported) before restoring from the imported Backups", () => {
    const d = decideRestore({ ...base, status: { startTime: "2024-05-01T09:59:00Z" }, source: { ok: true, kind: "backup", backupName: importBackupName("r", "apimanager"), databases: [], imported: true } });
    expect(d.status?.mainStepsCompleted).to.deep.equal({ backupsImported: true });
    expect(d.events?.[0]?.reason).to.equal(Reason.BackupsImported);
    expect(d.creates ?? []).to.have.length(0);
    const next = decideRestore({ ...base, status: d.status!, source: { ok: true, kind: "backup", backupName: importBackupName("r", "apimanager"), databases: [], imported: true } });
    expect(next.creates?.map((c) => c.kind.kind)).to.include("RestoreJob");
  });
});
