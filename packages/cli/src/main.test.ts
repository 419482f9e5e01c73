// runCli end to end against a loopback fake API server (objects in a map, no cluster): the I/O
// shells of every command, -o json|yaml, --wait progress, and the exit codes.
import { expect } from "chai";
import http from "node:http";
import type net from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { exitFor, ExitCode, NotFoundError, TimeoutError, UsageError } from "./exit.ts";
import { type CliIo, runCli } from "./main.ts";

const NOW = new Date("2026-11-23T22:15:00Z");
const DP = "/apis/dataprotection.kubeblocks.io/v1alpha1";
type Obj = { metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

/** A fake API server: GET (object or list, namespaced or across namespaces) and POST over a map of objects. */
class FakeApi {
  readonly objects = new Map<string, Obj>();
  readonly requests: string[] = [];
  /** Called with every object a GET returns (tests move a Backup's phase along with it). */
  onGet?: (key: string, obj: Obj) => void;
  private server?: http.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  put(base: string, plural: string, obj: Obj): void {
    this.objects.set(`${base}|${obj.metadata.namespace ?? ""}|${plural}|${obj.metadata.name}`, obj);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        this.requests.push(`${req.method} ${req.url}`);
        const send = (code: number, o: unknown): void => void res.writeHead(code, { "Content-Type": "application/json" }).end(JSON.stringify(o));
        const url = new URL(req.url ?? "/", "http://x");
        const m = /^(\/apis\/[^/]+\/[^/]+|\/api\/v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
        if (!m) return send(404, { kind: "Status", reason: "NotFound", message: `no route ${url.pathname}` });
        const [, base, ns, plural, name] = m;
        if (req.method === "POST") {
          const obj = JSON.parse(body) as Obj;
          const key = `${base}|${ns ?? ""}|${plural}|${obj.metadata.name}`;
          if (this.objects.has(key)) return send(409, { kind: "Status", reason: "AlreadyExists", message: `${plural} "${obj.metadata.name}" already exists` });
          obj.metadata = { ...obj.metadata, namespace: ns, uid: `uid-${obj.metadata.name}`, creationTimestamp: NOW.toISOString().replace(".000Z", "Z") };
          this.objects.set(key, obj);
          return send(201, obj);
        }
        if (name) {
          const obj = this.objects.get(`${base}|${ns ?? ""}|${plural}|${name}`);
          if (!obj) return send(404, { kind: "Status", reason: "NotFound", message: `${plural} "${name}" not found` });
          this.onGet?.(`${plural}/${name}`, obj);
          return send(200, obj);
        }
        const items = [...this.objects].filter(([k]) => {
          const [b, n, p] = k.split("|");
          return b === base && p === plural && (ns === undefined || n === ns);
        }).map(([, o]) => o);
        return send(200, { metadata: { resourceVersion: "1" }, items });
      });
    });
    this.server.on("connection", (s) => this.sockets.add(s.on("close", () => this.sockets.delete(s))));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

const policy = (name: string): Obj => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupPolicy",
  metadata: { name, namespace: "db", creationTimestamp: "2026-11-20T00:00:00Z" },
  spec: { schedule: { datafile: { enable: true, cronExpression: "0 3 * * *" } }, datafile: { target: { labelsSelector: { matchLabels: { app: "pg" } } }, backupToolName: "volume", backupRepoName: "repo1" } },
  status: { phase: "Available" },
});
const backup = (name: string, created: string, status: Record<string, unknown>, type = "datafile"): Obj => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup",
  metadata: { name, namespace: "db", uid: `uid-${name}`, creationTimestamp: created },
  spec: { backupPolicyName: "pg", backupType: type },
  status,
});

describe("kubectl-dp commands against a fake API server", () => {
  let api: FakeApi;
  let dir: string;
  let kubeconfig: string;

  async function dp(args: string[], extra: Partial<CliIo> = {}): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["--kubeconfig", kubeconfig, ...args], { out: (l) => out.push(l), err: (l) => err.push(l), now: () => NOW, pollMs: 20, ...extra });
    return { code, out, err };
  }

  beforeEach(async () => {
    api = new FakeApi();
    await api.start();
    dir = mkdtempSync(join(tmpdir(), "dp-main-"));
    kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, [
      "apiVersion: v1", "kind: Config", "current-context: c",
      `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${api.port}", insecure-skip-tls-verify: true}}]`,
      "users: [{name: u, user: {token: t}}]",
      "contexts: [{name: c, context: {cluster: c, user: u, namespace: db}}]",
    ].join("\n"));
    api.put(DP, "backuppolicies", policy("pg"));
    api.put(DP, "backups", backup("b2", "2026-11-23T21:00:00Z", { phase: "Completed", totalSize: "12Mi", completionTimestamp: "2026-11-23T21:00:05Z", manifests: { backupTool: { filePath: "/db/b2", files: [{ name: "dir.dpar", size: "12Mi" }] } } }));
    api.put(DP, "backups", backup("b1", "2026-11-23T03:00:00Z", { phase: "Completed", totalSize: "11Mi", completionTimestamp: "2026-11-23T03:05:00Z" }));
    api.put(DP, "backups", backup("log", "2026-11-23T02:00:00Z", { phase: "Running", manifests: { backupLog: { startTime: "2026-11-23T02:00:00Z", stopTime: "2026-11-23T22:14:50Z" } } }, "logfile"));
    api.put("/api/v1", "events", { metadata: { name: "e1", namespace: "db" }, involvedObject: { kind: "Backup", name: "b2", uid: "uid-b2" }, type: "Normal", reason: "BackupCompleted", message: "backup completed: 12Mi", count: 1, firstTimestamp: "2026-11-23T21:00:05Z", lastTimestamp: "2026-11-23T21:00:05Z", source: { component: "dataprotection" } } as Obj);
    api.put("/api/v1", "events", { metadata: { name: "e2", namespace: "db" }, involvedObject: { kind: "RestoreJob", name: "b2" }, type: "Normal", reason: "NotMine", message: "x" } as Obj);
  });

  afterEach(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("list -o json|yaml: a v1 List, oldest first; an empty namespace is an empty List (the table says so on stderr)", async () => {
    const json = await dp(["list", "-o", "json"]);
    expect(json.code).to.equal(0);
    const doc = JSON.parse(json.out.join("\n")) as { apiVersion: string; kind: string; items: Obj[] };
    expect([doc.apiVersion, doc.kind]).to.deep.equal(["v1", "List"]);
    expect(doc.items.map((i) => i.metadata.name)).to.deep.equal(["log", "b1", "b2"]);
    const yaml = await dp(["list", "policies", "-o", "yaml"]);
    expect((parseYaml(yaml.out.join("\n")) as { items: Obj[] }).items.map((i) => [i.kind, i.metadata.name])).to.deep.equal([["BackupPolicy", "pg"]]);
    const none = await dp(["list", "restores", "-o", "json"]);
    expect(JSON.parse(none.out.join("\n"))).to.deep.include({ kind: "List", items: [] });
    const table = await dp(["list", "restores"]);
    expect([table.code, table.out, table.err]).to.deep.equal([0, [], ["No restores found in db namespace."]]);
  });

  it("status: one line per policy (table, json, yaml); a named policy that is not there exits 3", async () => {
    const t = await dp(["status"]);
    expect(t.code).to.equal(0);
    expect(t.out).to.deep.equal([
      "NAME   PHASE       LAST-SUCCESS   NEWEST-POINT   PERIOD   HEALTH   NEXT-TICK   PITR-WINDOW",
      "pg     Available   74m            74m            24h      OK       4h45m       2026-11-23T03:05:00Z/2026-11-23T22:14:50Z",
    ]);
    const j = JSON.parse((await dp(["status", "pg", "-o", "json"])).out.join("\n")) as { time: string; items: { name: string; health: string; pitr: { base: string }[] }[] };
    expect(j.time).to.equal("2026-11-23T22:15:00Z");
    expect(j.items.map((i) => [i.name, i.health, i.pitr[0]!.base])).to.deep.equal([["pg", "OK", "b1"]]);
    const y = parseYaml((await dp(["status", "-o", "yaml"])).out.join("\n")) as { items: { newestPoint: { backup: string } }[] };
    expect(y.items[0]!.newestPoint.backup).to.equal("b2");
    const all = await dp(["status", "-A"]);
    expect(all.out[1]!.split(/\s+/).slice(0, 2)).to.deep.equal(["db", "pg"]);
    expect(await dp(["status", "nope"])).to.deep.equal({ code: 3, out: [], err: ["error: backuppolicy db/nope not found"] });
    expect((await dp(["status", "pg", "-A"])).code).to.equal(2);
  });

  it("describe: the object with its own Events; -o json; a missing object exits 3, an unknown kind 2", async () => {
    const d = await dp(["describe", "backup", "b2"]);
    expect(d.code).to.equal(0);
    expect(d.out[0]).to.equal("Name:         b2");
    expect(d.out).to.include("    dir.dpar   12Mi");
    expect(d.out.filter((l) => l.includes("BackupCompleted"))).to.have.length(1);
    expect(d.out.some((l) => l.includes("NotMine"))).to.equal(false);
    expect(api.requests).to.include("GET /api/v1/namespaces/db/events?limit=500&fieldSelector=involvedObject.name%3Db2");
    const p = await dp(["describe", "policies", "pg"]);
    expect(p.out).to.include("  Health:        OK");
    const r = await dp(["describe", "restore", "r1"]);
    expect(r).to.deep.include({ code: 3, err: ["error: restorejob db/r1 not found"] });
    const j = JSON.parse((await dp(["describe", "backup", "b2", "-o", "json"])).out.join("\n")) as { object: Obj; events: { reason: string }[] };
    expect(j.object.metadata.name).to.equal("b2");
    expect(j.events.map((e) => e.reason)).to.deep.equal(["BackupCompleted"]);
    expect(await dp(["describe", "pod", "x"])).to.deep.equal({ code: 2, out: [], err: ["error: describe pod: expected backup, policy or restore"] });
  });

  it("backup --wait: the progress as plain lines, then the summary; exit 0", async () => {
    const phases = ["New", "InProgress", "InProgress", "Completed"];
    api.onGet = (key, obj) => {
      if (key !== "backups/nb") return;
      const phase = phases.shift() ?? "Completed";
      obj.status = phase === "Completed" ? { phase, totalSize: "3Mi", duration: "2s", backupRepoName: "repo1" } : { phase };
    };
    const r = await dp(["backup", "pg", "--name", "nb", "--wait"]);
    expect(r.err).to.deep.equal([]);
    expect(r.code).to.equal(0);
    expect(r.out).to.deep.equal([
      "backup.dataprotection.kubeblocks.io/nb created",
      "backup/nb New (0s elapsed)",
      "backup/nb InProgress (0s elapsed)",
      "backup/nb Completed (3Mi, 0s elapsed)",
      "backup/nb: 3Mi in 2s to repo repo1",
    ]);
  });

  it("--wait on a terminal: one line rewritten in place, ended before the summary", async () => {
    api.onGet = (key, obj) => {
      if (key === "backups/tb") obj.status = { phase: "Completed", totalSize: "1Mi", duration: "1s" };
    };
    const written: string[] = [];
    const r = await dp(["backup", "pg", "--name", "tb", "--wait"], { tty: true, write: (t) => written.push(t), columns: 80 });
    expect(r.code).to.equal(0);
    expect(written).to.deep.equal(["\r\u001b[2Kbackup/tb Completed (1Mi, 0s elapsed)", "\n"]);
    expect(r.out).to.deep.equal(["backup.dataprotection.kubeblocks.io/tb created", "backup/tb: 1Mi in 1s"]);
  });

  it("exit codes: 1 a Failed restore or a taken name, 2 bad input (before anything is created), 3 not found, 4 --wait timed out", async () => {
    api.onGet = (key, obj) => {
      if (key === "restorejobs/rf") obj.status = { phase: "Failed", failureReason: "RestoreFailed: disk full" };
      if (key === "backups/slow") obj.status = { phase: "InProgress" };
    };
    const failed = await dp(["restore", "b2", "--name", "rf", "--volume", "data:data-pg-0:/data", "--wait"]);
    expect(failed.code).to.equal(1);
    expect(failed.err).to.deep.equal(["restorejob/rf failed: RestoreFailed: disk full"]);
    const taken = await dp(["backup", "pg", "--name", "b2"]);
    expect(taken.code).to.equal(1);
    expect(taken.err[0]).to.match(/already exists \(choose another --name\)$/);

    const posts = api.requests.filter((q) => q.startsWith("POST")).length;
    expect((await dp(["backup", "pg", "--name", "x", "--wait", "--timeout", "soon"])).code).to.equal(2);
    expect(api.requests.filter((q) => q.startsWith("POST")).length).to.equal(posts);
    expect((await dp(["restore", "log"])).err).to.deep.equal(["error: backup db/log is Running: only a Completed backup can be restored"]);

    expect(await dp(["backup", "nope"])).to.deep.equal({ code: 3, out: [], err: ["error: backuppolicy db/nope not found"] });
    expect(await dp(["restore", "nope"])).to.deep.equal({ code: 3, out: [], err: ["error: backup db/nope not found"] });

    const slow = await dp(["backup", "pg", "--name", "slow", "--wait", "--timeout", "1"]);
    expect(slow.code).to.equal(4);
    expect(slow.err).to.deep.equal(["error: timed out after 1s waiting for Backup db/slow (phase InProgress)"]);
  });
});

describe("kubectl-dp exit codes without a cluster", () => {
  async function run(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  }

  it("2 for usage errors commander finds (unknown command, bad choice, no command), 0 for --help", async () => {
    expect((await run("frobnicate")).code).to.equal(2);
    expect((await run("list", "-o", "xml")).code).to.equal(2);
    expect((await run("completion", "fish")).code).to.equal(2);
    expect((await run()).code).to.equal(2);
    const help = await run("--help");
    expect(help.code).to.equal(0);
    expect(help.out.join("\n")).to.contain("status");
  });

  it("1 when the kubeconfig cannot be read", async () => {
    const r = await run("--kubeconfig", "/nonexistent/kubeconfig", "status");
    expect(r.code).to.equal(1);
    expect(r.err).to.deep.equal(["error: cannot load the kubeconfig /nonexistent/kubeconfig: ENOENT"]);
  });

  it("exitFor maps each error to its code and one line", () => {
    expect(exitFor(new UsageError("bad"))).to.deep.equal({ code: ExitCode.Usage, line: "error: bad" });
    expect(exitFor(new NotFoundError("gone"))).to.deep.equal({ code: 3, line: "error: gone" });
    expect(exitFor(new TimeoutError("slow"))).to.deep.equal({ code: 4, line: "error: slow" });
    expect(exitFor(new Error("boom"))).to.deep.equal({ code: 1, line: "error: boom" });
    expect(exitFor("text")).to.deep.equal({ code: 1, line: "error: text" });
  });
});
