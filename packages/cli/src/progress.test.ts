import { expect } from "chai";
import { Progress, bytesMoved, progressLine } from "./progress.ts";

const T0 = Date.parse("2026-11-23T22:15:00Z");

describe("kubectl-dp --wait progress", () => {
  it("one line: phase, the bytes the object reports (totalSize, else the tool's uploadTotalSize), time elapsed", () => {
    expect(progressLine("backup/b1", { status: { phase: "InProgress" } }, 41_000)).to.equal("backup/b1 InProgress (41s elapsed)");
    expect(progressLine("backup/b1", { status: { phase: "InProgress", manifests: { backupTool: { uploadTotalSize: "3Mi" } } } }, 125_000)).to.equal("backup/b1 InProgress (3Mi, 2m5s elapsed)");
    expect(progressLine("backup/b1", { status: { phase: "Completed", totalSize: "12Mi", manifests: { backupTool: { uploadTotalSize: "3Mi" } } } }, 0)).to.equal("backup/b1 Completed (12Mi, 0s elapsed)");
    expect(progressLine("restorejob/r1", {}, 3000)).to.equal("restorejob/r1 (no phase yet) (3s elapsed)");
    expect(bytesMoved({ status: { totalSize: "" } })).to.equal(undefined);
  });

  it("plain output (not a terminal): a line when the phase or the bytes change, none before the first phase", () => {
    const out: string[] = [];
    const p = new Progress({ out: (l) => out.push(l) }, "backup/b1", T0);
    p.update({}, T0 + 500);
    p.update({ status: { phase: "InProgress" } }, T0 + 1000);
    p.update({ status: { phase: "InProgress" } }, T0 + 2000);
    p.update({ status: { phase: "InProgress", manifests: { backupTool: { uploadTotalSize: "1Mi" } } } }, T0 + 3000);
    p.update({ status: { phase: "Completed", totalSize: "2Mi" } }, T0 + 4000);
    p.end();
    expect(out).to.deep.equal([
      "backup/b1 InProgress (1s elapsed)",
      "backup/b1 InProgress (1Mi, 3s elapsed)",
      "backup/b1 Completed (2Mi, 4s elapsed)",
    ]);
  });

  it("on a terminal: the line is rewritten in place at every poll, cut to the width less one (so \\r can rewrite it), and ended with one newline", () => {
    const written: string[] = [];
    const out: string[] = [];
    const p = new Progress({ out: (l) => out.push(l), write: (t) => written.push(t), tty: true, columns: 30 }, "backup/b1", T0);
    p.update({}, T0);
    p.update({ status: { phase: "InProgress" } }, T0 + 1000);
    p.update({ status: { phase: "InProgress" } }, T0 + 2000);
    p.end();
    p.end();
    expect(out).to.deep.equal([]);
    expect(written).to.deep.equal([
      "\r\u001b[2Kbackup/b1 (no phase yet) (0s ",
      "\r\u001b[2Kbackup/b1 InProgress (1s elap",
      "\r\u001b[2Kbackup/b1 InProgress (2s elap",
      "\n",
    ]);
  });

  it("nothing written, nothing to end", () => {
    const written: string[] = [];
    new Progress({ out: () => undefined, write: (t) => written.push(t), tty: true }, "backup/b1", T0).end();
    expect(written).to.deep.equal([]);
  });
});
