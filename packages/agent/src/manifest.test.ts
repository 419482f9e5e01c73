import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FilesystemBackend } from "@dataprotection/storage";
import { parseKey } from "./format/keys.ts";
import { type ManifestTrust, canonicalJson } from "./manifest-auth.ts";
import { type Manifest, type ManifestFile, readManifest, recordFile, recordUserContext } from "./manifest.ts";

const A = "uid-backup-a";
const B = "uid-backup-b";

function file(name: string): ManifestFile {
  return { name, kind: "stream", size: 10, storedSize: 100, sha256: "ab".repeat(32), checksumAlgorithm: "sha256-tags", chunkSize: 4096, chunks: 2, compression: "zstd:3", encryption: "aes-256-gcm:raw-key", startTime: "2026-01-01T00:00:00Z", stopTime: "2026-01-01T00:00:01Z" };
}

describe("manifest.json authentication", () => {
  let root: string;
  let b: FilesystemBackend;
  const key = parseKey("ef".repeat(32));
  const path = (p = "ns/b1"): string => join(root, p, "manifest.json");
  const stored = (p?: string): Manifest => JSON.parse(readFileSync(path(p), "utf8")) as Manifest;
  const store = (m: unknown, p?: string): void => writeFileSync(path(p), JSON.stringify(m));
  const readErr = (trust: ManifestTrust, use: "read" | "update" = "read"): Promise<string> =>
    readManifest(b, "ns/b1", trust, use).then(
      () => "accepted",
      (e: unknown) => String(e),
    );
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "dp-manifest-"));
    b = new FilesystemBackend({ root });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("serializes canonically: sorted keys at every depth, array order kept, undefined left out", () => {
    expect(canonicalJson({ b: 1, a: [{ d: "x", c: null }, 2], e: undefined, "é": true })).to.equal('{"a":[{"c":null,"d":"x"},2],"b":1,"é":true}');
    expect(canonicalJson({ x: 1, y: { b: 2, a: 1 } })).to.equal(canonicalJson({ y: { a: 1, b: 2 }, x: 1 }));
  });

  it("with a key records the backup id, a salt and an HMAC, and reads it back", async () => {
    await recordFile(b, "ns/b1", "pg", file("a"), { key, backupId: A });
    await recordFile(b, "ns/b1", "pg", file("b"), { key, backupId: A });
    const m = stored();
    expect(m).to.include({ backupId: A });
    expect(m.macSalt).to.match(/^[0-9a-f]{32}$/);
    expect(m.mac).to.match(/^[0-9a-f]{64}$/);
    expect((await readManifest(b, "ns/b1", { key, backupId: A }))?.files.map((f) => f.name)).to.deep.equal(["a", "b"]);
    expect(await readErr({ key })).to.equal("accepted");
  });

  it("refuses a manifest with one field edited, its mac removed, or made with another key, in words that tell them apart", async () => {
    await recordFile(b, "ns/b1", "pg", file("a"), { key, backupId: A });
    const good = stored();
    const edits: Record<string, (m: Manifest) => void> = {
      "an object's checksum": (m) => (m.files[0]!.sha256 = "cd".repeat(32)),
      "the file list": (m) => (m.files = []),
      "the backup id": (m) => (m.backupId = B),
      "the salt": (m) => (m.macSalt = "0".repeat(32)),
      "the mac": (m) => (m.mac = "0".repeat(64)),
      "a field added": (m) => Object.assign(m, { extra: 1 }),
    };
    for (const [what, edit] of Object.entries(edits)) {
      const m = structuredClone(good);
      edit(m);
      store(m);
      for (const use of ["read", "update"] as const) {
        const err = await readErr({ key }, use);
        expect(err, what).to.contain("manifest.json of ns/b1 is not authenticated by this repository's key: ");
        if (what !== "the salt") expect(err, what).to.contain("its mac does not match");
      }
    }
    for (const strip of [["mac"], ["mac", "macSalt"], ["mac", "backupId"], ["mac", "macSalt", "backupId"]]) {
      const m = structuredClone(good) as unknown as Record<string, unknown>;
      for (const f of strip) delete m[f];
      store(m);
      for (const use of ["read", "update"] as const) {
        expect(await readErr({ key }, use), strip.join()).to.contain("manifest.json of ns/b1 is not authenticated by this repository's key: it has no mac");
      }
    }
    store(good);
    expect(await readErr({ key: parseKey("01".repeat(32)) })).to.contain("it was written with another key (the encryption key is not the one this backup was written with");
    // Without a key nothing is authenticated (the operator's recorded checksums defend that case).
    expect(await readErr({})).to.equal("accepted");
  });

  it("refuses another backup's manifest (binding), and one from before binding when it decides what is read", async () => {
    await recordFile(b, "ns/b1", "pg", file("a"), { key, backupId: A });
    for (const use of ["read", "update"] as const) expect(await readErr({ key, backupId: B }, use)).to.contain(`manifest.json of ns/b1 belongs to another backup: it records backup ${A}, this is backup ${B}`);
    expect(await recordFile(b, "ns/b1", "pg", file("x"), { key, backupId: B }).catch((e: unknown) => String(e))).to.contain("belongs to another backup");
    // Unauthenticated (no key), the id is still compared.
    await recordFile(b, "ns/b2", "pg", file("a"), { backupId: A });
    expect(await readManifest(b, "ns/b2", { backupId: B }).catch((e: unknown) => String(e))).to.contain("belongs to another backup");
    await recordFile(b, "ns/b3", "pg", file("a"), { key });
    expect(stored("ns/b3").backupId).to.equal(undefined);
    expect(await readManifest(b, "ns/b3", { key, backupId: B }).catch((e: unknown) => String(e))).to.contain("predates backup binding (it records no backup id)");
  });

  it("lets a writer adopt a manifest an older dp-agent wrote earlier in the backup, sealing it from then on", async () => {
    await recordFile(b, "ns/b1", "pg", file("a"), {});
    expect(stored()).to.not.have.property("mac");
    // Read for a backup that is not bound (the operator gives no DP_BACKUP_ID for a Backup made
    // before binding): trusted as such, with a warning; for a bound backup: refused.
    const readWarnings: string[] = [];
    expect((await readManifest(b, "ns/b1", { key, warn: (l) => readWarnings.push(l) }))?.files.map((f) => f.name)).to.deep.equal(["a"]);
    expect(readWarnings.join()).to.contain("written before manifests were authenticated");
    expect(await readErr({ key, backupId: A })).to.contain("it has no mac");
    const warnings: string[] = [];
    await recordFile(b, "ns/b1", "pg", file("b"), { key, backupId: A, warn: (l) => warnings.push(l) });
    expect(warnings.join()).to.contain("was written before manifests were authenticated");
    expect(stored()).to.include({ backupId: A });
    expect((await readManifest(b, "ns/b1", { key, backupId: A }))?.files.map((f) => f.name)).to.deep.equal(["a", "b"]);
  });

  it("derives the mac key from a passphrase with the manifest's salt", async () => {
    const pass = parseKey("correct horse battery staple");
    await recordFile(b, "ns/b1", "pg", file("a"), { key: pass, backupId: A });
    expect(await readErr({ key: pass, backupId: A })).to.equal("accepted");
    expect(await readErr({ key: parseKey("wrong horse battery staple") })).to.contain("it was written with another key");
  });

  it("covers the user context with the mac: an edited, added or removed entry is refused", async () => {
    await recordFile(b, "ns/b1", "pg", file("a"), { key, backupId: A });
    await recordUserContext(b, "ns/b1", { "apps.3scale.net/databases": "[]", other: "x" }, { key, backupId: A });
    const good = stored();
    expect(good.userContext).to.deep.equal({ "apps.3scale.net/databases": "[]", other: "x" });
    expect((await readManifest(b, "ns/b1", { key, backupId: A }))?.userContext).to.deep.equal(good.userContext);
    const edits: Record<string, (m: Manifest) => void> = {
      "a value edited": (m) => (m.userContext!["apps.3scale.net/databases"] = '[{"name":"x"}]'),
      "an entry added": (m) => (m.userContext!.extra = "y"),
      "an entry removed": (m) => delete m.userContext!.other,
      "the user context removed": (m) => delete m.userContext,
    };
    for (const [what, edit] of Object.entries(edits)) {
      const m = structuredClone(good);
      edit(m);
      store(m);
      for (const use of ["read", "update"] as const) expect(await readErr({ key }, use), what).to.contain("its mac does not match");
    }
    // And one added to a manifest that had none.
    await recordFile(b, "ns/b2", "pg", file("a"), { key, backupId: A });
    store({ ...stored("ns/b2"), userContext: { k: "v" } }, "ns/b2");
    expect(await readManifest(b, "ns/b2", { key }).catch((e: unknown) => String(e))).to.contain("its mac does not match");
  });

  it("merges user context entries through the writers' path, within its limits, and only into an existing manifest", async () => {
    const trust = { key, backupId: A };
    const err = (entries: Record<string, string>, p = "ns/b1"): Promise<string> => recordUserContext(b, p, entries, trust).then(() => "accepted", (e: unknown) => String(e));
    expect(await err({ k: "v" })).to.contain("backup ns/b1 has no manifest.json in repo").and.contain("nothing was pushed yet");
    await recordFile(b, "ns/b1", "pg", file("a"), trust);
    const m = await recordUserContext(b, "ns/b1", { a: "1", b: "2" }, trust);
    expect(m.userContext).to.deep.equal({ a: "1", b: "2" });
    expect((await recordUserContext(b, "ns/b1", { b: "3", "c.d/e_f-g": "" }, trust)).userContext).to.deep.equal({ a: "1", b: "3", "c.d/e_f-g": "" });
    expect(stored()).to.deep.include({ backupId: A, tool: "pg", userContext: { a: "1", b: "3", "c.d/e_f-g": "" } });
    expect(stored().files.map((f) => f.name)).to.deep.equal(["a"]);
    // A later push keeps it.
    await recordFile(b, "ns/b1", "pg", file("b"), trust);
    expect(stored().userContext).to.deep.equal({ a: "1", b: "3", "c.d/e_f-g": "" });
    expect(await err({})).to.contain("no user context entries");
    expect(await err({ "": "v" })).to.contain("is not 1-63 characters");
    expect(await err({ ["k".repeat(64)]: "v" })).to.contain("is not 1-63 characters");
    expect(await err({ "a b": "v" })).to.contain("is not 1-63 characters");
    expect(await err({ k: 1 } as unknown as Record<string, string>)).to.contain("is not a string");
    expect(await err({ k: "v".repeat(2049) })).to.contain("has 2049 characters: at most 2048");
    expect(await err({ k: "v".repeat(2048) })).to.equal("accepted");
    expect(await err({ d: "1", e: "2", f: "3", g: "4", h: "5" })).to.contain("would have 9 keys");
    expect(await err({ l: "x".repeat(1000) })).to.contain("bytes of JSON: at most 3000");
    expect(stored().userContext).to.have.keys(["a", "b", "c.d/e_f-g", "k"]);
    // Another backup's manifest is refused as for push.
    expect(await recordUserContext(b, "ns/b1", { z: "1" }, { key, backupId: B }).catch((e: unknown) => String(e))).to.contain("belongs to another backup");
  });
});
