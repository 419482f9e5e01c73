import { expect } from "chai";
import { gateVerdict, restoreGateName } from "./gate.ts";

describe("threescale restore gate: what the tool's resync does on reading it", () => {
  const name = restoreGateName("r-threescale");
  it("is named after the RestoreJob", () => {
    expect(name).to.equal("r-threescale-databases");
  });
  it("no gate: resync at once (nothing the APIManager runs is in the backup)", () => {
    expect(gateVerdict(name, false, undefined)).to.deep.equal({ verdict: "go" });
  });
  it("waiting: wait, naming the databases; restored: resync", () => {
    expect(gateVerdict(name, false, { state: "waiting", components: "zync-database" })).to.deep.equal({ verdict: "wait", components: "zync-database" });
    expect(gateVerdict(name, true, { state: "restored" })).to.deep.equal({ verdict: "go" });
  });
  it("failed, gone after it was seen, or an unknown state: stop without resyncing, saying why", () => {
    expect(gateVerdict(name, true, { state: "failed", message: "component zync-database: RestoreJob failed" })).to.deep.equal({ verdict: "fail", message: "component zync-database: RestoreJob failed" });
    expect(gateVerdict(name, true, undefined)).to.deep.include({ verdict: "fail" });
    expect((gateVerdict(name, true, undefined) as { message: string }).message).to.match(/went away while the routes resync waited/);
    expect((gateVerdict(name, false, { state: "open" }) as { message: string }).message).to.match(/holds state "open", not waiting, restored, failed/);
  });
});
