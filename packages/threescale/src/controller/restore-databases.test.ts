import { expect } from "chai";
import type { APIManagerRestoreStatus, BackupTool, RestoreJob } from "@dataprotection/api";
import { Reason } from "../tool/reasons.ts";
import type { Prereq, ThreescaleDecision } from "./decide.ts";
import { decideRestore, type RestoreObservation } from "./restore-decide.ts";
import { componentRestoresState, type ComponentRestoreObservation } from "./restore-databases.ts";

const now = new Date("2024-05-01T10:00:00Z");
const tool = (name: string): BackupTool => ({ apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupTool", metadata: { name }, spec: { image: "db-tools", deployKind: "job", backupCommands: ["sh", "-c", name], logical: { restoreCommands: ["load"] } } }) as BackupTool;
const tools = { "mariadb-dump": tool("mariadb-dump"), "postgres-dump": tool("postgres-dump"), "redis-rdb-online": tool("redis-rdb-online") };
const secrets = {
  "system-database": { URL: "mysql2://root:rootpw@system-mysql/system" },
  "system-redis": { URL: "redis://system-redis:6379/1" },
  "backend-redis": { REDIS_STORAGE_URL: "redis://backend-redis:6379/0", REDIS_QUEUES_URL: "redis://backend-redis:6379/1" },
  zync: { DATABASE_URL: "postgresql://zync:zpw@zync-database:5432/zync_production" },
};
const databases = [
  { name: "system-database", engine: "mysql", backupName: "b-system-database", backupToolName: "threescale-system-database-mariadb-dump" },
  { name: "zync-database", engine: "postgresql", backupName: "b-zync-database", backupToolName: "threescale-zync-database-postgres-dump" },
  { name: "system-redis", engine: "redis", backupName: "b-system-redis", backupToolName: "threescale-system-redis-redis-rdb-online" },
  { name: "backend-redis", engine: "redis", backupName: "b-backend-redis", backupToolName: "threescale-backend-redis-redis-rdb-online" },
];
const actions = <S>(d: ThreescaleDecision<S>): string[] => [
  ...(d.prepare ?? []).map((p: Prereq) => (p.ensure === "tool" ? `tool ${p.tool.metadata.name}` : p.ensure === "secret" ? `secret ${p.secret.metadata!.name}` : p.ensure === "gate" ? `gate ${p.configMap.metadata!.name}` : `destination ${p.claim.metadata!.name}`)),
  ...(d.creates ?? []).map((c) => `create ${c.kind.kind} ${(c.object as { metadata: { name: string } }).metadata.name}`),
  ...(d.deletes ?? []).map((x) => `delete ${x.kind.kind} ${x.name}`),
];
const rjIn = (name: string, phase?: string, extra: Record<string, unknown> = {}): RestoreJob => ({ metadata: { name, namespace: "ns" }, spec: { backupJobName: name, target: { labelsSelector: {} } }, status: phase ? { phase, ...extra } : undefined }) as RestoreJob;

describe("threescale includeDatabases: APIManagerRestore of a backup with databases", () => {
  const base: RestoreObservation = {
    name: "r", namespace: "ns", uid: "u2", status: {}, source: { ok: true, kind: "backup", backupName: "b", apiManager: "am", databases },
    apimanagers: [], job: { pods: [] }, secrets, tools, now, podStartMs: 60_000, options: { jobDeadlineSeconds: 600 },
  };
  const started = decideRestore(base);
  const runningStatus: APIManagerRestoreStatus = started.status!;
  const comps = (phases: Array<string | undefined>, extra: Partial<ComponentRestoreObservation> = {}): ComponentRestoreObservation[] =>
    runningStatus.databases!.map((entry, i) => ({ entry: { ...entry, phase: phases[i] === undefined ? undefined : "New" }, owned: true, restoreJob: phases[i] === "absent" || phases[i] === undefined ? undefined : rjIn(entry.restoreJobName, phases[i]), ...extra }));

  it("restores every database first, all together, into the endpoints the Secrets name now; no APIManager RestoreJob yet", () => {
    expect(actions(started)).to.deep.equal([
      "tool threescale-system-database-mariadb-dump", "secret threescale-system-database-endpoint",
      "tool threescale-zync-database-postgres-dump", "secret threescale-zync-database-endpoint",
      "tool threescale-system-redis-redis-rdb-online", "secret threescale-system-redis-endpoint",
      "tool threescale-backend-redis-redis-rdb-online", "secret threescale-backend-redis-endpoint",
      "create RestoreJob r-system-database", "create RestoreJob r-zync-database", "create RestoreJob r-system-redis", "create RestoreJob r-backend-redis",
    ]);
    expect(runningStatus.databases?.map((d) => [d.name, d.engine, d.backupName, d.restoreJobName])).to.deep.equal([
      ["system-database", "mysql", "b-system-database", "r-system-database"], ["zync-database", "postgresql", "b-zync-database", "r-zync-database"],
      ["system-redis", "redis", "b-system-redis", "r-system-redis"], ["backend-redis", "redis", "b-backend-redis", "r-backend-redis"],
    ]);
    expect(runningStatus.completed).to.equal(false);
    expect(runningStatus.mainStepsCompleted?.databasesRestored).to.equal(undefined);
    expect(started.events?.map((e) => e.reason)).to.deep.equal([Reason.RestoreStarted]);
    // Endpoint Secrets and the RestoreJobs belong to the restore; credentials stay out of status and Events.
    const secret = started.prepare!.find((p) => p.ensure === "secret" && p.secret.metadata!.name === "threescale-system-database-endpoint") as Extract<Prereq, { ensure: "secret" }>;
    expect(secret.secret.metadata?.ownerReferences?.[0]).to.include({ kind: "APIManagerRestore", name: "r", uid: "u2" });
    expect(JSON.stringify({ s: started.status, e: started.events })).not.to.contain("rootpw").and.not.to.contain("zpw");
    const rj = started.creates![0]!.object as RestoreJob;
    expect(rj.spec).to.deep.include({ backupJobName: "b-system-database", target: { labelsSelector: {} } });
    expect(rj.metadata?.ownerReferences?.[0]).to.include({ kind: "APIManagerRestore", controller: true });
  });

  it("waits while the RestoreJobs run, mirroring their phases, and creates a lost one again", () => {
    const d = decideRestore({ ...base, status: runningStatus, components: comps(["Completed", "InProgressLogic", undefined, "New"]) });
    expect(d.status?.databases?.map((e) => e.phase)).to.deep.equal(["Completed", "InProgressLogic", undefined, "New"]);
    expect(actions(d)).to.deep.equal(["create RestoreJob r-system-redis"]);
    expect(d.requeueAfterMs).to.be.a("number");
  });

  it("once every database completed: deletes the endpoint Secrets and starts the APIManager's RestoreJob", () => {
    const d = decideRestore({ ...base, status: runningStatus, components: comps(["Completed", "Completed", "Completed", "Completed"]) });
    expect(d.status?.mainStepsCompleted?.databasesRestored).to.equal(true);
    expect(actions(d).filter((a) => a.startsWith("create RestoreJob"))).to.deep.equal(["create RestoreJob r-threescale"]);
    expect(actions(d).filter((a) => a.startsWith("delete"))).to.deep.equal([
      "delete Secret threescale-system-database-endpoint", "delete Secret threescale-zync-database-endpoint", "delete Secret threescale-system-redis-endpoint", "delete Secret threescale-backend-redis-endpoint",
    ]);
    expect(d.events?.map((e) => e.reason)).to.deep.equal([Reason.DatabasesRestored]);
    // Then the APIManager's RestoreJob is followed as for any backup; the databases are not looked at again.
    const after = decideRestore({ ...base, status: d.status!, restoreJob: rjIn("r-threescale", "Completed"), toolReport: { apiManager: "am", resynced: true } });
    expect(after.status?.completed).to.equal(true);
    expect(after.status?.mainStepsCompleted).to.deep.include({ databasesRestored: true, apiManagerRestored: true, routesResynced: true });
  });

  it("a failed database restore fails the whole restore, naming the component, before the APIManager is touched", () => {
    const components = comps(["Completed", "Completed", "Failed", "InProgressLogic"]);
    components[2]!.restoreJob!.status!.failureReason = "JobFailed";
    const d = decideRestore({ ...base, status: runningStatus, components });
    expect(d.status?.completed).to.equal(false);
    expect(d.status?.failureReason).to.match(/^DatabaseRestoreFailed: includeDatabases: component system-redis: RestoreJob "ns\/r-system-redis" failed: JobFailed; the APIManager was not restored/);
    expect(d.status?.mainStepsCompleted?.databasesRestored).to.equal(undefined);
    expect(actions(d).filter((a) => a.startsWith("create"))).to.deep.equal([]);
    expect(actions(d).filter((a) => a.startsWith("delete Secret"))).to.have.length(4);
    expect(d.events?.[0]).to.include({ type: "Warning", reason: Reason.DatabaseRestoreFailed });
  });

  it("a RestoreJob that vanished or belongs to someone else fails it too; a deadline bounds the wait", () => {
    expect(decideRestore({ ...base, status: runningStatus, components: comps(["Completed", "absent", "New", "New"]).map((c, i) => (i === 1 ? { ...c, entry: { ...c.entry, phase: "InProgressLogic" } } : c)) }).status?.failureReason)
      .to.match(/component zync-database: its RestoreJob "ns\/r-zync-database" is gone/);
    expect(decideRestore({ ...base, status: runningStatus, components: comps(["New", "New", "New", "New"]).map((c, i) => (i === 0 ? { ...c, owned: false } : c)) }).status?.failureReason)
      .to.match(/component system-database: RestoreJob "ns\/r-system-database" exists and does not belong/);
    const late = decideRestore({ ...base, status: runningStatus, components: comps(["Completed", "New", "New", "New"]), now: new Date(now.getTime() + 601_000) });
    expect(late.status?.failureReason).to.match(/^ToolJobTimeout: the database RestoreJobs \(zync-database, system-redis, backend-redis\) are not completed after 600s/);
  });

  const refused: Array<[string, Partial<RestoreObservation>, string, RegExp]> = [
    ["an APIManager exists", { apimanagers: [{ metadata: { name: "am" } }] }, Reason.APIManagerExists, /already exists/],
    ["the zync Secret names no database while the backup holds zync-database", { secrets: { ...secrets, zync: {} } }, Reason.DatabaseNotLocated, /component zync-database: it is in the backup, but Secret "ns\/zync" has no DATABASE_URL/],
    ["the system-database Secret now names another engine", { secrets: { ...secrets, "system-database": { URL: "postgresql://u:p@pg/system" } } }, Reason.DatabaseNotLocated, /component system-database: Secret "ns\/system-database" key URL names a postgresql server, and the backup holds a mysql database/],
    ["a Secret the procedure restores first is missing", { secrets: { ...secrets, "system-redis": undefined } }, Reason.DatabaseNotLocated, /component system-redis: Secret "ns\/system-redis" not found/],
    ["a built-in tool is not installed", { tools: { ...tools, "redis-rdb-online": undefined } }, Reason.DatabaseToolNotFound, /component system-redis: BackupTool "redis-rdb-online"/],
  ];
  for (const [what, patch, reason, message] of refused) {
    it(`refuses before restoring anything when ${what}`, () => {
      const d = decideRestore({ ...base, ...patch });
      expect(d.status?.failureReason).to.match(new RegExp(`^${reason}: `));
      expect(d.status?.failureReason).to.match(message);
      expect(d.creates ?? []).to.deep.equal([]);
      expect(d.prepare ?? []).to.deep.equal([]);
    });
  }

  it("a backup component taken with another tool than the endpoint tool is refused, naming both", () => {
    const src = { ok: true as const, kind: "backup" as const, backupName: "b", databases: [{ ...databases[2]!, backupToolName: "threescale-system-redis-redis-rdb" }] };
    expect(decideRestore({ ...base, source: src }).status?.failureReason).to.match(/^DatabaseToolNotFound: .*taken with BackupTool "threescale-system-redis-redis-rdb", not "threescale-system-redis-redis-rdb-online"/);
  });

  it("waits, without starting anything, while another backup or restore of the namespace uses the endpoint Secrets", () => {
    const d = decideRestore({ ...base, busyWith: 'APIManagerBackup "ns/full"' });
    expect(actions(d)).to.deep.equal([]);
    expect(d.status?.conditions?.[0]).to.include({ type: "Running", status: "False", reason: Reason.WaitingForBackup });
  });

  it("an upstream-shaped backup (no databases) restores as before: the APIManager's RestoreJob at once", () => {
    const d = decideRestore({ ...base, source: { ok: true, kind: "backup", backupName: "b", apiManager: "am" } });
    expect(actions(d).filter((a) => a.startsWith("create RestoreJob"))).to.deep.equal(["create RestoreJob r-threescale"]);
    expect(d.status?.databases).to.equal(undefined);
    expect(d.events?.map((e) => e.reason)).to.deep.equal([Reason.RestoreStarted]);
  });
});

describe("threescale includeDatabases: componentRestoresState", () => {
  const cr = { name: "r", namespace: "ns", uid: "u" };
  const entry = (name: string) => ({ name, backupName: `b-${name}`, restoreJobName: `r-${name}` });
  it("is completed only when every component's RestoreJob completed", () => {
    expect(componentRestoresState(cr, [{ entry: entry("system-redis"), owned: true, restoreJob: rjIn("r-system-redis", "Completed") }]).state).to.equal("completed");
    expect(componentRestoresState(cr, [{ entry: entry("system-redis"), owned: true, restoreJob: rjIn("r-system-redis", "Completed") }, { entry: entry("backend-redis"), owned: true }]).state).to.equal("running");
  });
});

describe("threescale includeDatabases: databases the APIManager runs itself (runByAPIManager)", () => {
  // zync-database runs under the APIManager: a new namespace has no server for it (and no zync
  // Secret) until the restored APIManager runs one.
  const later = databases.map((d) => (d.name === "zync-database" ? { ...d, runByAPIManager: true } : d));
  const { zync: _, ...withoutZync } = secrets;
  const base: RestoreObservation = {
    name: "r", namespace: "ns", uid: "u2", status: {}, source: { ok: true, kind: "backup", backupName: "b", apiManager: "am", databases: later },
    apimanagers: [], job: { pods: [] }, secrets: withoutZync, tools, now, podStartMs: 60_000, options: { jobDeadlineSeconds: 600 },
  };
  const started = decideRestore(base);
  const comps = (status: APIManagerRestoreStatus, phases: Record<string, string | undefined>): ComponentRestoreObservation[] =>
    status.databases!.map((entry) => {
      const p = phases[entry.name];
      return { entry: { ...entry, ...(p ? { phase: "New" } : {}) }, owned: true, restoreJob: p ? rjIn(entry.restoreJobName, p) : undefined };
    });
  const early = { "system-database": "Completed", "system-redis": "Completed", "backend-redis": "Completed" };
  const amStarted = decideRestore({ ...base, status: started.status!, components: comps(started.status!, early) });
  const running = { ...base, status: amStarted.status!, restoreJob: rjIn("r-threescale", "InProgressLogic") };
  const am = (ready: string[]) => [{ metadata: { name: "am" }, status: { deployments: { ready } } }];

  it("restores the external databases first and leaves the one the APIManager runs for later (its Secret need not exist yet)", () => {
    expect(actions(started).filter((a) => a.startsWith("create"))).to.deep.equal(["create RestoreJob r-system-database", "create RestoreJob r-system-redis", "create RestoreJob r-backend-redis"]);
    expect(started.status?.databases?.map((d) => [d.name, d.runByAPIManager ?? false, d.phase])).to.deep.equal([
      ["system-database", false, undefined], ["zync-database", true, undefined], ["system-redis", false, undefined], ["backend-redis", false, undefined],
    ]);
    expect(started.events?.[0]?.message).to.match(/then the databases it runs \(zync-database\) once it runs them, then the routes resync$/);
  });

  it("once the external ones completed: the restore gate is set to wait, before the APIManager's RestoreJob is created", () => {
    expect(amStarted.status?.mainStepsCompleted?.databasesRestored).to.equal(true);
    expect(actions(amStarted).filter((a) => a.startsWith("gate") || a.startsWith("create RestoreJob"))).to.deep.equal(["gate r-threescale-databases", "create RestoreJob r-threescale"]);
    const g = amStarted.prepare!.find((p) => p.ensure === "gate") as Extract<Prereq, { ensure: "gate" }>;
    expect(g.configMap.data).to.deep.equal({ state: "waiting", components: "zync-database", message: "" });
    expect(g.configMap.metadata?.ownerReferences?.[0]).to.include({ kind: "APIManagerRestore", name: "r", uid: "u2", controller: true });
  });

  it("waits until the restored APIManager reports the database's Deployment ready, then restores it through its endpoint tool", () => {
    const notYet = decideRestore({ ...running, components: comps(running.status, early), apimanagers: am(["system-sidekiq"]) });
    expect(actions(notYet)).to.deep.equal([]);
    expect(notYet.requeueAfterMs).to.be.a("number");
    const zync = { DATABASE_URL: "postgresql://zync:zpw@zync-database:5432/zync_production" };
    const now2 = decideRestore({ ...running, components: comps(running.status, early), apimanagers: am(["system-sidekiq", "zync-database"]), laterSecrets: { ...withoutZync, zync }, laterTools: tools });
    expect(actions(now2)).to.deep.equal(["tool threescale-zync-database-postgres-dump", "secret threescale-zync-database-endpoint", "create RestoreJob r-zync-database"]);
    expect(now2.events?.[0]?.message).to.equal("the APIManager runs zync-database: restoring it before the routes resync");
    expect(JSON.stringify({ s: now2.status, e: now2.events })).not.to.contain("zpw");
    // Its Secret not there (the restore did not bring it): refused, naming it.
    const noSecret = decideRestore({ ...running, components: comps(running.status, early), apimanagers: am(["zync-database"]), laterSecrets: withoutZync, laterTools: tools });
    expect(noSecret.status?.failureReason).to.match(/^DatabaseNotLocated: includeDatabases: component zync-database: it is in the backup, but Secret "ns\/zync" has no DATABASE_URL.*the APIManager was restored; its routes were not resynced$/);
    expect((noSecret.prepare?.find((p) => p.ensure === "gate") as Extract<Prereq, { ensure: "gate" }>).configMap.data?.state).to.equal("failed");
  });

  it("opens the gate once it completed (the tool resyncs), then completes, deleting the gate and the endpoint Secrets", () => {
    const done = decideRestore({ ...running, components: comps(running.status, { ...early, "zync-database": "Completed" }), apimanagers: am(["zync-database"]) });
    expect(done.status?.mainStepsCompleted?.apiManagerDatabasesRestored).to.equal(true);
    expect((done.prepare?.find((p) => p.ensure === "gate") as Extract<Prereq, { ensure: "gate" }>).configMap.data?.state).to.equal("restored");
    expect(done.events?.map((e) => e.message)).to.deep.equal(["the databases the APIManager runs restored (zync-database): resyncing the routes"]);
    const after = decideRestore({ ...running, status: done.status!, restoreJob: rjIn("r-threescale", "Completed"), toolReport: { apiManager: "am", resynced: true } });
    expect(after.status?.completed).to.equal(true);
    expect(after.status?.mainStepsCompleted).to.deep.include({ databasesRestored: true, apiManagerDatabasesRestored: true, routesResynced: true });
    expect(actions(after).filter((a) => a.startsWith("delete"))).to.include.members(["delete ConfigMap r-threescale-databases", "delete Secret threescale-zync-database-endpoint"]);
  });

  it("a failed restore of it fails the whole restore and closes the gate (the tool stops without resyncing)", () => {
    const components = comps(running.status, { ...early, "zync-database": "Failed" });
    components.find((c) => c.entry.name === "zync-database")!.restoreJob!.status!.failureReason = "JobFailed";
    const d = decideRestore({ ...running, components, apimanagers: am(["zync-database"]) });
    expect(d.status?.failureReason).to.equal('DatabaseRestoreFailed: includeDatabases: component zync-database: RestoreJob "ns/r-zync-database" failed: JobFailed; the APIManager was restored; its routes were not resynced');
    const g = (d.prepare?.find((p) => p.ensure === "gate") as Extract<Prereq, { ensure: "gate" }>).configMap.data!;
    expect(g.state).to.equal("failed");
    expect(g.message).to.contain("component zync-database");
    // An APIManager RestoreJob that completed while the gate still held: refused, not completed.
    const early2 = decideRestore({ ...running, restoreJob: rjIn("r-threescale", "Completed"), components: comps(running.status, early) });
    expect(early2.status?.failureReason).to.match(/^DatabaseRestoreFailed: RestoreJob "ns\/r-threescale" completed before the databases the APIManager runs \(zync-database\) were restored/);
  });

  it("with every database run by the APIManager, its RestoreJob starts at once, behind the gate", () => {
    const all = decideRestore({ ...base, secrets: {}, source: { ok: true, kind: "backup", backupName: "b", apiManager: "am", databases: databases.map((d) => ({ ...d, runByAPIManager: true })) } });
    expect(actions(all).filter((a) => a.startsWith("gate") || a.startsWith("create RestoreJob"))).to.deep.equal(["gate r-threescale-databases", "create RestoreJob r-threescale"]);
    expect(all.status?.mainStepsCompleted?.databasesRestored).to.equal(true);
    expect(all.status?.databases?.every((d) => d.runByAPIManager)).to.equal(true);
  });
});
