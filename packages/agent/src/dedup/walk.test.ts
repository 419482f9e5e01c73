import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileBytes, walkDir } from "./walk.ts";

describe("dedup/walk: the directory walk", () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), "dp-walk-"))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("yields symlinks as symlinks (never followed out of the tree), and opens files only when asked", async () => {
    const root = join(tmp, "root");
    mkdirSync(join(root, "d"), { recursive: true });
    mkdirSync(join(tmp, "outside"));
    writeFileSync(join(tmp, "outside", "secret"), "secret");
    writeFileSync(join(root, "d", "f"), "content");
    symlinkSync(join(tmp, "outside"), join(root, "dirlink"));
    symlinkSync(join(tmp, "outside", "secret"), join(root, "filelink"));
    const seen: string[] = [];
    for await (const item of walkDir(root)) {
      seen.push(`${item.kind} ${item.rel}${item.link ? ` -> ${item.link}` : ""}`);
      if (item.kind === "file") {
        const o = await item.open!();
        expect(o.kind).to.equal("file");
        if (o.kind === "file") {
          const parts: Buffer[] = [];
          for await (const b of fileBytes(o.fh, [Buffer.alloc(3), Buffer.alloc(3)])) parts.push(Buffer.from(b));
          expect(Buffer.concat(parts).toString()).to.equal("content");
        }
      }
    }
    expect(seen).to.deep.equal(["dir .", "dir d", "file d/f", `symlink dirlink -> ${join(tmp, "outside")}`, `symlink filelink -> ${join(tmp, "outside", "secret")}`]);
  });

  it("opens what is there now: a file swapped for a symlink after the lstat is a symlink; a deleted one is gone", async () => {
    const root = join(tmp, "root");
    mkdirSync(root);
    writeFileSync(join(root, "a"), "a");
    writeFileSync(join(root, "b"), "b");
    writeFileSync(join(tmp, "secret"), "secret");
    const kinds: string[] = [];
    for await (const item of walkDir(root)) {
      if (item.kind !== "file") continue;
      if (item.rel === "a") {
        unlinkSync(join(root, "a"));
        symlinkSync(join(tmp, "secret"), join(root, "a"));
      } else unlinkSync(join(root, "b"));
      kinds.push((await item.open!()).kind);
    }
    expect(kinds).to.deep.equal(["symlink", "gone"]);
  });

  it("refuses a root that is not a directory", async () => {
    writeFileSync(join(tmp, "f"), "");
    for (const root of [join(tmp, "f"), join(tmp, "none")]) {
      await (async () => {
        for await (const _ of walkDir(root)) void _;
      })().then(
        () => expect.fail("walked a non-directory"),
        (err: Error) => expect(err.message).to.match(/not a directory|cannot read directory/),
      );
    }
  });
});
