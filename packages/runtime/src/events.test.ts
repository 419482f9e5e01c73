import { expect } from "chai";
import { FakeClock } from "./clock.ts";
import { EventRecorder, type CoreEvent, type EventSink } from "./events.ts";
import type { KubeObject } from "./object.ts";

function memorySink(): EventSink & { created: CoreEvent[]; updates: Array<{ name: string; count: number }> } {
  const created: CoreEvent[] = [];
  const updates: Array<{ name: string; count: number }> = [];
  return {
    created,
    updates,
    create: async (ev) => void created.push(ev),
    update: async (_ns, name, count) => void updates.push({ name, count }),
  };
}

const obj: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace: "ns", uid: "u1" } };

describe("EventRecorder", () => {
  it("folds identical repeats into one Event whose count grows", async () => {
    const sink = memorySink();
    const r = new EventRecorder(sink, { component: "test", clock: new FakeClock() });
    for (let i = 0; i < 100; i++) r.warning(obj, "JobFailed", "job failed");
    await r.flush();
    expect(sink.created).to.have.length(1);
    const last = sink.updates.at(-1)?.count ?? sink.created[0].count;
    expect(last).to.equal(100);
    expect(sink.created.length + sink.updates.length).to.be.below(5, "a burst coalesces into few writes");
    expect(sink.created[0].involvedObject).to.include({ kind: "ConfigMap", name: "cm", namespace: "ns", uid: "u1" });
  });

  it("keeps different reasons or messages apart", async () => {
    const sink = memorySink();
    const r = new EventRecorder(sink, { component: "test" });
    r.normal(obj, "Created", "a");
    r.normal(obj, "Created", "b");
    r.warning(obj, "Failed", "a");
    await r.flush();
    expect(sink.created.map((e) => `${e.type}/${e.reason}/${e.message}`)).to.have.members(["Normal/Created/a", "Normal/Created/b", "Warning/Failed/a"]);
  });

  it("starts a new Event after the aggregation window", async () => {
    const sink = memorySink();
    const clock = new FakeClock();
    const r = new EventRecorder(sink, { component: "test", clock, windowMs: 1000 });
    r.normal(obj, "Synced", "ok");
    await r.flush();
    clock.advance(2000);
    r.normal(obj, "Synced", "ok");
    await r.flush();
    expect(sink.created).to.have.length(2);
  });
});
