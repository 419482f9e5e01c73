import { expect } from "chai";
import fc from "fast-check";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ParentCursor, type TreeEntry, comparePaths, entryLine, parseEntry, treeEntries } from "./tree.ts";
import { walkDir } from "./walk.ts";

const file = (p: string): TreeEntry => ({ p, k: "f", m: 0o644, u: 0, g: 0, t: 1, s: 0, c: [] });

async function* from(...pieces: Buffer[]): AsyncGenerator<Buffer> {
  yield* pieces;
}

describe("dedup/tree: snapshot trees", () => {
  it("orders paths as the walk visits them (a directory's entries right after it)", async () => {
    const root = mkdtempSync(join(tmpdir(), "dp-tree-"));
    try {
      for (const d of ["a", "a/b", "a.b", "a-", "ab", "é"]) mkdirSync(join(root, d), { recursive: true });
      for (const f of ["a/x", "a/b/y", "a.b/z", "a.txt", "b", "a-/0", "é/ü"]) writeFileSync(join(root, f), "");
      const walked: string[] = [];
      for await (const item of walkDir(root)) {
        walked.push(item.rel);
        await item.skip?.();
      }
      expect(walked.length).to.equal(14);
      expect([...walked].sort(comparePaths)).to.deep.equal(walked);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("comparePaths is a total order consistent with building the tree depth-first (property)", () => {
    const seg = fc.constantFrom("a", "b", "a.b", "a-", "ab", "a b", "Z", "é");
    fc.assert(
      fc.property(fc.array(fc.array(seg, { minLength: 1, maxLength: 4 }), { maxLength: 30 }), (paths) => {
        const all = new Set<string>(["."]);
        for (const p of paths) for (let i = 1; i <= p.length; i++) all.add(p.slice(0, i).join("/"));
        const sorted = [...all].sort(comparePaths);
        // Every path comes after its parent, and the entries under a directory are contiguous.
        sorted.forEach((p, i) => {
          if (p === ".") {
            expect(i).to.equal(0);
            return;
          }
          const parent = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : ".";
          const j = sorted.indexOf(parent);
          expect(j).to.be.below(i);
          for (const q of sorted.slice(j + 1, i)) expect(parent === "." || q.startsWith(`${parent}/`), `${q} between ${parent} and ${p}`).to.equal(true);
        });
      }),
    );
  });

  it("reads entries back across any split of the bytes, multi-byte characters included", async () => {
    const entries: TreeEntry[] = [
      { p: ".", k: "d", m: 0o755, u: 0, g: 0, t: 1.5 },
      { ...file("ünïcödé/名前.txt"), s: 5, c: ["ab".repeat(32), 3], i: "12", mn: "1000000", cn: "2000000" },
      { p: "l", k: "l", m: 0o777, u: 1, g: 2, t: 3, l: "../x" },
      { p: "dump.sql", k: "s", s: 0, c: [] },
    ];
    const bytes = Buffer.from(entries.map(entryLine).join(""));
    for (let cut = 0; cut <= bytes.length; cut += 7) {
      const got: TreeEntry[] = [];
      for await (const e of treeEntries(from(bytes.subarray(0, cut), bytes.subarray(cut)))) got.push(e);
      expect(got).to.deep.equal(entries);
    }
    const cutOff = async (): Promise<void> => {
      for await (const _ of treeEntries(from(bytes.subarray(0, bytes.length - 2)))) void _;
    };
    await cutOff().then(() => expect.fail("a cut-off tree"), (err: Error) => expect(err.message).to.match(/cut off/));
  });

  it("refuses entries a restore must not act on", () => {
    const bad = [
      { ...file("../etc/passwd") },
      { ...file("/abs") },
      { ...file("a//b") },
      { ...file("."), k: "f" },
      { p: ".", k: "s", s: 0, c: [] },
      { ...file("x"), c: ["not an id"] },
      { ...file("x"), c: [-1] },
      { ...file("x"), s: undefined },
      { ...file("x"), k: "q" },
      { ...file("x"), m: undefined },
      { p: "d", k: "d", m: 0, u: 0, g: 0, t: 0, c: [] },
      { ...file("x"), mn: "12a" },
    ];
    for (const e of bad) expect(() => parseEntry(JSON.stringify(e)), JSON.stringify(e)).to.throw(/corrupt/);
    expect(() => parseEntry("{not json")).to.throw(/not JSON/);
  });

  it("finds a parent's entries in one pass in walk order", async () => {
    const parent = [".", "a", "a/x", "a.txt", "c"].map(file);
    async function* it(): AsyncGenerator<TreeEntry> {
      yield* parent;
    }
    const cursor = new ParentCursor(it());
    const found = await Promise.all(["a/x", "a/y", "a.txt", "b", "c", "d"].map((p) => cursor.find(p)));
    expect(found.map((e) => e?.p)).to.deep.equal(["a/x", undefined, "a.txt", undefined, "c", undefined]);
    await cursor.close();
  });
});
