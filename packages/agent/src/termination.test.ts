import { expect } from "chai";
import type { Manifest, ManifestFile } from "./manifest.ts";
import { terminationReport } from "./termination.ts";

function manifest(n: number): Manifest {
  const files: ManifestFile[] = Array.from({ length: n }, (_, i) => ({
    name: `wal/00000001000000000000${String(i).padStart(4, "0")}`,
    kind: "stream",
    size: 16 << 20,
    storedSize: 1000 + i,
    sha256: i.toString(16).padStart(64, "0"),
    checksumAlgorithm: "sha256-tags",
    chunks: 17,
    compression: "zstd:3",
    encryption: "none",
    startTime: "2026-11-23T00:00:00Z",
    stopTime: "2026-11-23T00:00:01Z",
  }));
  return { version: 1, backupPath: "ns/b1", startTime: "", stopTime: "", totalSize: n * (16 << 20), storedSize: files.reduce((a, f) => a + f.storedSize, 0), files };
}

describe("termination report", () => {
  it("names the backup id the objects are bound to, and nothing when they are not", () => {
    expect(terminationReport({ ...manifest(1), backupId: "uid-1" }).backupId).to.equal("uid-1");
    expect(terminationReport(manifest(1))).to.not.have.property("backupId");
  });

  it("names the tool that wrote the backup when the manifest records one, and keeps it when files are cut to fit", () => {
    expect(terminationReport({ ...manifest(1), tool: "pg-basebackup" }).tool).to.equal("pg-basebackup");
    expect(terminationReport(manifest(1))).to.not.have.property("tool");
    const cut = terminationReport({ ...manifest(1000), backupId: "uid-1", tool: "t".repeat(253) });
    expect(cut).to.include({ tool: "t".repeat(253), backupId: "uid-1", filesTruncated: true });
    expect(JSON.stringify(cut).length).to.be.at.most(4096);
    expect(cut.files.length).to.be.within(1, 999);
    // A "tool" longer than the limit itself is dropped rather than cutting the JSON.
    const huge = terminationReport({ ...manifest(3), tool: "t".repeat(5000) });
    expect(huge).to.not.have.property("tool");
    expect(JSON.stringify(huge).length).to.be.at.most(4096);
  });

  it("lists each object with its stored size and checksum", () => {
    const r = terminationReport(manifest(2));
    expect(r.files).to.deep.equal([
      { name: "wal/000000010000000000000000", size: 1000, checksum: `sha256:${"0".repeat(64)}` },
      { name: "wal/000000010000000000000001", size: 1001, checksum: `sha256:${"0".repeat(63)}1` },
    ]);
    expect(r).to.include({ totalSize: 2001, dataSize: 32 << 20, filePath: "ns/b1" });
    expect(r.filesTruncated).to.equal(undefined);
  });

  it("falls back to names, then to fewer names, to stay within the kubelet's 4 KiB", () => {
    const names = terminationReport(manifest(40));
    expect(names.files).to.have.length(40);
    expect(typeof names.files[0]).to.equal("string");
    expect(names.filesTruncated).to.equal(undefined);
    const cut = terminationReport(manifest(1000));
    expect(cut.filesTruncated).to.equal(true);
    expect(cut.files.length).to.be.within(1, 999);
    expect(JSON.stringify(cut).length).to.be.at.most(4096);
  });

  it("carries the manifest's user context, trimming files before it and dropping the tool before it", () => {
    const ctx = { "apps.3scale.net/databases": JSON.stringify([{ name: "system-database", backupName: "b-system-database", backupPath: "/ns/b-system-database" }]) };
    expect(terminationReport({ ...manifest(2), userContext: ctx }).userContext).to.deep.equal(ctx);
    expect(terminationReport(manifest(2))).to.not.have.property("userContext");
    expect(terminationReport({ ...manifest(2), userContext: {} })).to.not.have.property("userContext");
    // The largest a writer records (8 keys, 3000 bytes of JSON, quotes to escape) with many files.
    const large: Record<string, string> = {};
    for (let i = 0; i < 8; i++) large[`apps.example.com/key-${i}`] = '"'.repeat(40) + "é".repeat(120);
    expect(Buffer.byteLength(JSON.stringify(large))).to.be.at.most(3000);
    const cut = terminationReport({ ...manifest(500), backupId: "uid-1", tool: "pg-basebackup", userContext: large });
    expect(cut).to.deep.include({ userContext: large, tool: "pg-basebackup", backupId: "uid-1", filesTruncated: true });
    expect(Buffer.byteLength(JSON.stringify(cut))).to.be.at.most(4096);
    expect(cut.files.length).to.be.within(0, 499);
    // Beyond that (a hand-written manifest): the tool goes first, then the user context.
    const huge = { k: "v".repeat(3700) };
    const noTool = terminationReport({ ...manifest(100), tool: "t".repeat(253), userContext: huge });
    expect(noTool).to.not.have.property("tool");
    expect(noTool.userContext).to.deep.equal(huge);
    expect(noTool.files).to.deep.equal([]);
    expect(Buffer.byteLength(JSON.stringify(noTool))).to.be.at.most(4096);
    const none = terminationReport({ ...manifest(100), tool: "pg", userContext: { k: "v".repeat(5000) } });
    expect(none).to.not.have.property("tool");
    expect(none).to.not.have.property("userContext");
    expect(Buffer.byteLength(JSON.stringify(none))).to.be.at.most(4096);
  });
});
