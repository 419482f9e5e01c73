import { expect } from "chai";
import fc from "fast-check";
import { childName, isDnsLabel, labelValue, nameForLabelValue } from "./names.ts";

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

describe("labelValue", () => {
  const subdomain = fc.stringMatching(/^[a-z0-9]([-.a-z0-9]{0,250}[a-z0-9])?$/);
  const validLabelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

  it("is the name when it fits in 63 characters, else a bounded valid label value that maps back to the name among its siblings", () => {
    expect(labelValue("pg-daily")).to.equal("pg-daily");
    fc.assert(
      fc.property(subdomain, subdomain, (a, b) => {
        const v = labelValue(a);
        expect(v.length).to.be.at.most(63);
        expect(v, v).to.match(validLabelValue);
        expect(nameForLabelValue(v, [b, a])).to.equal(a === b || labelValue(b) !== v ? a : b);
      }),
    );
    const long = `${"backup-".repeat(30)}x`;
    expect(labelValue(long)).to.not.equal(long);
    expect(nameForLabelValue(labelValue(long), ["other", long])).to.equal(long);
    expect(nameForLabelValue("gone", ["other"]), "no sibling: the value itself").to.equal("gone");
  });
});
