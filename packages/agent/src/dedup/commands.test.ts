import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Agent, type Io } from "../commands.ts";
import { configFromEnv } from "../env.ts";
import { dedupEnv, dedupPrefix } from "./commands.ts";
import { bytesFrom } from "./testdata.ts";

const KEY = "0123456789abcdef".repeat(4);
const cli = resolve(dirname(fileURLToPath(import.meta.url)), "../cli.ts");

interface Run {
  out: string[];
  err: string[];
  stdout: Buffer[];
}

/** One `dp-agent dedup ...` command in process, as cli.ts runs it: dedupEnv, configFromEnv, Agent.dedup. */
async function dedup(env: Record<string, string>, cmd: (d: ReturnType<Agent["dedup"]>) => Promise<unknown>, stdin: Buffer[] = []): Promise<Run> {
  const run: Run = { out: [], err: [], stdout: [] };
  const io: Io = {
    stdin: () => Readable.from(stdin),
    stdout: () => new Writable({ write: (c: Buffer, _e, cb) => (run.stdout.push(Buffer.from(c)), cb()) }),
    print: (l) => run.out.push(l),
    warn: (l) => run.err.push(l),
  };
  const e = dedupEnv(env);
  const agent = new Agent(configFromEnv(e), io);
  await cmd(agent.dedup(dedupPrefix(e, agent.config.backupPath)));
  return run;
}

describe("dp-agent dedup commands", () => {
  let tmp: string;
  let env: Record<string, string>;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), "dp-dedup-cmd-"));
    mkdirSync(join(tmp, "repo"));
    env = { DP_REPO_PATH: join(tmp, "repo"), DP_ENCRYPTION_KEY: KEY, DP_BACKUP_PATH: "ns/backup-1" };
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("finds the repo under DP_DEDUP_PREFIX or beside the backup's directory", () => {
    expect(dedupPrefix({}, "ns/backup-1")).to.equal("ns/.dedup");
    expect(dedupPrefix({}, "backup-1")).to.equal(".dedup");
    expect(dedupPrefix({ DP_DEDUP_PREFIX: "/shared/dedup/" }, "ns/b")).to.equal("shared/dedup");
    expect(() => dedupPrefix({ DP_DEDUP_PREFIX: "a/../b" }, "ns/b")).to.throw(/not a valid relative path/);
    expect(dedupEnv({ DP_DEDUP_PREFIX: "d" }).DP_BACKUP_PATH).to.equal("d");
    expect(() => dedupEnv({})).to.throw(/need DP_DEDUP_PREFIX .* or DP_BACKUP_PATH/);
  });

  it("init, backup (dir and --stdin), snapshots, restore (dir and --stdout), forget, prune, check: one summary line each", async () => {
    const init = await dedup(env, (d) => d.init());
    expect(init.out).to.deep.equal([`initialized\t${join(tmp, "repo")}/ns/.dedup\tencrypted (aes-256-gcm, raw key)`]);
    expect(existsSync(join(tmp, "repo/ns/.dedup/config"))).to.equal(true);

    const src = join(tmp, "src");
    mkdirSync(join(src, "sub"), { recursive: true });
    writeFileSync(join(src, "a.txt"), bytesFrom("a", 50_000));
    writeFileSync(join(src, "sub/b.txt"), "b\n");
    const dir = await dedup({ ...env, DP_BACKUP_ID: "uid-1" }, (d) => d.backup(src, { name: "volume" }));
    expect(dir.out).to.have.length(1);
    expect(dir.out[0]).to.match(/^snapshot\t[0-9a-f]{32}\tdir\tvolume\t2 files\t50002 bytes\t\d+ new\t\d+ stored$/); // "\tN patched" when a chunk was
    const data = bytesFrom("dump", 200_000);
    const stream = await dedup({ ...env, DP_BACKUP_ID: "uid-2" }, (d) => d.backup(undefined, { stdin: true, name: "dump.sql" }), [data.subarray(0, 70_000), data.subarray(70_000)]);
    expect(stream.out[0]).to.match(/^snapshot\t[0-9a-f]{32}\tstream\tdump\.sql\t1 files\t200000 bytes\t/);
    const dirId = dir.out[0]!.split("\t")[1]!;
    const streamId = stream.out[0]!.split("\t")[1]!;

    const list = await dedup(env, (d) => d.snapshots());
    expect(list.out.map((l) => l.split("\t").slice(0, 1).concat(l.split("\t").slice(2)))).to.deep.equal([
      [dirId, "dir", "volume", "50002 bytes", "backup:uid-1"],
      [streamId, "stream", "dump.sql", "200000 bytes", "backup:uid-2"],
    ]);
    const mine = await dedup({ ...env, DP_BACKUP_ID: "uid-2" }, (d) => d.snapshots(true));
    expect((JSON.parse(mine.out.join("\n")) as { id: string }[]).map((s) => s.id)).to.deep.equal([streamId]);

    const out = await dedup({ ...env, DP_BACKUP_ID: "uid-2" }, (d) => d.restore("latest", undefined, { stdout: true }));
    expect(Buffer.concat(out.stdout).equals(data)).to.equal(true);
    expect(out.out).to.deep.equal([]); // stdout carries the data; the summary goes to stderr
    expect(out.err).to.deep.equal([`restored\t${streamId}\t200000 bytes`]);
    const dst = join(tmp, "dst");
    const back = await dedup(env, (d) => d.restore(dirId, dst));
    expect(back.out[0]).to.match(new RegExp(`^restored\t${dirId}\t\\d+ entries\t50002 bytes\tinto ${dst}$`));
    expect(readFileSync(join(dst, "a.txt")).equals(bytesFrom("a", 50_000))).to.equal(true);
    expect(readFileSync(join(dst, "sub/b.txt"), "utf8")).to.equal("b\n");

    // Bound: backup uid-1 may not forget uid-2's snapshot.
    await dedup({ ...env, DP_BACKUP_ID: "uid-1" }, (d) => d.forget(streamId)).then(
      () => expect.fail("forgot another backup's snapshot"),
      (err: Error) => expect(err.message).to.match(/belongs to another backup/),
    );
    const forgot = await dedup(env, (d) => d.forget(streamId));
    expect(forgot.out).to.deep.equal([`forgot\t${streamId}\tstream\tdump.sql\t${JSON.parse(mine.out.join("\n"))[0].time}`]);
    const dry = await dedup(env, (d) => d.prune({ dryRun: true }));
    expect(dry.out[0]).to.match(/^would prune\t1 snapshots\t\d+ packs deleted\t/);
    const pruned = await dedup(env, (d) => d.prune());
    expect(pruned.out).to.have.length(1);
    const freed = Number(/\t(\d+) bytes freed/.exec(pruned.out[0]!)![1]);
    expect(freed).to.be.above(150_000);
    const check = await dedup(env, (d) => d.check());
    expect(check.out).to.have.length(1);
    expect(check.out[0]).to.match(/^ok\t1 snapshots\t\d+ packs\t\d+ chunks\t\d+ read\t0 leftovers$/);

    // A damaged repo: check lists the errors, then fails with one line.
    rmSync(join(tmp, "repo/ns/.dedup/packs"), { recursive: true });
    const failed = await dedup(env, (d) => d.check()).then(
      () => "succeeded",
      (err: Error) => err.message,
    );
    expect(failed).to.match(/^dedup check found \d+ errors? in .*ns\/\.dedup; the first: /);
  });

  it("through the CLI: exit 0 and one line on success, exit 1 and one dp-agent: line on failure", function () {
    this.timeout(60_000);
    const run = (args: string[], extra: Record<string, string> = {}, input?: Buffer): { status: number | null; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, ["--import", "tsx", cli, "dedup", ...args], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DP_TERMINATION_MESSAGE_PATH: join(tmp, "termination"), ...env, ...extra },
        input,
        encoding: "utf8",
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const missing = run(["check"], { DP_DEDUP_PREFIX: "nowhere" });
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.match(/^dp-agent: .*nowhere\/config: no dedup repository there \(no config\)\n$/);
    const skipped = run(["prune", "--skip-missing"], { DP_DEDUP_PREFIX: "nowhere" });
    expect(skipped.status, skipped.stderr).to.equal(0);
    expect(skipped.stdout).to.match(/^nothing to prune\t.*nowhere\tno repository there\n$/);
    expect(run(["init"]).status).to.equal(0);
    const b = run(["backup", "--stdin", "--name", "x.sql"], {}, Buffer.from("hello dedup\n"));
    expect(b.status).to.equal(0);
    expect(b.stdout).to.match(/^snapshot\t[0-9a-f]{32}\tstream\tx\.sql\t1 files\t12 bytes\t/);
    expect(b.stdout.split("\n")).to.have.length(2);
    const r = run(["restore", "latest", "--stdout"]);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal("hello dedup\n");
  });
});
