import { expect } from "chai";
import type { APIManagerBackupStatus, Backup, BackupTool } from "@dataprotection/api";
import { Reason } from "../tool/reasons.ts";
import { decideBackup, type BackupObservation } from "./backup-decide.ts";
import { componentsState, type ComponentObservation } from "./databases.ts";
import type { Prereq, ThreescaleDecision } from "./decide.ts";

const now = new Date("2024-05-01T10:00:00Z");
const tool = (name: string): BackupTool => ({ apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupTool", metadata: { name }, spec: { image: "db-tools", deployKind: "job", backupCommands: ["sh", "-c", name] } }) as BackupTool;
const tools = { "mariadb-dump": tool("mariadb-dump"), "postgres-dump": tool("postgres-dump"), "redis-rdb-online": tool("redis-rdb-online") };
const secrets = {
  "system-database": { URL: "mysql2://root:rootpw@system-mysql/system" },
  "system-redis": { URL: "redis://system-redis:6379/1" },
  "backend-redis": { REDIS_STORAGE_URL: "redis://backend-redis:6379/0", REDIS_QUEUES_URL: "redis://backend-redis:6379/1" },
};
const backupIn = (name: string, phase?: string, extra: Record<string, unknown> = {}): Backup => ({ metadata: { name, namespace: "ns" }, spec: { backupPolicyName: name }, status: phase ? { phase, ...extra } : undefined }) as Backup;
const actions = <S>(d: ThreescaleDecision<S>): string[] => [
  ...(d.prepare ?? []).map((p: Prereq) => (p.ensure === "tool" ? `tool ${p.tool.metadata.name}` : p.ensure === "secret" ? `secret ${p.secret.metadata!.name}` : p.ensure === "gate" ? `gate ${p.configMap.metadata!.name}` : `destination ${p.claim.metadata!.name}`)),
  ...(d.creates ?? []).map((c) => `create ${c.kind.kind} ${(c.object as { metadata: { name: string } }).metadata.name}`),
  ...(d.deletes ?? []).map((x) => `delete ${x.kind.kind} ${x.name}`),
];

describe("threescale includeDatabases: decideBackup", () => {
  const base: BackupObservation = {
    name: "b", namespace: "ns", uid: "u1", spec: { backupDestination: { persistentVolumeClaim: {} }, includeDatabases: true }, status: {}, apimanagers: [{ metadata: { name: "am", uid: "amu" } }],
    destination: { kind: "pvc", claimName: "b" }, ownsBackup: false, secrets, tools, now, options: { jobDeadlineSeconds: 600 },
  };
  const started = decideBackup(base);
  const comps = (phases: Array<string | undefined>, extra: Partial<ComponentObservation> = {}): ComponentObservation[] =>
    (["system-database", "system-redis", "backend-redis"] as const).map((name, i) => ({ name, engine: i === 0 ? "mysql" : "redis", owned: true, seen: true, backup: phases[i] === "absent" ? undefined : backupIn(`b-${name}`, phases[i], phases[i] === "Completed" ? { totalSize: "1Ki", completionTimestamp: "2024-05-01T10:00:00Z" } : {}), ...extra }));
  const runningStatus: APIManagerBackupStatus = started.status!;

  it("starts every database component together, before the APIManager's own Backup", () => {
    expect(actions(started)).to.deep.equal([
      "tool threescale-apimanager", "tool threescale-apimanager-plain", "destination b",
      "tool threescale-system-database-mariadb-dump", "secret threescale-system-database-endpoint",
      "tool threescale-system-redis-redis-rdb-online", "secret threescale-system-redis-endpoint",
      "tool threescale-backend-redis-redis-rdb-online", "secret threescale-backend-redis-endpoint",
      "create ServiceAccount threescale-apimanager", "create RoleBinding threescale-apimanager", "create BackupPolicy b-threescale",
      "create BackupPolicy b-system-database", "create Backup b-system-database",
      "create BackupPolicy b-system-redis", "create Backup b-system-redis",
      "create BackupPolicy b-backend-redis", "create Backup b-backend-redis",
    ]);
    // The APIManager marks nothing external: its operator runs every database (runByAPIManager).
    expect(started.status?.databases).to.deep.equal([
      { name: "system-database", engine: "mysql", backupName: "b-system-database", backupToolName: "threescale-system-database-mariadb-dump", runByAPIManager: true },
      { name: "system-redis", engine: "redis", backupName: "b-system-redis", backupToolName: "threescale-system-redis-redis-rdb-online", runByAPIManager: true },
      { name: "backend-redis", engine: "redis", backupName: "b-backend-redis", backupToolName: "threescale-backend-redis-redis-rdb-online", runByAPIManager: true },
    ]);
    expect(started.status?.completed).to.equal(false);
  });

  it("records which databases the APIManager runs itself: those spec.externalComponents does not mark external", () => {
    const am = { metadata: { name: "am", uid: "amu" }, spec: { externalComponents: { system: { database: true, redis: true }, backend: { redis: false } } } };
    const d = decideBackup({ ...base, apimanagers: [am] });
    expect(d.status?.databases?.map((e) => [e.name, e.runByAPIManager ?? false])).to.deep.equal([["system-database", false], ["system-redis", false], ["backend-redis", true]]);
    // Kept as the Backups' phases come in.
    const cs = componentsState({ name: "b", namespace: "ns", uid: "u1" }, comps(["Completed", "Completed", "Completed"]).map((c) => ({ ...c, runByAPIManager: c.name === "backend-redis" })));
    expect(cs.entries.map((e) => [e.name, e.runByAPIManager ?? false])).to.deep.equal([["system-database", false], ["system-redis", false], ["backend-redis", true]]);
  });

  it("component policies are targetless over the endpoint tool, into the same destination PVC", () => {
    const p = started.creates!.find((c) => (c.object as { metadata: { name: string } }).metadata.name === "b-system-database" && c.kind.kind === "BackupPolicy")!.object as { spec: { datafile: object } };
    expect(p.spec.datafile).to.deep.equal({ backupToolName: "threescale-system-database-mariadb-dump", target: { labelsSelector: {} }, persistentVolumeClaim: { name: "b", createPolicy: "Never" } });
  });

  it("no credential reaches a status, an Event or a created object; only the endpoint Secrets hold them", () => {
    const { prepare, ...rest } = started;
    expect(JSON.stringify(rest)).not.to.contain("rootpw");
    expect(JSON.stringify(prepare!.filter((p) => p.ensure !== "secret"))).not.to.contain("rootpw");
  });

  it("an upstream-shaped backup (no includeDatabases) reads no Secret and takes no database", () => {
    const d = decideBackup({ ...base, spec: { backupDestination: { persistentVolumeClaim: {} } }, secrets: undefined, tools: undefined });
    expect(actions(d).filter((a) => a.includes("endpoint") || a.includes("system-database"))).to.deep.equal([]);
    expect(d.status?.databases).to.equal(undefined);
  });

  const startFailures: Array<[string, Partial<BackupObservation>, string, RegExp]> = [
    ["a component Secret is missing", { secrets: { ...secrets, "system-redis": undefined } }, Reason.DatabaseNotLocated, /component system-redis: Secret "ns\/system-redis" not found/],
    ["a URL is hostile", { secrets: { ...secrets, "system-database": { URL: "mysql2://u:p@h/x;DROP" } } }, Reason.DatabaseNotLocated, /component system-database: .*not plain/],
    ["a built-in tool is not installed", { tools: { ...tools, "redis-rdb-online": undefined } }, Reason.DatabaseToolNotFound, /component system-redis: BackupTool "redis-rdb-online"/],
  ];
  for (const [what, o, reason, re] of startFailures) {
    it(`fails before creating anything when ${what}, naming the component`, () => {
      const d = decideBackup({ ...base, ...o });
      expect(actions(d)).to.deep.equal([]);
      expect(d.status?.failureReason).to.match(new RegExp(`^${reason}: `)).and.match(re);
      expect(d.status?.completed).to.equal(false);
    });
  }

  it("waits while another APIManagerBackup of the namespace takes its databases", () => {
    const d = decideBackup({ ...base, busyWith: "other" });
    expect(actions(d)).to.deep.equal([]);
    expect(d.status?.databases).to.equal(undefined);
    expect(d.status?.conditions?.[0]).to.deep.include({ type: "Running", status: "False", reason: Reason.WaitingForBackup });
    expect(d.requeueAfterMs).to.be.greaterThan(0);
  });

  it("keeps running while a component is in progress, recording each one's phase, and does not start the APIManager's Backup", () => {
    const d = decideBackup({ ...base, status: runningStatus, components: comps(["Completed", "InProgress", undefined]) });
    expect(actions(d)).to.deep.equal([]);
    expect(d.status?.databases?.map((e) => e.phase)).to.deep.equal(["Completed", "InProgress", "New"]);
    expect(d.status?.databases?.[0]).to.deep.include({ totalSize: "1Ki", completionTime: "2024-05-01T10:00:00Z" });
  });

  it("creates again a component Backup never observed (the cache has not seen the create yet)", () => {
    const c = comps(["Completed", "Completed", "absent"]);
    c[2] = { ...c[2]!, seen: false };
    const d = decideBackup({ ...base, status: runningStatus, components: c });
    expect(actions(d)).to.deep.equal(["create BackupPolicy b-backend-redis", "create Backup b-backend-redis"]);
    expect(d.status?.failureReason).to.equal(undefined);
  });

  const componentFailures: Array<[string, ComponentObservation[], RegExp]> = [
    ["a component's Backup failed", comps(["Completed", "Failed", "Completed"]).map((c) => (c.name === "system-redis" ? { ...c, backup: backupIn("b-system-redis", "Failed", { failureReason: "JobFailed: redis-cli --rdb failed (exit 1)" }) } : c)), /component system-redis: Backup "ns\/b-system-redis" failed: JobFailed: redis-cli --rdb failed/],
    ["a component's Backup was deleted", comps(["Completed", "Completed", "absent"]), /component backend-redis: its Backup "ns\/b-backend-redis" is gone/],
    ["a component's Backup is someone else's", comps(["Completed", "Completed", "Completed"]).map((c, i) => (i === 0 ? { ...c, owned: false } : c)), /component system-database: .*does not belong/],
  ];
  for (const [what, components, re] of componentFailures) {
    it(`fails the whole backup when ${what}: named, never Completed, endpoint Secrets deleted`, () => {
      const d = decideBackup({ ...base, status: runningStatus, components });
      expect(d.status?.failureReason).to.match(new RegExp(`^${Reason.DatabaseBackupFailed}: `)).and.match(re).and.match(/not a full backup/);
      expect(d.status?.completed).to.equal(false);
      expect(d.status?.conditions?.[0]).to.deep.include({ type: "Failed", reason: Reason.DatabaseBackupFailed });
      expect(actions(d)).to.deep.equal(["delete Secret threescale-system-database-endpoint", "delete Secret threescale-system-redis-endpoint", "delete Secret threescale-backend-redis-endpoint"]);
      expect(decideBackup({ ...base, status: d.status!, components })).to.deep.equal({});
    });
  }

  it("fails naming the late components when they outlive the deadline", () => {
    const d = decideBackup({ ...base, status: { ...runningStatus, startTime: "2024-05-01T09:00:00Z" }, components: comps(["Completed", "InProgress", "Completed"]) });
    expect(d.status?.failureReason).to.match(/^ToolJobTimeout: the database Backups \(system-redis\) are not completed/);
  });

  it("once every component completed, starts the APIManager's Backup (databasesBackedUp step, an Event)", () => {
    const d = decideBackup({ ...base, status: runningStatus, components: comps(["Completed", "Completed", "Completed"]) });
    expect(actions(d)).to.include("create Backup b");
    expect(d.status?.mainStepsCompleted).to.deep.include({ databasesBackedUp: true });
    expect(d.events?.map((e) => e.reason)).to.deep.equal([Reason.DatabasesBackedUp]);
  });

  it("completes only when the APIManager's Backup and every component completed, then deletes the endpoint Secrets", () => {
    const status = { ...runningStatus, mainStepsCompleted: { ...runningStatus.mainStepsCompleted, databasesBackedUp: true } };
    const d = decideBackup({ ...base, status, components: comps(["Completed", "Completed", "Completed"]), backup: backupIn("b", "Completed", { completionTimestamp: "2024-05-01T10:00:00Z" }), ownsBackup: true });
    expect(d.status?.completed).to.equal(true);
    expect(d.status?.databases?.every((e) => e.phase === "Completed")).to.equal(true);
    expect(d.events?.[0]?.message).to.match(/with its databases \(system-database, system-redis, backend-redis\)/);
    expect(actions(d).filter((a) => a.startsWith("delete"))).to.have.length(3);
  });

  it("a component that fails after the APIManager's Backup started still fails the whole backup", () => {
    const status = { ...runningStatus, mainStepsCompleted: { ...runningStatus.mainStepsCompleted, databasesBackedUp: true } };
    const d = decideBackup({ ...base, status, components: comps(["Completed", "Completed", "absent"]), backup: backupIn("b", "Completed"), ownsBackup: true });
    expect(d.status?.completed).to.equal(false);
    expect(d.status?.failureReason).to.match(/^DatabaseBackupFailed: .*backend-redis/);
  });
});

describe("threescale includeDatabases: componentsState", () => {
  const cr = { name: "b", namespace: "ns", uid: "u" };
  it("is completed only when every component completed", () => {
    expect(componentsState(cr, [{ name: "system-redis", owned: true, backup: backupIn("x", "Completed") }]).state).to.equal("completed");
    expect(componentsState(cr, [{ name: "system-redis", owned: true, backup: backupIn("x", "Completed") }, { name: "backend-redis", owned: true, backup: backupIn("y", "InProgress") }]).state).to.equal("running");
    expect(componentsState(cr, []).state).to.equal("completed");
  });
});
