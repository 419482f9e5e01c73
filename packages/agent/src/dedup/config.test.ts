import { expect } from "chai";
import { parseKey } from "../format/keys.ts";
import { DEFAULT_CDC } from "./cdc.ts";
import { DEFAULT_PACK_SIZE, newConfig, openConfig } from "./config.ts";
import { Sealer } from "./seal.ts";
import { newSnapshotId, openSnapshot, sealSnapshot, checkSnapshotBinding, type Snapshot } from "./snapshot.ts";

const RAW = parseKey("11".repeat(32));
const PASS = parseKey("correct horse battery staple");

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  await p.then(
    () => expect.fail(`expected ${re}`),
    (err: Error) => expect(err.message).to.match(re),
  );
}

describe("dedup/config and snapshot", () => {
  it("opens with the key it was made with (raw key or passphrase), with the same subkeys and defaults", async () => {
    for (const key of [RAW, PASS]) {
      const made = await newConfig(key);
      expect(made.config).to.include({ encryption: "aes-256-gcm", kdf: key.kind === "raw" ? "raw" : "scrypt", packSize: DEFAULT_PACK_SIZE });
      expect(made.config.chunker).to.deep.equal(DEFAULT_CDC);
      expect(made.config.idKey, "an encrypted repo stores no id key").to.equal(undefined);
      const text = JSON.stringify(made.config);
      expect(text).to.not.include(made.keys.id.toString("hex"));
      const opened = await openConfig(text, key, "config");
      expect(opened.keys).to.deep.equal(made.keys);
    }
  });

  it("refuses a wrong key, no key, a key for an unencrypted repo, and a changed config", async () => {
    const { config } = await newConfig(RAW);
    const text = JSON.stringify(config);
    await refused(openConfig(text, parseKey("22".repeat(32)), "config"), /not the one the repository was created with/);
    await refused(openConfig(text, undefined, "config"), /encrypted: set DP_ENCRYPTION_KEY/);
    await refused(openConfig(text, PASS, "config"), /created with a raw key, not a passphrase/);
    await refused(openConfig(JSON.stringify({ ...config, packSize: 4096 }), RAW, "config"), /mac does not match/);
    await refused(openConfig(JSON.stringify({ ...config, chunker: { min: 1, avg: 2, max: 3 } }), RAW, "config"), /not a usable/);
    const plain = await newConfig(undefined);
    expect(plain.config.idKey).to.match(/^[0-9a-f]{64}$/);
    expect((await openConfig(JSON.stringify(plain.config), undefined, "config")).keys).to.deep.equal(plain.keys);
    await refused(openConfig(JSON.stringify(plain.config), RAW, "config"), /not encrypted, but an encryption key is set/);
    await refused(openConfig("{}", undefined, "config"), /not a dp-agent dedup repository/);
  });

  it("seals snapshots under their id and checks their backup", async () => {
    const { keys } = await newConfig(RAW);
    const sealer = new Sealer(keys.data);
    const s: Snapshot = { v: 1, id: newSnapshotId(), time: new Date().toISOString(), kind: "stream", target: "x", backupId: "uid-1", tree: ["ab".repeat(32)], stats: { files: 1, dirs: 0, bytes: 1, unchanged: 0, newChunks: 1, newBytes: 1, storedBytes: 100 } };
    const sealed = sealSnapshot(sealer, s);
    expect(openSnapshot(sealer, s.id, sealed)).to.deep.equal(s);
    expect(() => openSnapshot(sealer, newSnapshotId(), sealed)).to.throw(/does not authenticate/);
    expect(() => checkSnapshotBinding(s, "uid-1")).to.not.throw();
    expect(() => checkSnapshotBinding(s, "uid-2")).to.throw(/belongs to another backup/);
    expect(() => checkSnapshotBinding({ ...s, backupId: undefined }, "uid-1")).to.throw(/records no backup id/);
  });
});
