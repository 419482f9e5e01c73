import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { POSTGRES_ARCHIVE_SCRIPT, POSTGRES_RECOVERY_SCRIPT, postgresPitrTool } from "./postgres-pitr.ts";

describe("postgres-pitr", () => {
  for (const [what, script] of [["archive", POSTGRES_ARCHIVE_SCRIPT], ["recovery", POSTGRES_RECOVERY_SCRIPT]] as const) {
    it(`its ${what} script parses under sh and holds nothing Kubernetes would expand ($( or $$)`, () => {
      execFileSync("sh", ["-n", "-c", script]);
      expect(script).to.not.contain("$(");
      expect(script).to.not.contain("$$");
    });
  }
  it("is a logfile tool run as a StatefulSet, archiving with pg_receivewal over a slot and recovering with pull-log to KB_RECOVERY_TIME", () => {
    expect(postgresPitrTool.spec).to.deep.include({ type: "pitr", deployKind: "statefulSet" });
    expect(POSTGRES_ARCHIVE_SCRIPT).to.match(/pg_receivewal .* -S "\$slot" --synchronous/);
    expect(POSTGRES_ARCHIVE_SCRIPT).to.contain("--drop-slot");
    expect(POSTGRES_ARCHIVE_SCRIPT).to.contain('if [ -s "$LOG_KEEP_FROM_FILE" ]; then dp-agent prune-log --prefix wal/ --before "`cat "$LOG_KEEP_FROM_FILE"`" ||');
    // Received WAL is spooled where a restarted container finds it (LOG_SPOOL_DIR, an emptyDir).
    expect(POSTGRES_ARCHIVE_SCRIPT).to.contain('w="$LOG_SPOOL_DIR/wal"');
    expect(POSTGRES_RECOVERY_SCRIPT).to.contain('dp-agent pull-log "$w" --prefix wal/ --from "$start" --from-skip 8 --until "$KB_RECOVERY_TIME"');
    expect(POSTGRES_RECOVERY_SCRIPT).to.contain("recovery_target_action = 'promote'");
    expect(postgresPitrTool.spec.physical?.restoreCommands).to.deep.equal([POSTGRES_RECOVERY_SCRIPT]);
  });
});
