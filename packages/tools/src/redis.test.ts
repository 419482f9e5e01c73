import { expect } from "chai";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnnotationRunAsRoot } from "@dataprotection/api";
import { freePort } from "@dataprotection/testenv";
import { REDIS_RDB_BACKUP_COMMANDS, REDIS_RDB_ONLINE_RESTORE_SCRIPT, redisRdbOnlineTool, redisRdbTool } from "./redis.ts";
import { builtinTools, shippedTools } from "./index.ts";

const BACKUP_SCRIPT = REDIS_RDB_BACKUP_COMMANDS[2]!;

describe("redis-rdb-online: BackupTool object and scripts", () => {
  it("shares redis-rdb's backup commands", () => {
    expect(REDIS_RDB_BACKUP_COMMANDS.slice(0, 2)).to.deep.equal(["sh", "-c"]);
    expect(redisRdbOnlineTool.spec.backupCommands).to.deep.equal([...REDIS_RDB_BACKUP_COMMANDS]);
    expect(redisRdbTool.spec.backupCommands).to.deep.equal([...REDIS_RDB_BACKUP_COMMANDS]);
    expect(BACKUP_SCRIPT).to.contain('redis-cli "$@" -h "$DB_HOST" -p "${DB_PORT:-6379}" --rdb -');
  });

  it("restores logically only, into the ReadWrite pod, as a non-root one-script sh -c", () => {
    expect(redisRdbOnlineTool.metadata?.name).to.equal("redis-rdb-online");
    expect(redisRdbOnlineTool.metadata?.annotations?.[AnnotationRunAsRoot]).to.equal(undefined);
    expect(redisRdbOnlineTool.spec).to.include({ deployKind: "job", type: "file" });
    expect(redisRdbOnlineTool.spec.physical).to.equal(undefined);
    expect(redisRdbOnlineTool.spec.logical?.podScope).to.equal("ReadWrite");
    expect(redisRdbOnlineTool.spec.logical?.restoreCommands).to.deep.equal([REDIS_RDB_ONLINE_RESTORE_SCRIPT]);
    expect(redisRdbOnlineTool.spec.env ?? [], "no DATA_DIR: it touches no volume").to.deep.equal([]);
  });

  it("is built in and shipped with the chart", () => {
    expect(builtinTools).to.include(redisRdbOnlineTool);
    expect(shippedTools).to.include(redisRdbOnlineTool);
  });

  for (const [what, script] of [["backup", BACKUP_SCRIPT], ["online restore", REDIS_RDB_ONLINE_RESTORE_SCRIPT]] as const) {
    it(`${what}: parses with sh -n and holds no $( or $$ (Kubernetes expands them) and no {{ (Helm)`, () => {
      const r = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
      expect(r.stderr).to.equal("");
      expect(r.status).to.equal(0);
      expect(script).to.not.contain("$(");
      expect(script).to.not.contain("$$");
      expect(script).to.not.contain("{{");
    });
  }

  it("online restore: the password is only tested, exported as REDISCLI_AUTH and hex-escaped by the printf builtin; its escaped form only reaches printf", () => {
    const s = REDIS_RDB_ONLINE_RESTORE_SCRIPT;
    // hex is a shell function whose argument only goes to the printf builtin (od reads a pipe).
    expect(s).to.contain("hex() { printf %s \"$1\" | od -An -v -tx1 | tr -d ' \\n' | sed 's/../\\\\x&/g'; }");
    const allowed = [
      'if [ -n "$DB_PASSWORD" ]; then export REDISCLI_AUTH="$DB_PASSWORD"; fi',
      'if [ -n "$DB_PASSWORD" ]; then\n',
      'pwx=`hex "$DB_PASSWORD"`',
    ];
    let rest = s;
    for (const a of allowed) {
      expect(rest, a).to.contain(a);
      rest = rest.split(a).join("");
    }
    expect(rest).to.not.match(/DB_PASSWORD/);
    expect(rest, "REDISCLI_AUTH is named (unset, env -u), never expanded").to.not.match(/\$\{?REDISCLI_AUTH/);
    // $pwx only into $auth, $auth only into the printf that writes the MIGRATE commands to a pipe.
    for (const line of s.split("\n")) {
      if (line.includes("$pwx")) expect(line).to.match(/^\s*if \[ -n "\$DB_USER" \]; then userx=`hex "\$DB_USER"`; auth=" AUTH2 \\"\$userx\\" \\"\$pwx\\""; else auth=" AUTH \\"\$pwx\\""; fi$/);
      if (line.includes("$auth")) expect(line).to.match(/^\s*\{ printf '%s\\n' "MIGRATE [^"]*\\"\$hostx\\" \$port \\"\\" \$n 60000 REPLACE\$auth KEYS"; cat "\$work\/keys"; \} \| awk '[^']*' \| scli -n "\$n" >> "\$work\/migrate.out" 2>&1$/);
    }
    expect(BACKUP_SCRIPT.match(/DB_PASSWORD|REDISCLI_AUTH/g)).to.have.length(3);
    expect(BACKUP_SCRIPT).to.contain('if [ -n "$DB_PASSWORD" ]; then export REDISCLI_AUTH="$DB_PASSWORD"; fi');
  });

  it("online restore: the temporary server listens on a socket in the private temp dir only, and is shut down and removed on exit", () => {
    const s = REDIS_RDB_ONLINE_RESTORE_SCRIPT;
    expect(s).to.contain("work=`mktemp -d`");
    expect(s).to.contain("trap cleanup EXIT");
    expect(s).to.match(/env -u REDISCLI_AUTH redis-server --port 0 --unixsocket "\$sock" --unixsocketperm 700 --dir "\$work" --dbfilename dump\.rdb --appendonly no --save '' --databases "\$dbcount" /);
    expect(s).to.contain("scli SHUTDOWN NOSAVE");
    expect(s).to.contain('rm -rf "$work"');
    expect(s).to.contain('tcli FLUSHALL');
    expect(s).to.contain('--no-raw --scan');
    // The same EOF-mark rule as the physical restore.
    expect(s).to.contain(`if tail -c 40 "$work/dump.rdb" | LC_ALL=C grep -Eqx '[0-9a-f]{40}'; then truncate -s -40 "$work/dump.rdb"; fi`);
    expect(redisRdbTool.spec.physical?.restoreCommands?.[0]).to.contain(`if tail -c 40 "$tmp" | LC_ALL=C grep -Eqx '[0-9a-f]{40}'; then truncate -s -40 "$tmp"; fi`);
  });
});

// The restore script run by sh against real redis-server processes (Debian's redis-server 7.0,
// installed by the set-up): a stub dp-agent serves an RDB taken with `redis-cli --rdb -`, and
// every external command goes through a shim that logs its arguments, to prove the password
// never is one.

/** External commands the restore script runs (the rest are dash builtins: printf, echo, kill, test, wait...). */
const EXTERNALS = ["mktemp", "env", "redis-cli", "redis-server", "rm", "od", "tr", "sed", "head", "tail", "grep", "truncate", "date", "expr", "sleep", "sort", "wc", "cat", "awk"];

function cli(port: number, password: string | undefined, args: string[], db = 0): string {
  return execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "-n", String(db), "--no-raw", ...args], {
    env: { ...process.env, ...(password ? { REDISCLI_AUTH: password } : {}) },
    encoding: "utf8",
    maxBuffer: 64 << 20,
  }).trim();
}

describe("redis-rdb-online: restore script against real redis-server processes", function () {
  this.timeout(60_000);
  const servers: ChildProcess[] = [];
  let dir: string;
  let rdb: string;
  let expected: { digest: string; db0: string; db3: string };
  const SRC_PW = "source-pw";
  const TGT_PW = 'tgt pw "q\\ é';
  const ACL_USER = 'rest"orer';
  const ACL_PW = "acl pw \\x41";

  async function server(name: string, extra: string[]): Promise<number> {
    const port = await freePort();
    const d = join(dir, name);
    mkdirSync(d);
    const p = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", d, "--save", "", "--appendonly", "no", "--enable-debug-command", "local", "--logfile", join(d, "log"), ...extra], { stdio: "ignore" });
    servers.push(p);
    for (let i = 0; i < 100; i++) {
      const r = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "PING"], { encoding: "utf8" });
      if (/PONG|NOAUTH/.test(r.stdout)) return port;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`redis-server ${name} did not start`);
  }

  /** Runs the restore script with the stub dp-agent serving `file` and every external command shimmed. */
  function restore(port: number, env: Record<string, string>, file = rdb) {
    const tmp = mkdtempSync(join(dir, "tmp-"));
    const log = join(dir, `argv-${Math.random().toString(36).slice(2)}`);
    writeFileSync(log, "");
    const r = spawnSync("sh", ["-c", REDIS_RDB_ONLINE_RESTORE_SCRIPT], {
      env: { PATH: `${join(dir, "bin")}:${process.env.PATH}`, TMPDIR: tmp, ARGV_LOG: log, RDB_FILE: file, DB_HOST: "127.0.0.1", DB_PORT: String(port), BACKUP_NAME: "b1", ...env },
      encoding: "utf8",
      timeout: 30_000,
    });
    return { ...r, argv: readFileSync(log, "utf8"), leftInTmp: readdirSync(tmp) };
  }

  before(async () => {
    // Needs the set-up's redis-server: a missing one fails here, it is not skipped.
    if (spawnSync("sh", ["-c", "command -v redis-server && command -v redis-cli"]).status !== 0) throw new Error("redis-server or redis-cli not found: run npm run setup");
    dir = mkdtempSync(join(tmpdir(), "redis-online-"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    for (const c of EXTERNALS) {
      const real = execFileSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" }).trim();
      writeFileSync(join(bin, c), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> "$ARGV_LOG"\nexec ${real} "$@"\n`);
      chmodSync(join(bin, c), 0o755);
    }
    writeFileSync(join(bin, "dp-agent"), '#!/bin/sh\nif [ "$1 $2" = "pull dump.rdb" ]; then exec cat "$RDB_FILE"; fi\necho "unexpected dp-agent $*" >&2; exit 2\n');
    chmodSync(join(bin, "dp-agent"), 0o755);

    const src = await server("source", ["--requirepass", SRC_PW, "--repl-diskless-sync-delay", "0"]);
    const seed = [
      "redis.call('SET', 'new\\nline', 'a')",
      "redis.call('SET', 'with space', 'b')",
      "redis.call('SET', 'dq\"uote', 'c')",
      "redis.call('SET', 'back\\\\slash', 'd')",
      "redis.call('SET', '\\255\\254bin\\0nul', 'e')",
      "redis.call('SET', '', 'empty name')",
      "for i = 1, 1234 do redis.call('SET', 'k:' .. i, i) end",
      "redis.call('SET', 'ttl', 'x', 'EX', 3600)",
      "redis.call('SET', 'short', 'x', 'PX', 300)",
      "return redis.call('DBSIZE')",
    ].join("; ");
    expect(cli(src, SRC_PW, ["EVAL", seed, "0"])).to.equal("(integer) 1242");
    expect(cli(src, SRC_PW, ["EVAL", "redis.call('HSET', 'h', 'f', 'v'); redis.call('SET', 'big', string.rep('x', 3 * 1024 * 1024)); redis.call('RPUSH', 'l\\nist', 1, 2, 3); return 1", "0"], 3)).to.equal("(integer) 1");
    rdb = join(dir, "dump.rdb");
    // As the backup takes it: to stdout (with the diskless EOF mark).
    writeFileSync(rdb, execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(src), "--rdb", "-"], { env: { ...process.env, REDISCLI_AUTH: SRC_PW }, stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 }));
    expect(readFileSync(rdb).includes(Buffer.from("short")), "the short-TTL key is in the RDB").to.equal(true);
    await new Promise((res) => setTimeout(res, 600));
    expect(cli(src, SRC_PW, ["EXISTS", "short"])).to.equal("(integer) 0");
    expected = { digest: cli(src, SRC_PW, ["DEBUG", "DIGEST"]), db0: cli(src, SRC_PW, ["DBSIZE"]), db3: cli(src, SRC_PW, ["DBSIZE"], 3) };
    expect(expected.db0).to.equal("(integer) 1241");
  });

  after(() => {
    for (const p of servers) p.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("AUTH: replaces the target's dataset with the RDB's keys (odd names, both dbs, TTLs; expired keys dropped), never passing the password as an argument", async () => {
    const tgt = await server("target-auth", ["--requirepass", TGT_PW]);
    cli(tgt, TGT_PW, ["SET", "stale", "1"]);
    cli(tgt, TGT_PW, ["SET", "k:1", "overwritten"]);
    cli(tgt, TGT_PW, ["SET", "other-db", "1"], 7);
    const r = restore(tgt, { DB_PASSWORD: TGT_PW });
    expect(r.stderr).to.equal("");
    expect(r.status).to.equal(0);
    expect(r.stdout.trim()).to.equal(`restored b1 into 127.0.0.1:${tgt}: 1244 keys in 2 databases`);
    expect(cli(tgt, TGT_PW, ["DEBUG", "DIGEST"])).to.equal(expected.digest);
    expect(cli(tgt, TGT_PW, ["DBSIZE"])).to.equal(expected.db0);
    expect(cli(tgt, TGT_PW, ["DBSIZE"], 3)).to.equal(expected.db3);
    expect(cli(tgt, TGT_PW, ["DBSIZE"], 7), "FLUSHALL: every db is replaced").to.equal("(integer) 0");
    expect(cli(tgt, TGT_PW, ["EXISTS", "short", "stale"])).to.equal("(integer) 0");
    const ttl = Number(cli(tgt, TGT_PW, ["TTL", "ttl"]).replace(/\D/g, ""));
    expect(ttl).to.be.within(3500, 3600);
    expect(cli(tgt, TGT_PW, ["GET", "k:1"])).to.equal('"1"');
    expect(cli(tgt, TGT_PW, ["STRLEN", "big"], 3)).to.equal("(integer) 3145728");
    expect(r.leftInTmp, "the temp dir is removed").to.deep.equal([]);
    // Every argument of every external command (redis-cli, redis-server, env, od, sed, awk...).
    expect(r.argv, "the shims logged the arguments").to.contain("--scan");
    expect(r.argv).to.not.contain(TGT_PW);
    expect(r.argv).to.not.contain("tgt pw");
    const hex = [...Buffer.from(TGT_PW)].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
    expect(r.argv).to.not.contain(hex.slice(0, 12));
  });

  it("AUTH2: an ACL user allowed FLUSHALL, SELECT and RESTORE is enough", async () => {
    const tgt = await server("target-acl", ["--requirepass", TGT_PW]);
    cli(tgt, TGT_PW, ["ACL", "SETUSER", ACL_USER, "on", `>${ACL_PW}`, "~*", "+flushall", "+select", "+restore"]);
    cli(tgt, TGT_PW, ["SET", "stale", "1"]);
    const r = restore(tgt, { DB_USER: ACL_USER, DB_PASSWORD: ACL_PW });
    expect(r.stderr).to.equal("");
    expect(r.status).to.equal(0);
    expect(cli(tgt, TGT_PW, ["DEBUG", "DIGEST"])).to.equal(expected.digest);
    expect(r.argv).to.not.contain(ACL_PW);
  });

  it("refuses a file that is not an RDB, and an RDB the temporary server cannot load (with its log), before touching the target", async () => {
    const tgt = await server("target-refuse", []);
    cli(tgt, undefined, ["SET", "keep", "1"]);
    const junk = join(dir, "junk.rdb");
    writeFileSync(junk, "not an rdb\n");
    const a = restore(tgt, {}, junk);
    expect(a.status).to.equal(1);
    expect(a.stderr).to.contain("dump.rdb of b1 is not an RDB file");
    expect(a.leftInTmp).to.deep.equal([]);
    const truncated = join(dir, "truncated.rdb");
    writeFileSync(truncated, readFileSync(rdb).subarray(0, 4000));
    const b = restore(tgt, {}, truncated);
    expect(b.status).to.equal(1);
    expect(b.stderr).to.contain("the temporary redis-server could not load dump.rdb of b1");
    expect(b.stderr).to.match(/Unexpected EOF|Short read/);
    expect(b.leftInTmp).to.deep.equal([]);
    expect(cli(tgt, undefined, ["GET", "keep"]), "the target was not flushed").to.equal('"1"');
  });

  it("fails, naming MIGRATE's error, when a key could not be moved (a target with fewer databases)", async () => {
    const tgt = await server("target-2dbs", ["--databases", "2"]);
    const r = restore(tgt, {});
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain("db 3 of the backup still holds 3 key(s) that MIGRATE did not move");
    expect(r.stderr).to.contain("DB index is out of range");
    expect(r.leftInTmp).to.deep.equal([]);
  });
});
