// A repo writer without the key tampers with an encrypted backup in the repo: a byte flipped in
// the object's data or header, the manifest edited, the object replaced by a forged unencrypted
// one. Each RestoreJob fails VerificationFailed naming what was refused, before anything is
// scaled down or written; once the bytes are put back, the same backup restores byte-identical.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace } from "../harness.ts";
import {
  backupInPhase, createBackup, createEncryptedRepo, createPolicy, createPVC, datafilePolicy, hostPathOf, installShared, readTree, runJob, seedScript,
  startTargetPod, testTimeouts,
} from "./fixtures.ts";
import { createRestoreJob, createStatefulSet, waitReady, waitRestore } from "../restore/seed.ts";

const REPO = "tamper-repo";

/** A dp-agent object written without the key (what a repo writer can make): `text` as object `name`. */
function forgedObject(name: string, text: string): Buffer {
  const repo = mkdtempSync(join(tmpdir(), "dp-forged-"));
  try {
    execFileSync("dp-agent", ["push", name], {
      input: text,
      env: { ...process.env, DP_REPO_KIND: "filesystem", DP_REPO_PATH: repo, DP_BACKUP_PATH: "x/forged", DP_TERMINATION_MESSAGE_PATH: join(repo, "term"), DP_COMPRESSION_THREADS: "1" },
    });
    return readFileSync(join(repo, "x/forged", name));
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

const flip = (b: Buffer, at: number): Buffer => {
  const c = Buffer.from(b);
  c[at] ^= 0x01;
  return c;
};

describe("Restore: a tampered encrypted backup is refused before the target is touched (e2e)", function () {
  this.timeout(420_000);
  let op: Operator;
  let removeRepo: (() => Promise<void>) | undefined;

  before(async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob", "backuprepo", "storageprovider"], timeouts: testTimeouts });
    removeRepo = await createEncryptedRepo(kc, REPO);
  });
  after(async () => {
    await op?.stop();
    await removeRepo?.();
  });

  it("refuses a flipped data byte, a flipped header byte, an edited manifest and a forged unencrypted object, each by name; restores once the bytes are back", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "tamper");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(40), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "p", datafilePolicy("volume", { backupRepoName: REPO }));
      await createBackup(kc, ns.name, "b", "p");
      const b = await backupInPhase(kc, ns.name, "b", ["Completed"], 120_000);
      expect(b.status!.manifests!.backupTool!.encrypted).to.equal(true);
      expect(b.status!.manifests!.backupTool!.backupId).to.equal(b.metadata!.uid);
      const dir = join(await hostPathOf(kc, ns.name, b.status!.persistentVolumeClaimName!), b.status!.manifests!.backupTool!.filePath!);
      const object = join(dir, "dir.dpar");
      const manifest = join(dir, "manifest.json");
      const [goodObject, goodManifest] = [await readFile(object), await readFile(manifest)];
      const edited = JSON.parse(goodManifest.toString()) as { tool?: string };
      edited.tool = "someone-else";

      await createStatefulSet(kc, ns.name, "restored", 1, { app: "restored" });
      await waitReady(kc, ns.name, "restored", 1);
      const before = await readTree(await hostPathOf(kc, ns.name, "data-restored-0"));

      const cases: Array<{ what: string; file: string; bytes: Buffer; refused: RegExp }> = [
        { what: "data byte", file: object, bytes: flip(goodObject, goodObject.length - 100), refused: /object "dir\.dpar" (is corrupt|does not|failed its checksum|is truncated)/ },
        { what: "header byte", file: object, bytes: flip(goodObject, 9), refused: /object "dir\.dpar"/ },
        { what: "manifest edit", file: manifest, bytes: Buffer.from(JSON.stringify(edited)), refused: /manifest\.json of .* is not authenticated by this repository's key: its mac does not match/ },
        { what: "forged unencrypted object", file: object, bytes: forgedObject("dir.dpar", "DROP TABLE users;\n"), refused: /object "dir\.dpar" is not encrypted, but this repo has an encryption key/ },
      ];
      for (const [i, c] of cases.entries()) {
        await writeFile(c.file, c.bytes);
        await createRestoreJob(kc, ns.name, `r${i}`, { backupJobName: "b", labels: { app: "restored" }, claim: "data-restored-0" });
        const rj = await waitRestore(kc, ns.name, `r${i}`, "Failed");
        expect(rj.status!.failureReason, c.what).to.match(/^VerificationFailed: Backup ".*\/b" failed verification, the target was not touched: /);
        expect(rj.status!.failureReason, c.what).to.match(c.refused);
        expect(rj.metadata?.annotations?.["dataprotection.kubeblocks.io/original-replicas"], `${c.what}: nothing was scaled down`).to.equal(undefined);
        expect([...(await readTree(await hostPathOf(kc, ns.name, "data-restored-0"))).keys()], `${c.what}: target unchanged`).to.deep.equal([...before.keys()]);
        await writeFile(object, goodObject);
        await writeFile(manifest, goodManifest);
      }
      // The untouched backup still restores into the same target, byte for byte.
      await createRestoreJob(kc, ns.name, "ok", { backupJobName: "b", labels: { app: "restored" }, claim: "data-restored-0" });
      const done = await waitRestore(kc, ns.name, "ok", "Completed");
      expect(done.status?.conditions?.find((c) => c.type === "Verified")?.status).to.equal("True");
      const want = await readTree(await hostPathOf(kc, ns.name, "data"));
      const got = await readTree(await hostPathOf(kc, ns.name, "data-restored-0"));
      expect(want.size).to.equal(40);
      expect([...got.keys()].sort()).to.deep.equal([...want.keys()].sort());
      for (const [k, v] of want) expect(got.get(k)!.equals(v), k).to.equal(true);
    } finally {
      await ns.cleanup();
    }
  });
});
