import { expect } from "chai";
import fc from "fast-check";
import { childName, isDnsLabel } from "./names.ts";

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,80}[a-z0-9])?$/);

describe("childName", () => {
  it("keeps short names readable", () => {
    expect(childName("pg-daily", "job")).to.equal("pg-daily-job");
  });

  it("bounds long names to 63 characters with a hash, keeping the suffix", () => {
    const n = childName("a".repeat(70), "job");
    expect(n).to.have.length.at.most(63);
    expect(n).to.match(/^a+-[0-9a-f]{8}-job$/);
  });

  it("is deterministic, valid and at most 63 characters for any valid inputs", () => {
    fc.assert(
      fc.property(label, label, (p, s) => {
        const n = childName(p, s);
        expect(n).to.equal(childName(p, s));
        expect(n.length).to.be.at.most(63);
        expect(isDnsLabel(n), n).to.equal(true);
      }),
    );
  });

  it("keeps long parents that differ only at the end apart", () => {
    const base = "x".repeat(60);
    expect(childName(`${base}-one`, "job")).to.not.equal(childName(`${base}-two`, "job"));
  });

  it("honours a smaller limit", () => {
    expect(childName("b".repeat(40), "restore", 20)).to.have.length.at.most(20);
  });
});
