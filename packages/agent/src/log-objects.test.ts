import { expect } from "chai";
import { expiredLogObjects, selectLogObjects } from "./log-objects.ts";

const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, "0")}`;
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const objs = [
  { name: `wal/${seg(2)}`, stopTime: at(10) },
  { name: `wal/${seg(3)}`, stopTime: at(20) },
  { name: `wal/${seg(4)}`, stopTime: at(30) },
  { name: `wal/${seg(5)}`, stopTime: at(40) },
  { name: `wal/${seg(6)}.partial`, stopTime: at(45) },
  { name: "base.tar", stopTime: at(1) },
];

describe("selectLogObjects", () => {
  it("starts at the base backup's first segment and stops after the first one pushed an archive interval past the target", () => {
    const s = selectLogObjects(objs, { prefix: "wal/", from: seg(3), fromSkip: 8, until: new Date(at(21)), slackMs: 5_000 });
    expect(s.fetch.map((f) => f.file)).to.deep.equal([seg(3), seg(4)]);
    expect(s.coveredUntil?.toISOString()).to.equal(at(30));
  });
  it("takes one more segment when the next push is within the slack: it may still hold records before the target", () => {
    const s = selectLogObjects(objs, { prefix: "wal/", from: seg(3), fromSkip: 8, until: new Date(at(27)), slackMs: 5_000 });
    expect(s.fetch.map((f) => f.file)).to.deep.equal([seg(3), seg(4), seg(5)]);
  });
  it("fetches the segment holding the target when segments are recorded at their last write, however late the archiver pushed them (the e2e case: a switch 2 s before the target)", () => {
    // Segment 7 ended at 9 s (a WAL switch), 8 holds 9 s..17 s; both pushed only at 15 s and 17 s.
    const late = [{ name: `wal/${seg(7)}`, stopTime: at(9) }, { name: `wal/${seg(8)}`, stopTime: at(17) }];
    const s = selectLogObjects(late, { prefix: "wal/", from: seg(7), fromSkip: 8, until: new Date(at(11)), slackMs: 3_000 });
    expect(s.fetch.map((f) => f.file)).to.deep.equal([seg(7), seg(8)]);
  });
  it("adds the newest partial segment, under its finished name, when the target is past every finished one", () => {
    const s = selectLogObjects(objs, { prefix: "wal/", from: seg(2), fromSkip: 8, until: new Date(at(42)), slackMs: 2_000 });
    expect(s.fetch.map((f) => f.file)).to.deep.equal([seg(2), seg(3), seg(4), seg(5), seg(6)]);
    expect(s.fetch[4]).to.deep.equal({ object: `wal/${seg(6)}.partial`, file: seg(6) });
    expect(s.coveredUntil?.toISOString()).to.equal(at(45));
  });
  it("ignores a partial of a segment that has since been finished, and objects outside the prefix", () => {
    const s = selectLogObjects([...objs, { name: `wal/${seg(4)}.partial`, stopTime: at(25) }], { prefix: "wal/", until: new Date(at(100)), slackMs: 0 });
    expect(s.fetch.map((f) => f.object)).to.deep.equal([`wal/${seg(2)}`, `wal/${seg(3)}`, `wal/${seg(4)}`, `wal/${seg(5)}`, `wal/${seg(6)}.partial`]);
  });
  it("compares the start on the segment number only, so a later timeline's start finds the earlier timeline's files", () => {
    const s = selectLogObjects(objs, { prefix: "wal/", from: `00000002${seg(4).slice(8)}`, fromSkip: 8, until: new Date(at(31)), slackMs: 0 });
    expect(s.fetch.map((f) => f.file)).to.deep.equal([seg(4), seg(5)]);
  });
  it("says when the base backup's first segment is no longer archived, naming the oldest that is", () => {
    const s = selectLogObjects(objs.slice(2), { prefix: "wal/", from: seg(3), fromSkip: 8, until: new Date(at(35)), slackMs: 0 });
    expect(s.missingFrom).to.deep.equal({ oldest: seg(4) });
    expect(selectLogObjects(objs, { prefix: "wal/", from: seg(3), fromSkip: 8, until: new Date(at(35)), slackMs: 0 }).missingFrom).to.equal(undefined);
  });
  it("expires finished segments pushed before the retention limit, never the newest finished one or a partial", () => {
    expect(expiredLogObjects(objs, "wal/", new Date(at(25)))).to.deep.equal([`wal/${seg(2)}`, `wal/${seg(3)}`]);
    expect(expiredLogObjects(objs, "wal/", new Date(at(1000)))).to.deep.equal([`wal/${seg(2)}`, `wal/${seg(3)}`, `wal/${seg(4)}`]);
  });
});
