// push-dir's walk against a source that changes under it: a directory or file replaced by a
// symlink to outside while the walk runs (driven deterministically by the beforeOpen hook)
// never brings anything from outside into the backup.
import { expect } from "chai";
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packDir } from "./pack.ts";

const SECRET = "OUTSIDE-SECRET-2f9c";

async function archive(root: string, beforeOpen: (rel: string) => Promise<void>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of packDir(root, () => undefined, beforeOpen)) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

describe("packDir against a source swapped during the walk", () => {
  let base: string;
  let source: string;
  let outside: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), "dp-pack-"));
    source = join(base, "source");
    outside = join(base, "outside");
    await mkdir(join(source, "sub", "deeper"), { recursive: true });
    await writeFile(join(source, "sub", "deeper", "file"), "inside deeper");
    await writeFile(join(source, "f"), "inside f");
    await writeFile(join(source, "big"), Buffer.alloc(600_000, 0x41));
    await mkdir(join(outside, "deeper"), { recursive: true });
    await writeFile(join(outside, "secret"), SECRET);
    await writeFile(join(outside, "deeper", "file"), SECRET);
    await writeFile(join(outside, "big"), SECRET);
  });
  afterEach(async () => rm(base, { recursive: true, force: true }));

  it("stores a directory replaced by a symlink just before it is opened as that symlink, not what it points to", async () => {
    const out = await archive(source, async (rel) => {
      if (rel !== "sub") return;
      await rename(join(source, "sub"), join(base, "sub-moved"));
      await symlink(outside, join(source, "sub"));
    });
    expect(out.includes(SECRET)).to.equal(false);
    expect(out.includes(Buffer.from(`"p":"sub","m":`))).to.equal(true);
    expect(out.includes(Buffer.from(`"l":"${outside}"`))).to.equal(true);
  });

  it("keeps reading a directory it opened even when its path is swapped for a symlink mid-walk", async () => {
    const out = await archive(source, async (rel) => {
      if (rel !== "sub/deeper/file") return;
      await rename(join(source, "sub"), join(base, "sub-moved"));
      await symlink(outside, join(source, "sub"));
    });
    expect(out.includes(SECRET)).to.equal(false);
    expect(out.includes(Buffer.from("inside deeper"))).to.equal(true);
  });

  it("stores a file replaced by a symlink between its lstat and its open as the symlink (small and large files)", async () => {
    const out = await archive(source, async (rel) => {
      if (rel !== "f" && rel !== "big") return;
      await unlink(join(source, rel));
      await symlink(join(outside, rel === "f" ? "secret" : "big"), join(source, rel));
    });
    expect(out.includes(SECRET)).to.equal(false);
    expect(out.includes(Buffer.from(`"l":"${join(outside, "secret")}"`))).to.equal(true);
  });
});
