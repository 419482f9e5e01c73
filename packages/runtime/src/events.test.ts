import { expect } from "chai";
import { FakeClock } from "./clock.ts";
import { ApiError } from "./errors.ts";
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

  it("retries a write the API server refused transiently (429, 5xx, no answer), then writes it once", async () => {
    const sink = memorySink();
    const failures = [new ApiError(429, "TooManyRequests", "slow down"), new ApiError(503, "ServiceUnavailable", "busy"), new Error("socket hang up")];
    const flaky: EventSink = { ...sink, create: async (ev) => {
      const f = failures.shift();
      if (f) throw f;
      return sink.create(ev);
    } };
    const r = new EventRecorder(flaky, { component: "test", retryDelaysMs: [1, 1, 1, 1] });
    r.normal(obj, "PreviousRunning", "skipped tick");
    await r.flush();
    expect(sink.created.map((e) => e.reason)).to.deep.equal(["PreviousRunning"]);
  });

  it("drops an Event the API server rejects for good (403) without retrying, and after the retries run out", async () => {
    let calls = 0;
    const refusing: EventSink = { create: async () => {
      calls++;
      throw new ApiError(403, "Forbidden", "namespace is being terminated");
    }, update: async () => undefined };
    const r = new EventRecorder(refusing, { component: "test", retryDelaysMs: [1, 1] });
    r.warning(obj, "Failed", "x");
    await r.flush();
    expect(calls).to.equal(1);

    let busy = 0;
    const alwaysBusy: EventSink = { create: async () => {
      busy++;
      throw new ApiError(503, "ServiceUnavailable", "busy");
    }, update: async () => undefined };
    const r2 = new EventRecorder(alwaysBusy, { component: "test", retryDelaysMs: [1, 1] });
    r2.warning(obj, "Failed", "x");
    await r2.flush();
    expect(busy).to.equal(3);
  });

  it("counts a create whose answer was lost but which landed (AlreadyExists on the retry) as written", async () => {
    const sink = memorySink();
    let first = true;
    const lossy: EventSink = { ...sink, create: async (ev) => {
      await sink.create(ev);
      if (first) {
        first = false;
        throw new Error("ECONNRESET");
      }
      throw new ApiError(409, "AlreadyExists", "exists");
    } };
    const r = new EventRecorder(lossy, { component: "test", retryDelaysMs: [1], clock: new FakeClock() });
    r.normal(obj, "Synced", "ok");
    await r.flush();
    r.normal(obj, "Synced", "ok");
    await r.flush();
    expect(sink.updates.map((u) => u.count)).to.deep.equal([2]);
  });
});
