import { expect } from "chai";
import { FakeClock } from "./clock.ts";
import { WorkQueue } from "./workqueue.ts";

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("WorkQueue", () => {
  it("hands out a key added many times only once", async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 10; i++) q.add("a");
    q.add("b");
    expect(q.length).to.equal(2);
    expect(await q.get()).to.equal("a");
    expect(await q.get()).to.equal("b");
  });

  it("never hands a key to a second worker while the first holds it, and requeues it after done", async () => {
    const q = new WorkQueue();
    q.add("a");
    const k = await q.get();
    q.add("a");
    expect(q.length).to.equal(0, "a key in processing waits for done()");
    let second: string | undefined;
    void q.get().then((x) => (second = x));
    await tick();
    expect(second).to.equal(undefined);
    q.done(k!);
    await tick();
    expect(second).to.equal("a");
  });

  it("delays requeueAfter on the injected clock and keeps the earliest pending time", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter("a", 1000);
    q.addAfter("a", 5000);
    q.addAfter("a", 500);
    expect(clock.pending).to.equal(1);
    clock.advance(499);
    expect(q.length).to.equal(0);
    clock.advance(1);
    expect(q.length).to.equal(1);
  });

  it("backs off per key exponentially up to the cap, and forget resets it", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, backoff: { baseMs: 10, capMs: 50, jitter: 0 } });
    const due: number[] = [];
    for (let i = 0; i < 5; i++) {
      q.addRateLimited("a");
      const t0 = clock.now();
      while (q.length === 0 && clock.now() - t0 < 1000) clock.advance(1);
      due.push(clock.now() - t0);
      q.done((await q.get())!);
    }
    expect(due).to.deep.equal([10, 20, 40, 50, 50]);
    expect(q.retries("a")).to.equal(5);
    q.forget("a");
    expect(q.retries("a")).to.equal(0);
  });

  it("retries errors on the retry clock while requeueAfter follows the injected one", async () => {
    const clock = new FakeClock();
    const retryClock = new FakeClock();
    const q = new WorkQueue({ clock, retryClock, backoff: { baseMs: 10, capMs: 50, jitter: 0 } });
    q.addRateLimited("a");
    clock.advance(60_000);
    expect(q.length).to.equal(0, "moving the schedule's clock does not fire a retry");
    retryClock.advance(10);
    expect(q.length).to.equal(1);
    q.done((await q.get())!);
    q.addAfter("b", 500);
    retryClock.advance(60_000);
    expect(q.length).to.equal(0, "moving the retry clock does not fire a requeueAfter");
    clock.advance(500);
    expect(q.length).to.equal(1);
    q.addRateLimited("c");
    await q.shutdown();
    expect(retryClock.pending).to.equal(0, "shutdown cancels pending retries");
  });

  it("drains on shutdown: no new keys, waits for in-flight ones", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    const k = await q.get();
    let drained = false;
    const p = q.shutdown().then(() => (drained = true));
    expect(await q.get()).to.equal(undefined, "no work after shutdown");
    q.add("c");
    expect(q.length).to.equal(0);
    await tick();
    expect(drained).to.equal(false);
    q.done(k!);
    await p;
    expect(drained).to.equal(true);
  });

  it("lets a burst of adds dedup before waking a waiting worker", async () => {
    const q = new WorkQueue();
    const got: string[] = [];
    const worker = (async () => {
      for (let k = await q.get(); k !== undefined; k = await q.get()) {
        got.push(k);
        q.done(k);
      }
    })();
    await tick();
    q.add("a");
    q.add("a");
    await tick();
    await q.shutdown();
    await worker;
    expect(got).to.deep.equal(["a"]);
  });

  it("wakes idle workers in order with distinct keys", async () => {
    const q = new WorkQueue();
    const got = [q.get(), q.get(), q.get()];
    q.add("x");
    q.add("y");
    q.add("x");
    q.add("z");
    expect(await Promise.all(got)).to.deep.equal(["x", "y", "z"]);
  });
});
