import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, configFromEnv } from "@dataprotection/agent";
import { ApiError, type KubeClient } from "@dataprotection/runtime";
import { recordComponents } from "./backup.ts";
import { recordedComponents as readBack } from "../controller/restore-import.ts";
import { BACKUP_PATH_RE, componentsContext } from "./components.ts";
import { DATABASES_CONTEXT_KEY } from "./layout.ts";
import { Reason, StepError } from "./reasons.ts";
import type { StepContext } from "./steps.ts";
import { AGENT_REPORT_BUDGET, AgentStore, PlainStore } from "./store.ts";

const entry = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  engine: name.includes("redis") ? "redis" : "postgresql",
  backupName: `apimb-${name}`,
  backupToolName: `threescale-${name}-tool`,
  backupPath: `/ns/apimb-${name}`,
  phase: "Completed",
  totalSize: "1Ki",
  startTime: "2026-01-01T00:00:00Z",
  ...extra,
});

describe("threescale database components recorded in the APIManager's backup", () => {
  it("maps Completed entries to { name, engine, backupName, backupToolName, backupPath } under the context key, leaving undefined fields out", () => {
    expect(DATABASES_CONTEXT_KEY).to.equal("apps.3scale.net/databases");
    const r = componentsContext({ databases: [entry("system-database"), entry("backend-redis", { engine: undefined, backupToolName: undefined })] });
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    const want = [
      { name: "system-database", engine: "postgresql", backupName: "apimb-system-database", backupToolName: "threescale-system-database-tool", backupPath: "/ns/apimb-system-database" },
      { name: "backend-redis", backupName: "apimb-backend-redis", backupPath: "/ns/apimb-backend-redis" },
    ];
    expect(r.components).to.deep.equal(want);
    expect(Object.keys(r.context!)).to.deep.equal([DATABASES_CONTEXT_KEY]);
    expect(JSON.parse(r.context![DATABASES_CONTEXT_KEY]!)).to.deep.equal(want);
    expect(r.components[1]).to.not.have.property("engine");
    // And read back as a restore would (the controller's reader, restore-import.ts).
    const back = readBack(r.context);
    expect(back.ok && back.components.map((c) => [c.name, c.backupPath])).to.deep.equal(want.map((c) => [c.name, c.backupPath]));
  });

  it("records which components the APIManager runs itself (runByAPIManager), and the restore reads it back; anything but a boolean is refused", () => {
    const r = componentsContext({ databases: [entry("system-database"), entry("zync-database", { runByAPIManager: true })] });
    expect(r.ok && r.components.map((c) => [c.name, c.runByAPIManager ?? false])).to.deep.equal([["system-database", false], ["zync-database", true]]);
    const back = readBack(r.ok ? r.context : undefined);
    expect(back.ok && back.components.map((c) => [c.name, c.runByAPIManager ?? false])).to.deep.equal([["system-database", false], ["zync-database", true]]);
    const bad = componentsContext({ databases: [entry("zync-database", { runByAPIManager: "yes" })] });
    expect(bad.ok === false && bad.message).to.match(/runByAPIManager "yes", which is not true or false/);
  });

  it("records nothing without components", () => {
    for (const status of [undefined, null, {}, { databases: [] }, { databases: null }, { completed: true }]) {
      const r = componentsContext(status);
      expect(r, JSON.stringify(status)).to.deep.equal({ ok: true, components: [] });
    }
  });

  it("waits for an entry not Completed or without a backupPath, naming the component", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [entry("zync-database", { phase: "InProgress" }), 'database component "zync-database": its Backup "apimb-zync-database" is not Completed (phase InProgress)'],
      [entry("zync-database", { phase: undefined }), "(phase unset)"],
      [entry("zync-database", { backupPath: undefined }), 'database component "zync-database": status.databases records no backupPath'],
      [entry("zync-database", { backupPath: "" }), "records no backupPath"],
    ];
    for (const [e, why] of cases) {
      const r = componentsContext({ databases: [entry("system-database"), e] });
      expect(r).to.deep.include({ ok: false, retry: true, component: "zync-database" });
      if (!r.ok) expect(r.message).to.contain(why);
    }
  });

  it("refuses for good a failed component, a bad path, names that are not names, and a list beyond the limits", () => {
    const cases: Array<[unknown, string]> = [
      [{ databases: [entry("system-database", { phase: "Failed" })] }, 'its Backup "apimb-system-database" failed'],
      [{ databases: [entry("system-database", { backupPath: "../other/backup" })] }, 'records backupPath "../other/backup", which is not a repo path'],
      [{ databases: [entry("system-database", { backupPath: "/ns/./b" })] }, "which is not a repo path"],
      [{ databases: [entry("system-database", { backupPath: "ns//b" })] }, "which is not a repo path"],
      [{ databases: [entry("system-database", { backupPath: "/ns/b/" })] }, "which is not a repo path"],
      [{ databases: [entry("system-database", { backupPath: "/ns/b c" })] }, "which is not a repo path"],
      [{ databases: [entry("system-database", { backupPath: 7 })] }, "which is not a repo path"],
      [{ databases: [entry("system-database", { backupPath: `/ns/${"b".repeat(510)}` })] }, "which is not a repo path"],
      [{ databases: [entry("system-database", { name: "x".repeat(64) })] }, "is not a component name (at most 63 characters)"],
      [{ databases: [entry("system-database", { name: 3 })] }, "is not a component name"],
      [{ databases: [entry("system-database", { backupName: "b".repeat(64) })] }, "which is not a Backup name"],
      [{ databases: [entry("system-database", { backupName: undefined })] }, "which is not a Backup name"],
      [{ databases: [entry("system-database", { backupToolName: "t".repeat(64) })] }, "records backupToolName"],
      [{ databases: [entry("system-database", { engine: "" })] }, "records engine"],
      [{ databases: [entry("system-database"), entry("system-database")] }, "is listed twice"],
      [{ databases: ["system-database"] }, "status.databases[0] is not an object"],
      [{ databases: "system-database" }, "status.databases is not a list"],
      [{ databases: Array.from({ length: 17 }, (_, i) => entry(`c${i}`)) }, "at most 16"],
      [{ databases: Array.from({ length: 16 }, (_, i) => entry(`component-${i}`, { backupPath: `/a-rather-long-namespace-name/apimb-component-${i}` })) }, "a backup records at most 2048"],
    ];
    for (const [status, why] of cases) {
      const r = componentsContext(status);
      expect(r.ok, why).to.equal(false);
      if (!r.ok) {
        expect(r.retry, why).to.equal(false);
        expect(r.message, why).to.contain(why);
      }
    }
  });

  it("takes backup paths as the API's restore source path does", () => {
    for (const p of ["/ns/b-system-database", "ns/b", "b", "/a_b/c-d/e.f", "/ns/-x"]) expect(BACKUP_PATH_RE.test(p), p).to.equal(true);
    for (const p of ["", "/", "ns/", "/ns/.hidden", "/ns/..", "a\\b", "/ns/b\n"]) expect(BACKUP_PATH_RE.test(p), JSON.stringify(p)).to.equal(false);
  });

  describe("in the tool's backup", () => {
    let repo: string;
    const logs: string[] = [];
    const agentStore = (): AgentStore =>
      new AgentStore(new Agent(configFromEnv({ DP_REPO_PATH: repo, DP_BACKUP_PATH: "ns/apimb", DP_BACKUP_ID: "uid-apimb", DP_ENCRYPTION_KEY: "ab".repeat(32), DP_COMPRESSION_THREADS: "0" })));
    /** A client whose APIManagerBackup is each of `reads` in turn (the last one from then on); an Error is thrown. */
    const context = (store: StepContext["store"], reads: unknown[], env: NodeJS.ProcessEnv = { BACKUP_NAME: "apimb" }): StepContext & { gets: () => number } => {
      let n = 0;
      const client = {
        get: async (kind: { kind?: string }, name: string, ns: string) => {
          expect([kind.kind, name, ns]).to.deep.equal(["APIManagerBackup", "apimb", "ns"]);
          const r = reads[Math.min(n++, reads.length - 1)];
          if (r instanceof Error) throw r;
          if (r === undefined) throw new ApiError(404, "NotFound", "not found");
          return r;
        },
      } as unknown as KubeClient;
      return { client, namespace: "ns", store, env, log: (l) => logs.push(l), pollMs: 1, gets: () => n };
    };
    const cr = (databases: unknown[]): unknown => ({ metadata: { name: "apimb" }, spec: { includeDatabases: true }, status: { databases } });
    beforeEach(() => {
      repo = mkdtempSync(join(tmpdir(), "threescale-components-"));
      logs.length = 0;
    });
    afterEach(() => rmSync(repo, { recursive: true, force: true }));

    it("records the components in the authenticated manifest and the report, after waiting for a racing status write", async () => {
      const store = agentStore();
      await store.putFile("secrets/zync.json", Buffer.from("{}\n"));
      const ctx = context(store, [cr([entry("system-database", { phase: "InProgress", backupPath: undefined })]), cr([entry("system-database")])]);
      const got = await recordComponents(ctx, { waitMs: 5_000, pollMs: 1 });
      expect(ctx.gets()).to.equal(2);
      const want = [{ name: "system-database", engine: "postgresql", backupName: "apimb-system-database", backupToolName: "threescale-system-database-tool", backupPath: "/ns/apimb-system-database" }];
      expect(got).to.deep.equal(want);
      const manifest = JSON.parse(readFileSync(join(repo, "ns/apimb/manifest.json"), "utf8")) as { userContext: Record<string, string>; mac: string; backupId: string };
      expect(JSON.parse(manifest.userContext[DATABASES_CONTEXT_KEY]!)).to.deep.equal(want);
      expect(manifest.mac).to.match(/^[0-9a-f]{64}$/);
      const report = store.report();
      expect(report).to.deep.include({ backupId: "uid-apimb", userContext: manifest.userContext, files: ["secrets/zync.json"], filePath: "ns/apimb" });
      expect(logs.join()).to.contain("recorded 1 database components (system-database)");
    });

    it("fails naming the component when it is still not Completed after the wait, and at once on an invalid entry", async () => {
      const store = agentStore();
      await store.putFile("secrets/zync.json", Buffer.from("{}\n"));
      const late = await recordComponents(context(store, [cr([entry("system-database"), entry("zync-database", { phase: "InProgress" })])]), { waitMs: 30, pollMs: 5 }).catch((e: unknown) => e);
      expect(late).to.be.instanceOf(StepError);
      expect((late as StepError).reason).to.equal(Reason.DatabasesNotRecorded);
      expect((late as StepError).message).to.contain('APIManagerBackup "ns/apimb": database component "zync-database": its Backup "apimb-zync-database" is not Completed (phase InProgress), still after 0.03s').and.contain('cannot record database component "zync-database"');
      const c = context(store, [cr([entry("system-database", { backupPath: "../x" })])]);
      const bad = await recordComponents(c, { waitMs: 5_000, pollMs: 1 }).catch((e: unknown) => e);
      expect((bad as StepError).message).to.contain('records backupPath "../x", which is not a repo path');
      expect(c.gets()).to.equal(1);
      const unreadable = await recordComponents(context(store, [new Error("forbidden")]), { waitMs: 20, pollMs: 5 }).catch((e: unknown) => e);
      expect((unreadable as StepError).message).to.contain('APIManagerBackup "ns/apimb": cannot read it: forbidden, still after');
      expect(store.report()).to.not.have.property("userContext");
    });

    it("records nothing for a plain store, without BACKUP_NAME, without the APIManagerBackup or without components", async () => {
      const plain = new PlainStore(repo);
      const p = context(plain, [cr([entry("system-database")])]);
      expect(await recordComponents(p)).to.equal(undefined);
      expect(p.gets()).to.equal(0);
      const store = agentStore();
      await store.putFile("secrets/zync.json", Buffer.from("{}\n"));
      expect(await recordComponents(context(store, [cr([entry("x")])], {}))).to.equal(undefined);
      expect(await recordComponents(context(store, [undefined]))).to.equal(undefined);
      expect(await recordComponents(context(store, [cr([])]))).to.equal(undefined);
      expect(store.report()).to.not.have.property("userContext");
    });

    it("keeps the report within its budget, cutting file names before the user context", async () => {
      const store = agentStore();
      for (let i = 0; i < 40; i++) await store.putFile(`secrets/a-rather-long-secret-name-number-${String(i).padStart(3, "0")}.json`, Buffer.from("{}\n"));
      await store.setUserContext({ [DATABASES_CONTEXT_KEY]: '"'.repeat(1000) });
      const r = store.report();
      expect(Buffer.byteLength(JSON.stringify(r))).to.be.at.most(AGENT_REPORT_BUDGET);
      expect(r).to.deep.include({ filesTruncated: true, userContext: { [DATABASES_CONTEXT_KEY]: '"'.repeat(1000) } });
      expect((r.files as string[]).length).to.be.within(1, 39);
    });
  });
});
