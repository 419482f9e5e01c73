import { expect } from "chai";
import { findCondition, isConditionTrue, removeCondition, rfc3339, setCondition, type StatusCondition } from "./conditions.ts";

const T0 = new Date("2026-01-02T03:04:05.678Z");
const T1 = new Date("2026-01-02T03:09:00.123Z");
const ready = (status: "True" | "False", reason = "R", message = "m"): Omit<StatusCondition, "lastTransitionTime"> => ({ type: "Ready", status, reason, message });

describe("setCondition", () => {
  it("adds a condition with the time in RFC 3339 seconds", () => {
    expect(setCondition([], ready("True"), T0)).to.deep.equal([{ type: "Ready", status: "True", reason: "R", message: "m", lastTransitionTime: "2026-01-02T03:04:05Z" }]);
    expect(rfc3339(T1)).to.equal("2026-01-02T03:09:00Z");
  });

  it("keeps lastTransitionTime when only the reason, message or generation change", () => {
    const a = setCondition([], ready("True"), T0);
    const b = setCondition(a, { ...ready("True", "Other", "new words"), observedGeneration: 3 }, T1);
    expect(b[0]).to.deep.equal({ type: "Ready", status: "True", reason: "Other", message: "new words", observedGeneration: 3, lastTransitionTime: "2026-01-02T03:04:05Z" });
  });

  it("moves lastTransitionTime when the status changes, and keeps the other conditions and their order", () => {
    const list = setCondition(setCondition([], ready("True"), T0), { type: "Valid", status: "True", reason: "V", message: "" }, T0);
    const next = setCondition(list, ready("False"), T1);
    expect(next.map((c) => c.type)).to.deep.equal(["Ready", "Valid"]);
    expect(findCondition(next, "Ready")?.lastTransitionTime).to.equal("2026-01-02T03:09:00Z");
    expect(findCondition(next, "Valid")?.lastTransitionTime).to.equal("2026-01-02T03:04:05Z");
    expect(isConditionTrue(next, "Ready")).to.equal(false);
    expect(isConditionTrue(next, "Valid")).to.equal(true);
    expect(removeCondition(next, "Ready").map((c) => c.type)).to.deep.equal(["Valid"]);
  });

  it("bounds the message and never mutates the list it was given", () => {
    const list = setCondition([], ready("True"), T0);
    const frozen = JSON.stringify(list);
    const next = setCondition(list, ready("True", "R", "x".repeat(5000)), T1);
    expect(next[0]!.message).to.have.length(1024);
    expect(JSON.stringify(list)).to.equal(frozen);
  });
});
