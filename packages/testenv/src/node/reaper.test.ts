import { expect } from "chai";
import { spawn } from "node:child_process";
import { markIn, OWNER_ENV, ownerAlive, ownerMark, reapOrphans, startTimeOf } from "./reaper.ts";
import { processAlive } from "./processes.ts";

describe("reaper", () => {
  it("finds the owner mark among a process's NUL-separated environment entries", () => {
    const env = (...e: string[]) => Buffer.from(e.join("\0") + "\0");
    expect(markIn(env("PATH=/bin", `${OWNER_ENV}=12:345`, "HOME=/"))).to.equal("12:345");
    expect(markIn(env(`${OWNER_ENV}=1:2`))).to.equal("1:2");
    expect(markIn(env("PATH=/bin", `X${OWNER_ENV}=1:2`, `${OWNER_ENV}_OTHER=3`))).to.equal(undefined);
    expect(markIn(Buffer.alloc(0))).to.equal(undefined);
  });

  it("tells a live owner from a gone one and from a reused pid (same pid, other start time)", () => {
    expect(startTimeOf(process.pid)).to.match(/^\d+$/);
    expect(ownerAlive(ownerMark())).to.equal(true);
    expect(ownerAlive(`${process.pid}:1`)).to.equal(false);
    expect(ownerAlive("999999999:1")).to.equal(false);
  });

  it("kills the processes whose owner is gone, and only those", async () => {
    const start = (mark: string) => spawn("sleep", ["60"], { env: { ...process.env, [OWNER_ENV]: mark }, stdio: "ignore" });
    const orphan = start("999999999:1");
    const kept = start(ownerMark());
    try {
      await new Promise((r) => setTimeout(r, 200));
      const killed = await reapOrphans();
      expect(killed).to.include(orphan.pid);
      expect(killed).to.not.include(kept.pid);
      await new Promise((r) => orphan.exitCode !== null || orphan.signalCode ? r(undefined) : orphan.once("exit", r));
      expect(orphan.signalCode).to.equal("SIGKILL");
      expect(processAlive(kept.pid!)).to.equal(true);
    } finally {
      orphan.kill("SIGKILL");
      kept.kill("SIGKILL");
    }
  });
});
