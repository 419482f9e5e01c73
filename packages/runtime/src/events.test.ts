import { PassThrough } from "node:stream";
import { expect } from "chai";
import { FakeClock } from "./clock.ts";
import { ApiError } from "./errors.ts";
import { EventRecorder, type CoreEvent, type EventSink } from "./events.ts";
import { createLogger } from "./logging.ts";
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

  it("close() aborts the write in flight, drops queued repeats with one log line, and drops Events until open()", async () => {
    const signals: AbortSignal[] = [];
    const created: string[] = [];
    // The first create hangs until its signal aborts (a request held by a slow API server).
    const hanging: EventSink = { create: (ev, signal) => {
      signals.push(signal!);
      if (signals.length > 1) return Promise.resolve(void created.push(ev.reason));
      return new Promise((_, reject) => signal!.addEventListener("abort", () => reject(signal!.reason)));
    }, update: async () => undefined };
    const lines: string[] = [];
    const stream = new PassThrough().on("data", (c: Buffer) => lines.push(c.toString()));
    const r = new EventRecorder(hanging, { component: "test", logger: createLogger({ stream, level: "debug" }), retryDelaysMs: [1] });
    r.normal(obj, "Writing", "a");
    r.normal(obj, "Writing", "a"); // a repeat waits for the write in flight
    r.close("leadership lost");
    expect(signals[0].aborted, "the write in flight is aborted at once").to.equal(true);
    await r.flush();
    expect(r.writing).to.equal(false);
    r.warning(obj, "Dropped", "while closed");
    await r.flush();
    expect(signals, "no write starts while closed").to.have.length(1);
    const logged = lines.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { message: string; dropped?: number; why?: string });
    const drops = logged.filter((l) => l.message === "dropping queued Events");
    expect(drops, "one line for the dropped Events").to.have.length(1);
    expect(drops[0]).to.include({ dropped: 2, why: "leadership lost" });
    expect(logged.some((l) => l.message === "could not write Event"), "an aborted write is not reported as a failure").to.equal(false);

    r.open();
    r.normal(obj, "Leading", "again");
    await r.flush();
    expect(created).to.deep.equal(["Leading"]);
    expect(signals[1].aborted, "a fresh signal after open()").to.equal(false);
  });
});
