import { expect } from "chai";
import { cutLog } from "./logs.ts";

describe("cutLog", () => {
  const log = Buffer.from("a\nb\nc\n");
  const rows: Array<[number | undefined, number | undefined, string]> = [
    [undefined, undefined, "a\nb\nc\n"],
    [2, undefined, "b\nc\n"],
    [1, undefined, "c\n"],
    [0, undefined, ""],
    [10, undefined, "a\nb\nc\n"],
    [undefined, 3, "a\nb"],
    [2, 2, "b\n"],
  ];
  for (const [tail, limit, want] of rows) {
    it(`keeps ${JSON.stringify(want)} for tailLines=${tail} limitBytes=${limit}`, () => {
      expect(cutLog(log, tail, limit).toString()).to.equal(want);
    });
  }
  it("handles a last line without newline", () => {
    expect(cutLog(Buffer.from("a\nb"), 1).toString()).to.equal("b");
  });
});
