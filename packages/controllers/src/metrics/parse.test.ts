import { expect } from "chai";
import { durationSeconds, parseGoDuration, parseSize, timestampSeconds } from "./parse.ts";

describe("metrics: status strings", () => {
  it("reads RFC 3339 times as Unix seconds", () => {
    expect(timestampSeconds("2026-01-02T03:04:05Z")).to.equal(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
    expect(timestampSeconds("2026-01-02T03:04:05.5+01:00")).to.equal(Date.UTC(2026, 0, 2, 2, 4, 5, 500) / 1000);
    expect(timestampSeconds(undefined)).to.equal(undefined);
    expect(timestampSeconds("yesterday")).to.equal(undefined);
  });

  it("reads Go durations as the Backup controller writes them", () => {
    const cases: Array<[string, number | undefined]> = [
      ["0s", 0], ["0", 0], ["350ms", 0.35], ["1.5s", 1.5], ["2m3s", 123], ["1h2m0.5s", 3720.5], ["1h0m0s", 3600], ["10us", 1e-5], ["5ns", 5e-9],
      ["", undefined], ["1h2", undefined], ["s", undefined], ["1d", undefined], ["-1s", undefined], ["1h 2m", undefined],
    ];
    for (const [d, want] of cases) {
      const got = parseGoDuration(d);
      if (want === undefined) expect(got, d).to.equal(undefined);
      else expect(got, d).to.be.closeTo(want, 1e-12);
    }
  });

  it("reads sizes: binary quantities, du -h output and plain bytes", () => {
    const cases: Array<[string | number, number | undefined]> = [
      ["512", 512], [2048, 2048], ["100B", 100], ["1.5Ki", 1536], ["12Mi", 12 * 2 ** 20], ["3Gi", 3 * 2 ** 30], ["2Ti", 2 * 2 ** 40],
      ["4.2M", 4.2 * 2 ** 20], ["1G", 2 ** 30], ["512K", 512 * 1024], ["5k", 5 * 1024], ["3GiB", 3 * 2 ** 30], ["7 MB", 7 * 2 ** 20],
      ["", undefined], ["lots", undefined], ["1Xi", undefined], ["-1Mi", undefined], [Number.NaN, undefined], [-5, undefined],
    ];
    for (const [q, want] of cases) expect(parseSize(q), String(q)).to.equal(want);
  });

  it("takes the duration string first, else completion minus start", () => {
    expect(durationSeconds({ duration: "1m30s", startTimestamp: "2026-01-01T00:00:00Z", completionTimestamp: "2026-01-01T01:00:00Z" })).to.equal(90);
    expect(durationSeconds({ startTimestamp: "2026-01-01T00:00:00Z", completionTimestamp: "2026-01-01T00:02:00Z" })).to.equal(120);
    expect(durationSeconds({ startTimestamp: "2026-01-01T00:02:00Z", completionTimestamp: "2026-01-01T00:00:00Z" })).to.equal(undefined);
    expect(durationSeconds({ completionTimestamp: "2026-01-01T00:02:00Z" })).to.equal(undefined);
    expect(durationSeconds(undefined)).to.equal(undefined);
  });
});
