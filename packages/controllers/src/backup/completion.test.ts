// How a finished tool pod's reports become the Backup's data format, sizes and checksum.
import { expect } from "chai";
import type { V1Pod } from "@kubernetes/client-node";
import { dataOutcome, fromBackupInfo } from "./completion.ts";
import { decideDatafile } from "./decide.ts";
import { Reason } from "./reasons.ts";
import { backup, job, NOW } from "./testdata.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const plainReport = (info?: string) => JSON.stringify({ totalSize: 4096, checksum: "sha256:" + "1".repeat(64), files: ["backup.info", "base.tar"], plainFiles: true, backupInfo: info ? b64(info) : "" });
const agentReport = (name: string) => JSON.stringify({ totalSize: 2048, checksum: "sha256:" + "2".repeat(64), files: [{ name, size: 2048, checksum: "sha256:" + "2".repeat(64) }] });

/** A finished tool pod: the tool in "backup" (a container, or an init container before "seal"). */
function finished(tool: string, seal?: string): V1Pod {
  const st = (name: string, message: string) => ({ name, image: "i", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 0, message } } });
  return seal === undefined
    ? { spec: { containers: [{ name: "backup" }] }, status: { containerStatuses: [st("backup", tool)] } }
    : { spec: { initContainers: [{ name: "backup" }], containers: [{ name: "seal" }] }, status: { initContainerStatuses: [st("backup", tool)], containerStatuses: [st("seal", seal)] } };
}

describe("dataOutcome", () => {
  it("records the userContext dp-agent's manifest carries (string values of names only, bounded)", () => {
    const withContext = (uc: unknown) => finished(JSON.stringify({ ...JSON.parse(agentReport("apimanager.json")) as object, userContext: uc }));
    const o = dataOutcome(withContext({ "apps.3scale.net/databases": "[]", lsn: "0/3" }));
    expect(o.ok && o.manifests).to.deep.equal({ userContext: { "apps.3scale.net/databases": "[]", lsn: "0/3" } });
    for (const bad of [["x"], { "bad key!": "v" }, { n: 1 }, { v: "x".repeat(2049) }, Object.fromEntries([...Array(9).keys()].map((i) => [`k${i}`, "v"]))]) {
      const r = dataOutcome(withContext(bad));
      expect(r.ok && r.manifests, JSON.stringify(bad).slice(0, 40)).to.deep.equal({});
    }
  });

  it("records Agent for a tool that streamed through dp-agent, sealed layout or not", () => {
    for (const pod of [finished(agentReport("dump.sql")), finished(agentReport("dump.sql"), "")]) {
      const o = dataOutcome(pod);
      expect(o.ok && o.backupTool).to.deep.include({ dataFormat: "Agent", uploadTotalSize: "2Ki", checksum: "sha256:" + "2".repeat(64) });
    }
  });

  it("records PlainFiles kept in place with the report's checksum, and takes totalSize from backup.info as the tool wrote it", () => {
    const o = dataOutcome(finished(plainReport('{"totalSize":"4.2M","manifests":{"backupTool":{"uploadTotalSize":"4.2M","checksum":"forged","filePath":"/elsewhere"}},"userContext":{"lsn":"0/3000060"}}')));
    if (!o.ok) throw new Error(o.message);
    expect(o.format).to.equal("PlainFiles");
    expect(o.totalSize).to.equal("4.2M");
    expect(o.backupTool).to.deep.equal({ uploadTotalSize: "4Ki", checksum: "sha256:" + "1".repeat(64), files: [{ name: "backup.info" }, { name: "base.tar" }], dataFormat: "PlainFiles" });
    expect(o.manifests).to.deep.equal({ userContext: { lsn: "0/3000060" } });
  });

  it("records SealedPlainFiles with the sealed object's size and checksum", () => {
    const o = dataOutcome(finished(plainReport(), agentReport("plain-files.dpar")));
    expect(o.ok && o.backupTool).to.deep.include({ dataFormat: "SealedPlainFiles", uploadTotalSize: "2Ki", checksum: "sha256:" + "2".repeat(64) });
  });

  it("records the backup id dp-agent bound the objects to only when it is this Backup's uid", () => {
    const bound = (id: string) => JSON.stringify({ ...JSON.parse(agentReport("dump.sql")), backupId: id });
    const mine = dataOutcome(finished(bound("uid-b1")), "uid-b1");
    expect(mine.ok && mine.backupTool.backupId).to.equal("uid-b1");
    const sealed = dataOutcome(finished(plainReport(), bound("uid-b1")), "uid-b1");
    expect(sealed.ok && sealed.backupTool.backupId).to.equal("uid-b1");
    // Another backup's id (a confused or hostile tool) is not recorded: a restore then relies on the checksums.
    const other = dataOutcome(finished(bound("uid-other")), "uid-b1");
    expect(other.ok && other.backupTool).to.not.have.property("backupId");
    expect(dataOutcome(finished(bound("uid-b1")))).to.satisfy((o: ReturnType<typeof dataOutcome>) => o.ok && !("backupId" in o.backupTool));
  });

  it("fails a sealed layout whose plain files were not sealed", () => {
    const o = dataOutcome(finished(plainReport(), ""));
    expect(o.ok).to.equal(false);
    expect(!o.ok && o.message).to.contain('container "seal" reported no sealed object: the files did not reach the repo');
  });

  it("records no format for a tool's own plain-files report without a checksum (nothing to verify against), and fails it in the sealed layout", () => {
    const own = JSON.stringify({ plainFiles: true, filePath: "/backupdata", objects: 16 });
    const o = dataOutcome(finished(own));
    expect(o.ok && o.format).to.equal(undefined);
    expect(dataOutcome(finished(own, "")).ok).to.equal(false);
  });

  it("records no format for a tool that stored nothing", () => {
    const o = dataOutcome(finished(""));
    expect(o.ok && o.format).to.equal(undefined);
  });
});

describe("fromBackupInfo", () => {
  const rows: Array<[string, Record<string, unknown> | undefined, ReturnType<typeof fromBackupInfo>]> = [
    ["nothing without a file", undefined, { backupTool: {}, manifests: {} }],
    ["a du-style totalSize and a checkpoint", { totalSize: "12M", manifests: { backupTool: { checkpoint: "0/5000000" } } }, { totalSize: "12M", backupTool: { checkpoint: "0/5000000" }, manifests: {} }],
    ["a number of bytes", { totalSize: 1234 }, { totalSize: "1234", backupTool: {}, manifests: {} }],
    ["not a size", { totalSize: "$(rm -rf /)" }, { backupTool: {}, manifests: {} }],
    ["backupLog times, dropping unreadable ones", { manifests: { backupLog: { startTime: "2024-05-01T09:00:00Z", stopTime: "soon" } } }, { backupTool: {}, manifests: { backupLog: { startTime: "2024-05-01T09:00:00Z" } } }],
  ];
  for (const [name, info, want] of rows) it(name, () => expect(fromBackupInfo(info)).to.deep.equal(want));
});

describe("decideDatafile with plain files", () => {
  const running = backup({}, { phase: "InProgress", startTimestamp: "2024-05-01T09:59:00Z", attempts: 0, manifests: { backupTool: { filePath: "/ns/b1", encrypted: true } } });
  it("completes a sealed backup with its format in status and Event", () => {
    const d = decideDatafile({ backup: running, job: job("b1-backup-1", "Complete"), pods: [finished(plainReport('{"totalSize":"3K"}'), agentReport("plain-files.dpar"))], onFailAttempted: 0, podStartMs: 1 }, NOW);
    expect(d.status).to.include({ phase: "Completed", totalSize: "3K" });
    expect(d.status!.manifests!.backupTool).to.include({ dataFormat: "SealedPlainFiles", filePath: "/ns/b1", encrypted: true, uploadTotalSize: "2Ki" });
    expect(d.events![0]!.message).to.contain("(SealedPlainFiles)");
  });
  it("fails with DataNotStored when the seal reported nothing", () => {
    const d = decideDatafile({ backup: running, job: job("b1-backup-1", "Complete"), pods: [finished(plainReport(), "")], onFailAttempted: 0, podStartMs: 1 }, NOW);
    expect(d.status).to.include({ phase: "Failed" });
    expect(d.status!.failureReason).to.match(new RegExp(`^${Reason.DataNotStored}: Job "ns/b1-backup-1" succeeded but the tool wrote 2 plain file`));
  });
});
