import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnnotationRunAsRoot } from "@dataprotection/api";
import {
  BINLOG_PREFIX,
  MARIADB_BACKUP_OBJECT,
  MARIADB_BACKUP_RESTORE_SCRIPT,
  MARIADB_BACKUP_SCRIPT,
  MARIADB_BINLOG_ARCHIVE_SCRIPT,
  MARIADB_BINLOG_RECOVERY_SCRIPT,
  MARIADB_DATA_DIR,
  mariadbBackupTool,
  mariadbBinlogPitrTool,
} from "./mariadb-physical.ts";
import { builtinTools, shippedTools } from "./index.ts";

const SCRIPTS = {
  "mariadb-backup backup": MARIADB_BACKUP_SCRIPT,
  "mariadb-backup restore": MARIADB_BACKUP_RESTORE_SCRIPT,
  "mariadb-binlog-pitr archive": MARIADB_BINLOG_ARCHIVE_SCRIPT,
  "mariadb-binlog-pitr recovery": MARIADB_BINLOG_RECOVERY_SCRIPT,
};

/** Every string a container of the tool runs (commands and restore scripts). */
const commandStrings = (t: typeof mariadbBackupTool) => [...t.spec.backupCommands, ...(t.spec.physical?.restoreCommands ?? []), ...(t.spec.logical?.restoreCommands ?? [])];

describe("MariaDB physical tools: scripts", () => {
  for (const [what, script] of Object.entries(SCRIPTS)) {
    it(`${what}: parses with sh -n`, () => {
      const r = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
      expect(r.stderr).to.equal("");
      expect(r.status).to.equal(0);
    });

    it(`${what}: holds no $( or $$ (Kubernetes expands them in container commands)`, () => {
      expect(script).to.not.contain("$(");
      expect(script).to.not.contain("$$");
    });
  }

  it("the tools run exactly these scripts, and nothing else holds $( or $$", () => {
    expect(mariadbBackupTool.spec.backupCommands).to.deep.equal(["sh", "-c", MARIADB_BACKUP_SCRIPT]);
    expect(mariadbBackupTool.spec.physical?.restoreCommands).to.deep.equal([MARIADB_BACKUP_RESTORE_SCRIPT]);
    expect(mariadbBinlogPitrTool.spec.backupCommands).to.deep.equal(["sh", "-c", MARIADB_BINLOG_ARCHIVE_SCRIPT]);
    expect(mariadbBinlogPitrTool.spec.physical?.restoreCommands).to.deep.equal([MARIADB_BINLOG_RECOVERY_SCRIPT]);
    for (const t of [mariadbBackupTool, mariadbBinlogPitrTool]) {
      for (const s of [...commandStrings(t), ...(t.spec.env ?? []).map((e) => e.value ?? "")]) expect(s).to.not.match(/\$\(|\$\$/);
    }
  });

  it("mariadb-backup streams through checkedPipe into one object and restores from it with mbstream and --prepare", () => {
    expect(MARIADB_BACKUP_SCRIPT).to.match(/mariadb-backup --no-defaults --backup --stream=xbstream --datadir="\$d" /);
    expect(MARIADB_BACKUP_SCRIPT).to.contain(`| dp-agent push ${MARIADB_BACKUP_OBJECT}`);
    expect(MARIADB_BACKUP_SCRIPT, "a failed mariadb-backup fails the Job").to.contain("mariadb-backup failed (exit");
    expect(MARIADB_BACKUP_RESTORE_SCRIPT).to.contain(`dp-agent pull ${MARIADB_BACKUP_OBJECT} || echo $? > "$st"; } | mbstream -x -C "$s"`);
    expect(MARIADB_BACKUP_RESTORE_SCRIPT).to.contain('mariadb-backup --no-defaults --prepare --target-dir="$s"');
    expect(MARIADB_BACKUP_RESTORE_SCRIPT).to.contain('chown -R "$owner" "$d"');
  });

  it("mariadb-binlog-pitr streams raw binlogs from the server and replays from the base's position to the second after the target", () => {
    expect(MARIADB_BINLOG_ARCHIVE_SCRIPT).to.match(/mariadb-binlog --no-defaults --read-from-remote-server --protocol=tcp --host="\$DB_HOST" --port="\$\{DB_PORT:-3306\}" --user="\$DB_USER" --raw --stop-never --to-last-log /);
    expect(MARIADB_BINLOG_RECOVERY_SCRIPT).to.contain(`dp-agent pull-log "$w" --prefix ${BINLOG_PREFIX} --from "$bfile" --until "$KB_RECOVERY_TIME" --slack "$slack"`);
    expect(MARIADB_BINLOG_RECOVERY_SCRIPT).to.contain('TZ=UTC mariadb-binlog --no-defaults --start-position="$bpos" --stop-datetime="$stop" "$@"');
    expect(MARIADB_BINLOG_RECOVERY_SCRIPT).to.contain("--skip-networking --skip-grant-tables");
  });
});

describe("MariaDB physical tools: BackupTool objects", () => {
  it("mariadb-backup: a physical file tool run as a Job, as root, on /data/mysql by default", () => {
    expect(mariadbBackupTool.metadata?.name).to.equal("mariadb-backup");
    expect(mariadbBackupTool.metadata?.annotations?.[AnnotationRunAsRoot]).to.equal("true");
    expect(mariadbBackupTool.spec).to.include({ deployKind: "job", type: "file" });
    expect(mariadbBackupTool.spec.env).to.deep.equal([{ name: "DATA_DIR", value: MARIADB_DATA_DIR }]);
    expect(MARIADB_DATA_DIR).to.equal("/data/mysql");
    expect(mariadbBackupTool.spec.logical).to.equal(undefined);
    expect(mariadbBackupTool.spec.physical?.restoreCommands).to.have.length(1);
  });

  it("mariadb-binlog-pitr: a pitr tool run as a StatefulSet whose physical restore is the log step", () => {
    expect(mariadbBinlogPitrTool.metadata?.name).to.equal("mariadb-binlog-pitr");
    expect(mariadbBinlogPitrTool.metadata?.annotations?.[AnnotationRunAsRoot]).to.equal("true");
    expect(mariadbBinlogPitrTool.spec).to.include({ deployKind: "statefulSet", type: "pitr" });
    expect(mariadbBinlogPitrTool.spec.env).to.deep.equal([{ name: "DATA_DIR", value: MARIADB_DATA_DIR }]);
    expect(mariadbBinlogPitrTool.spec.logical).to.equal(undefined);
    expect(mariadbBinlogPitrTool.spec.physical?.restoreCommands).to.have.length(1);
  });

  it("both are built in and shipped with the chart", () => {
    for (const t of [mariadbBackupTool, mariadbBinlogPitrTool]) {
      expect(builtinTools).to.include(t);
      expect(shippedTools).to.include(t);
    }
  });
});

/** A directory of stub commands (shell scripts) put first on PATH. */
function stubs(dir: string, commands: Record<string, string>): string {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries(commands)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

/** dp-agent that logs its calls; push logs the object's size; ls prints $STUB_LS; rm fails (no such object). */
const DP_AGENT_STUB = [
  'case "$1" in',
  '  push) printf "push %s %s%s\\n" "$2" "`wc -c | tr -d " "`" "${4:+ stop-time=$4}" >> "$STUB_LOG" ;;',
  '  ls) printf "%b" "$STUB_LS" ;;',
  '  rm) echo "rm $2" >> "$STUB_LOG"; exit 1 ;;',
  '  prune-log) echo "$*" >> "$STUB_LOG" ;;',
  // pull-log <dir> ...: writes $STUB_FILES (empty files) and prints "object<TAB>file" lines.
  '  pull-log) if [ -n "$STUB_PULL_FAILS" ] && [ ! -e "$STUB_LOG.failed" ]; then : > "$STUB_LOG.failed"; : > "$2/aaa-stale"; echo "object changed" >&2; exit 1; fi',
  '    for f in $STUB_FILES; do : > "$2/$f"; printf "binlog/%s\\t%s\\n" "$f" "$f"; done ;;',
  '  *) echo "unexpected dp-agent $*" >&2; exit 3 ;;',
  "esac",
].join("\n");

/** mariadb-binlog (remote, raw): writes two binlog files into --result-file, then keeps running. */
const MARIADB_BINLOG_STUB = [
  'echo "mariadb-binlog $*" >> "$STUB_LOG"',
  'for a; do case "$a" in --result-file=*) dir="${a#--result-file=}" ;; esac; done',
  'printf one > "${dir}mysql-bin.000001"',
  'printf two > "${dir}mysql-bin.000002"',
  "exec sleep 30",
].join("\n");

describe("MariaDB physical tools: scripts against stub commands", function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dp-mariadb-physical-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the archive script until `until` is in the stub log, then SIGTERM; returns the log and exit code. */
  async function archive(env: Record<string, string>, until: RegExp): Promise<{ log: string; code: number | null }> {
    const bin = stubs(dir, {
      "dp-agent": DP_AGENT_STUB,
      "mariadb-binlog": MARIADB_BINLOG_STUB,
      mariadb: 'echo "mariadb $*" >> "$STUB_LOG"; printf "mysql-bin.000001\\t4\\t\\t\\n"',
    });
    const tmp = join(dir, "tmp");
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const log = join(dir, "log");
    writeFileSync(log, "");
    const child = spawn("sh", ["-c", MARIADB_BINLOG_ARCHIVE_SCRIPT], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TMPDIR: tmp, STUB_LOG: log, DB_HOST: "127.0.0.1", DB_PORT: "3307", DB_USER: "u", DB_PASSWORD: "p", BACKUP_NAME: "log1", ARCHIVE_INTERVAL: "1s", ...env },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 12_000;
    while (!until.test(readFileSync(log, "utf8")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // One more interval: an unchanged partial is not pushed again.
    await new Promise((r) => setTimeout(r, 1_300));
    child.kill("SIGTERM");
    const code = await exited;
    expect(readdirSync(tmp), "the temp dir is removed").to.deep.equal([]);
    return { log: readFileSync(log, "utf8"), code };
  }

  it("archive: pushes a finished binlog once (and drops its partial), the one being written as .partial only when it changed, and stops with exit 0 on SIGTERM", async () => {
    const { log, code } = await archive({ STUB_LS: "" }, /push binlog\/mysql-bin\.000002\.partial/);
    expect(code).to.equal(0);
    const lines = log.trim().split("\n");
    expect(lines[0], "first start: the server's current binlog").to.equal("mariadb --no-defaults --protocol=tcp --host=127.0.0.1 --port=3307 --user=u -N -B -e SHOW MASTER STATUS");
    const m = /^mariadb-binlog .* --stop-never-slave-server-id=(\d+) --result-file=\S+\/ mysql-bin\.000001$/.exec(lines[1]!);
    expect(m, lines[1]).to.not.equal(null);
    expect(Number(m![1])).to.be.within(1_000_000_000, 1_999_999_999);
    // The finished binlog is recorded as ending at its last write (its mtime, Unix seconds), the partial at its push.
    const finished = /^push binlog\/mysql-bin\.000001 3 stop-time=(\d+)$/.exec(lines[2]!);
    expect(finished, lines[2]).to.not.equal(null);
    expect(Math.abs(Number(finished![1]) - Date.now() / 1000)).to.be.lessThan(60);
    expect(lines.slice(3)).to.deep.equal(["rm binlog/mysql-bin.000001.partial", "push binlog/mysql-bin.000002.partial 3"]);
  });

  it("archive: prunes binlogs pushed before the policy's keep-from time after every pass, and nothing while it has none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dp-keep-"));
    try {
      const file = join(dir, "keepFrom");
      const none = await archive({ STUB_LS: "", LOG_KEEP_FROM_FILE: file, LOGFILE_TTL_SECOND: "86400" }, /push binlog\/mysql-bin\.000002\.partial/);
      expect(none.code).to.equal(0);
      expect(none.log, "no keep-from file: keep everything (the ttl alone decides nothing)").to.not.contain("prune-log");
      writeFileSync(file, "2026-05-01T12:00:00Z");
      const { log, code } = await archive({ STUB_LS: "", LOG_KEEP_FROM_FILE: file }, /push binlog\/mysql-bin\.000002\.partial/);
      expect(code).to.equal(0);
      expect(log).to.contain("push binlog/mysql-bin.000002.partial 3\nprune-log --prefix binlog/ --before 2026-05-01T12:00:00Z\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("archive: after a restart, resumes from the newest archived binlog without asking the server", async () => {
    const { log, code } = await archive({ STUB_LS: "binlog/mysql-bin.000000\\tstream\\t1\\nbinlog/mysql-bin.000001.partial\\tstream\\t1\\n" }, /push binlog\/mysql-bin\.000002\.partial/);
    expect(code).to.equal(0);
    expect(log).to.not.contain("SHOW MASTER STATUS");
    expect(log).to.match(/^mariadb-binlog .* mysql-bin\.000001$/m);
  });

  /** Runs the recovery script with the base's binlog info `info` in DATA_DIR and the archive holding `files`. */
  function recover(info: string | undefined, files: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
    const bin = stubs(dir, { "dp-agent": DP_AGENT_STUB, mariadbd: "exit 9", "mariadb-binlog": "exit 9", mariadb: "exit 9" });
    const data = join(dir, "mysql");
    mkdirSync(data);
    if (info !== undefined) writeFileSync(join(data, "xtrabackup_binlog_info"), info);
    const r = spawnSync("sh", ["-c", MARIADB_BINLOG_RECOVERY_SCRIPT], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, STUB_LOG: join(dir, "log"), DATA_DIR: data, KB_RECOVERY_TIME: "2026-05-01T12:00:00Z", KB_RECOVERY_TIMESTAMP: "1777636800", STUB_FILES: files.join(" "), ...env },
      encoding: "utf8",
    });
    expect(existsSync(`${data}.dp-binlog`), "the fetched binlogs are removed").to.equal(false);
    return { status: r.status, stderr: r.stderr };
  }

  it("recovery: refuses without KB_RECOVERY_TIME, without the base's binlog position, and on a data directory already rolled forward", () => {
    expect(recover("mysql-bin.000001\t4\t0-1-1\n", [], { KB_RECOVERY_TIME: "" }).stderr).to.contain("KB_RECOVERY_TIME is not set");
    rmSync(join(dir, "mysql"), { recursive: true });
    expect(recover(undefined, []).stderr).to.contain("no binlog position of the base");
    rmSync(join(dir, "mysql"), { recursive: true });
    mkdirSync(join(dir, "mysql"));
    writeFileSync(join(dir, "mysql", "xtrabackup_binlog_info.replayed"), "mysql-bin.000001\t4\n");
    const r = spawnSync("sh", ["-c", MARIADB_BINLOG_RECOVERY_SCRIPT], { env: { ...process.env, DATA_DIR: join(dir, "mysql"), KB_RECOVERY_TIME: "2026-05-01T12:00:00Z" }, encoding: "utf8" });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain("already rolled forward from its base");
  });

  it("recovery: refuses an archive that starts after the base's binlog or has a hole, before starting any server", () => {
    const late = recover("mysql-bin.000001\t1228\t0-1-5\n", ["mysql-bin.000002", "mysql-bin.000003"]);
    expect(late.status).to.equal(1);
    expect(late.stderr).to.contain("the archive holds no mysql-bin.000001, the binlog the base ends in (it starts at mysql-bin.000002)");
    rmSync(join(dir, "mysql"), { recursive: true });
    const hole = recover("mysql-bin.000001\t1228\t0-1-5\n", ["mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000004"]);
    expect(hole.status).to.equal(1);
    expect(hole.stderr).to.contain("the archive has no binlog between mysql-bin.000002 and mysql-bin.000004");
  });

  it("recovery: a failed pull-log is retried into an emptied directory", () => {
    const r = recover("mysql-bin.000001\t1228\t0-1-5\n", ["mysql-bin.000002"], { STUB_PULL_FAILS: "1" });
    expect(r.stderr).to.contain("dp-agent pull-log failed: attempt 2 of 3");
    // The second attempt's files alone (no "aaa-stale" left from the first, which would sort first) reach the checks.
    expect(r.stderr).to.contain("(it starts at mysql-bin.000002)");
  });
});
