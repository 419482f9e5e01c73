import { expect } from "chai";
import { Readable } from "node:stream";
import { LazyBackend } from "./lazy.ts";
import type { RepoBackend } from "./types.ts";

const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

/** A backend with only what the ranged read needs: get (in 700-byte pieces) and, optionally, getRange. */
function fake(ranged: boolean, calls: string[]): RepoBackend {
  return {
    kind: "s3",
    location: "s3://b",
    get: async (key: string) => {
      calls.push(`get ${key}`);
      return Readable.from(Array.from({ length: Math.ceil(data.length / 700) }, (_, i) => data.subarray(i * 700, (i + 1) * 700)));
    },
    ...(ranged ? { getRange: async (key: string, offset: number, length: number) => (calls.push(`range ${key} ${offset} ${length}`), data.subarray(offset, offset + length)) } : {}),
  } as unknown as RepoBackend;
}

describe("LazyBackend ranged reads", () => {
  it("forwards getRange to a backend that has it, loading it first", async () => {
    const calls: string[] = [];
    const lazy = new LazyBackend("s3", "s3://b", async () => fake(true, calls));
    expect((await lazy.getRange("k", 1000, 300)).equals(data.subarray(1000, 1300))).to.equal(true);
    expect(calls).to.deep.equal(["range k 1000 300"]);
  });

  it("reads the range through get() from a backend without it: across pieces, at the end, empty; too short fails naming the object", async () => {
    const calls: string[] = [];
    const lazy = new LazyBackend("s3", "s3://b", async () => fake(false, calls));
    expect((await lazy.getRange("k", 650, 800)).equals(data.subarray(650, 1450))).to.equal(true);
    expect((await lazy.getRange("k", 4990, 10)).equals(data.subarray(4990))).to.equal(true);
    expect((await lazy.getRange("k", 0, 0)).length).to.equal(0);
    const err = await lazy.getRange("k", 4990, 20).then(() => undefined, (e: Error) => e);
    expect(String(err)).to.match(/object s3:\/\/b\/k is shorter than 5010 bytes \(it has 5000\)/);
  });
});
